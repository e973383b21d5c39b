//! Event time: instants ([`Timestamp`]) and lengths of time ([`Millis`]), both whole milliseconds,
//! and the lengths the windows, the policy's hours and the reports use.
//!
//! Both are a `u64` underneath and are written exactly as one: a bare number in JSON, the number's
//! own encoding in bincode. The two types exist so that an instant and a length cannot be mixed up:
//! a time plus a length is a time, the distance between two times is a length, and two times do
//! not add.

use std::fmt;
use std::ops::{Add, AddAssign, Div, Mul, Rem, Sub, SubAssign};

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

/// An instant of event time: milliseconds since the Unix epoch.
///
/// Event time is the only clock the core reads. The epoch itself, [`Timestamp::EPOCH`], lies
/// before any time a log may hold ([`MIN_TS`](crate::event::MIN_TS)), so state uses it for
/// "never".
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Encode,
    Decode,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

/// A length of event time, in milliseconds: a window's span, a policy's hours, the time since an
/// event.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Encode,
    Decode,
)]
#[serde(transparent)]
pub struct Millis(u64);

/// A second.
pub const SECOND: Millis = Millis(1_000);
/// A minute.
pub const MINUTE: Millis = Millis(60 * SECOND.0);
/// An hour.
pub const HOUR: Millis = Millis(60 * MINUTE.0);
/// A day.
pub const DAY: Millis = Millis(24 * HOUR.0);
/// A week.
pub const WEEK: Millis = Millis(7 * DAY.0);

impl Timestamp {
    /// The Unix epoch: earlier than any event, and "never" where state remembers a latest time.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// The instant `ms` milliseconds after the epoch.
    #[inline]
    pub const fn from_millis(ms: u64) -> Timestamp {
        Timestamp(ms)
    }

    /// Milliseconds since the epoch.
    #[inline]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The time since the epoch, as a length: `since_epoch() / DAY` is the day number.
    #[inline]
    pub const fn since_epoch(self) -> Millis {
        Millis(self.0)
    }

    /// The length from `earlier` to `self`, or zero if `earlier` is not earlier.
    #[inline]
    pub const fn saturating_since(self, earlier: Timestamp) -> Millis {
        Millis(self.0.saturating_sub(earlier.0))
    }

    /// The length from `earlier` to `self`, or `None` if `earlier` is later.
    #[inline]
    pub const fn checked_since(self, earlier: Timestamp) -> Option<Millis> {
        match self.0.checked_sub(earlier.0) {
            Some(d) => Some(Millis(d)),
            None => None,
        }
    }

    /// The time `d` before this one, or the epoch if that is before the epoch.
    #[inline]
    pub const fn saturating_sub(self, d: Millis) -> Timestamp {
        Timestamp(self.0.saturating_sub(d.0))
    }

    /// The start of the `unit`-long period, counted from the epoch, that holds this time (the
    /// hour of it for [`HOUR`]).
    #[inline]
    pub const fn floor(self, unit: Millis) -> Timestamp {
        Timestamp(self.0 - self.0 % unit.0)
    }
}

impl Millis {
    /// No time at all.
    pub const ZERO: Millis = Millis(0);

    /// A length of `ms` milliseconds.
    #[inline]
    pub const fn from_millis(ms: u64) -> Millis {
        Millis(ms)
    }

    /// A length of `n` minutes, for constants (the operators are not `const`).
    #[inline]
    pub const fn from_minutes(n: u64) -> Millis {
        Millis(n * MINUTE.0)
    }

    /// A length of `n` hours, for constants (the operators are not `const`).
    #[inline]
    pub const fn from_hours(n: u64) -> Millis {
        Millis(n * HOUR.0)
    }

    /// The length in milliseconds.
    #[inline]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self - other`, or zero if `other` is longer.
    #[inline]
    pub const fn saturating_sub(self, other: Millis) -> Millis {
        Millis(self.0.saturating_sub(other.0))
    }
}

/// Written as the number of milliseconds since the epoch.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Add<Millis> for Timestamp {
    type Output = Timestamp;
    #[inline]
    fn add(self, d: Millis) -> Timestamp {
        Timestamp(self.0 + d.0)
    }
}

impl AddAssign<Millis> for Timestamp {
    #[inline]
    fn add_assign(&mut self, d: Millis) {
        self.0 += d.0;
    }
}

impl Sub<Millis> for Timestamp {
    type Output = Timestamp;
    #[inline]
    fn sub(self, d: Millis) -> Timestamp {
        Timestamp(self.0 - d.0)
    }
}

impl SubAssign<Millis> for Timestamp {
    #[inline]
    fn sub_assign(&mut self, d: Millis) {
        self.0 -= d.0;
    }
}

impl Add for Millis {
    type Output = Millis;
    #[inline]
    fn add(self, other: Millis) -> Millis {
        Millis(self.0 + other.0)
    }
}

impl AddAssign for Millis {
    #[inline]
    fn add_assign(&mut self, other: Millis) {
        self.0 += other.0;
    }
}

impl Sub for Millis {
    type Output = Millis;
    #[inline]
    fn sub(self, other: Millis) -> Millis {
        Millis(self.0 - other.0)
    }
}

impl SubAssign for Millis {
    #[inline]
    fn sub_assign(&mut self, other: Millis) {
        self.0 -= other.0;
    }
}

impl Mul<u64> for Millis {
    type Output = Millis;
    #[inline]
    fn mul(self, n: u64) -> Millis {
        Millis(self.0 * n)
    }
}

impl Mul<Millis> for u64 {
    type Output = Millis;
    #[inline]
    fn mul(self, d: Millis) -> Millis {
        Millis(self * d.0)
    }
}

impl Div<u64> for Millis {
    type Output = Millis;
    #[inline]
    fn div(self, n: u64) -> Millis {
        Millis(self.0 / n)
    }
}

/// How many whole `unit`s fit in the length.
impl Div for Millis {
    type Output = u64;
    #[inline]
    fn div(self, unit: Millis) -> u64 {
        self.0 / unit.0
    }
}

/// What is left of the length past its last whole `unit`.
impl Rem for Millis {
    type Output = Millis;
    #[inline]
    fn rem(self, unit: Millis) -> Millis {
        Millis(self.0 % unit.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of `v` and of `raw` under bincode configuration `c` are the same.
    fn same_bytes<C: bincode::config::Config, T: Encode>(c: C, v: T, raw: u64) {
        let bytes = bincode::encode_to_vec(v, c).unwrap();
        assert_eq!(bytes, bincode::encode_to_vec(raw, c).unwrap());
    }

    #[test]
    fn written_as_the_bare_number() {
        let t = Timestamp::from_millis(1_764_000_000_000);
        let d = 3 * HOUR;
        assert_eq!(serde_json::to_string(&t).unwrap(), "1764000000000");
        assert_eq!(serde_json::to_string(&d).unwrap(), "10800000");
        assert_eq!(
            serde_json::from_str::<Timestamp>("1764000000000").unwrap(),
            t
        );
        assert_eq!(serde_json::from_str::<Millis>("10800000").unwrap(), d);
        same_bytes(bincode::config::standard(), t, t.as_millis());
        same_bytes(bincode::config::standard(), d, d.as_millis());
        same_bytes(bincode::config::legacy(), t, t.as_millis());
        same_bytes(bincode::config::legacy(), d, d.as_millis());
        let config = bincode::config::standard();
        let (back, _): (Timestamp, usize) = bincode::decode_from_slice(
            &bincode::encode_to_vec(t.as_millis(), config).unwrap(),
            config,
        )
        .unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn instants_and_lengths() {
        let t = Timestamp::from_millis(1_793_577_600_000);
        assert_eq!((t + DAY).saturating_since(t), DAY);
        assert_eq!(t.saturating_since(t + DAY), Millis::ZERO);
        assert_eq!(t.checked_since(t + SECOND), None);
        assert_eq!((t + MINUTE).checked_since(t), Some(MINUTE));
        assert_eq!(t + HOUR - HOUR, t);
        assert_eq!(Timestamp::EPOCH.saturating_sub(DAY), Timestamp::EPOCH);
        assert_eq!((t + 90 * MINUTE).floor(HOUR), t + HOUR);
        assert_eq!(t.since_epoch() / DAY, 20_759);
        assert_eq!((t + 5 * HOUR).since_epoch() % DAY, 5 * HOUR);
        assert_eq!(WEEK / 7, DAY);
        assert_eq!(Millis::from_hours(24), DAY);
        assert_eq!(Millis::from_minutes(90), 3 * HOUR / 2);
        assert_eq!(t.to_string(), "1793577600000");
    }
}
