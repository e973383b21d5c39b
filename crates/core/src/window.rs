//! Rolling windows over event time, in a fixed number of buckets.
//!
//! Every window here is a ring of [`BUCKETS`] buckets, each `span / BUCKETS` wide, whose newest
//! bucket holds "now" (the latest event time the owner has seen). A window therefore covers the
//! current bucket and the 59 before it: between 59/60 and all of its nominal span, never more. That
//! is the precise meaning of "the last hour" or "the last 7 days" throughout spamward, and the edge
//! tests hold it to that. Memory is fixed per window whatever the traffic.
//!
//! Events that arrive out of order land in their own bucket as long as it is still in the ring;
//! older ones are counted in the oldest bucket still held, so nothing is dropped silently.

use std::ops::{AddAssign, SubAssign};

use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::time::{DAY, HOUR, MINUTE, Millis, Timestamp, WEEK};

/// Buckets per window.
pub const BUCKETS: usize = 60;

/// The window lengths spamward knows.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
pub enum Span {
    /// One minute (1 s buckets).
    #[serde(rename = "1m")]
    Minute,
    /// One hour (1 min buckets).
    #[serde(rename = "1h")]
    Hour,
    /// 24 hours (24 min buckets).
    #[serde(rename = "24h")]
    Day,
    /// 7 days (168 min buckets).
    #[serde(rename = "7d")]
    Week,
}

impl Span {
    /// Nominal length.
    pub const fn millis(self) -> Millis {
        match self {
            Span::Minute => MINUTE,
            Span::Hour => HOUR,
            Span::Day => DAY,
            Span::Week => WEEK,
        }
    }

    /// Width of one bucket.
    pub const fn bucket_millis(self) -> Millis {
        Millis::from_millis(self.millis().as_millis() / BUCKETS as u64)
    }

    /// The name used in reasons and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Span::Minute => "1m",
            Span::Hour => "1h",
            Span::Day => "24h",
            Span::Week => "7d",
        }
    }
}

/// A ring of buckets of `T` covering one [`Span`], with their running total.
///
/// The total is what [`Ring::sum`] returns: kept as buckets are added to and cleared, instead of
/// adding up all 60 buckets each time (several sums per message, and the day and week windows'
/// buckets are 48 bytes each: the engine's reading of its windows touched every bucket of them).
/// Buckets change only through [`Ring::add`], [`Ring::advance`] and [`Ring::move_key`], which
/// keep the total equal to the buckets' sum; it is not part of the encoding (see the `Encode`
/// impl), so snapshots are as before.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    span: Span,
    /// Absolute index (time since the epoch / width) of the newest bucket; 0 before the first
    /// event.
    head: u64,
    slots: Vec<T>,
    /// The sum of `slots`.
    total: T,
}

/// What a ring's buckets may hold: counters that add and subtract exactly.
pub trait Counter: Copy + Default + AddAssign + SubAssign + PartialEq + std::fmt::Debug {
    /// `self + other`, or `None` where a count would overflow.
    fn checked_add(self, other: Self) -> Option<Self>;
}

impl Counter for u32 {
    fn checked_add(self, other: u32) -> Option<u32> {
        u32::checked_add(self, other)
    }
}

/// The sum of some buckets, `None` if it overflows (only a damaged or forged snapshot holds such
/// buckets: the engine's own counts stay far below).
fn sum_of<T: Counter>(slots: &[T]) -> Option<T> {
    slots
        .iter()
        .try_fold(T::default(), |total, s| total.checked_add(*s))
}

/// Where the bucket of absolute index `idx` lies in a ring.
fn at(idx: u64) -> usize {
    (idx % BUCKETS as u64) as usize
}

impl<T: Counter> Ring<T> {
    /// An empty ring.
    pub fn new(span: Span) -> Self {
        Ring {
            span,
            head: 0,
            slots: vec![T::default(); BUCKETS],
            total: T::default(),
        }
    }

    /// The span this ring covers.
    pub fn span(&self) -> Span {
        self.span
    }

    fn index(&self, ts: Timestamp) -> u64 {
        // One constant divisor an arm, which compiles to a multiplication: a division by the
        // span's width looked up at run time was a hardware divide, several a message.
        match self.span {
            Span::Minute => ts.since_epoch() / Span::Minute.bucket_millis(),
            Span::Hour => ts.since_epoch() / Span::Hour.bucket_millis(),
            Span::Day => ts.since_epoch() / Span::Day.bucket_millis(),
            Span::Week => ts.since_epoch() / Span::Week.bucket_millis(),
        }
    }

    /// Moves "now" forward to `ts`, clearing the buckets that fall out. Never moves backwards.
    pub fn advance(&mut self, ts: Timestamp) {
        let idx = self.index(ts);
        if idx <= self.head {
            return;
        }
        let gap = idx - self.head;
        if gap >= BUCKETS as u64 || self.head == 0 {
            self.slots.iter_mut().for_each(|s| *s = T::default());
            self.total = T::default();
        } else {
            for i in self.head + 1..=idx {
                let slot = &mut self.slots[at(i)];
                self.total -= *slot;
                *slot = T::default();
            }
        }
        self.head = idx;
        self.check_total();
    }

    /// Whether an event at `ts` still falls inside the window (after [`Ring::advance`]).
    pub fn covers(&self, ts: Timestamp) -> bool {
        self.covered(ts).is_some()
    }

    /// Where the bucket of `ts` lies, if it is still inside the window.
    fn covered(&self, ts: Timestamp) -> Option<usize> {
        let idx = self.index(ts);
        (idx <= self.head && self.head - idx < BUCKETS as u64).then(|| at(idx))
    }

    /// Adds `count` to the bucket for `ts`: its own if still held, else the oldest one held (late
    /// events are counted, never dropped). Call [`Ring::advance`] first.
    pub fn add(&mut self, ts: Timestamp, count: T) {
        let idx = self
            .index(ts)
            .clamp(self.head.saturating_sub(BUCKETS as u64 - 1), self.head);
        self.slots[at(idx)] += count;
        self.total += count;
        self.check_total();
    }

    /// The total over the window.
    pub fn sum(&self) -> T {
        self.total
    }

    /// In this crate's tests, that the running total is the buckets' sum.
    fn check_total(&self) {
        #[cfg(test)]
        assert_eq!(
            sum_of(&self.slots),
            Some(self.total),
            "a window's running total drifted"
        );
    }
}

impl Ring<u32> {
    /// Keeps a distinct count: the key whose latest time was `old` ([`Timestamp::EPOCH`] = never
    /// seen) is now last
    /// seen at `new`. The sum over the window is then the number of keys last seen inside it.
    /// (A key last seen before the window, counted late into its oldest bucket, may be counted
    /// twice until that bucket leaves; it never goes negative.)
    pub fn move_key(&mut self, old: Timestamp, new: Timestamp) {
        if old == new {
            return;
        }
        if old != Timestamp::EPOCH
            && let Some(at) = self.covered(old)
        {
            let slot = &mut self.slots[at];
            if *slot > 0 {
                *slot -= 1;
                self.total -= 1;
            }
        }
        self.add(new, 1);
    }
}

/// Encoded as the buckets alone, as before the running total: span, head, buckets.
impl<T: Encode> Encode for Ring<T> {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.span.encode(encoder)?;
        self.head.encode(encoder)?;
        self.slots.encode(encoder)
    }
}

/// Decoded from the buckets, the total added up again; a ring of another length than
/// [`BUCKETS`] is refused.
impl<Ctx, T: Counter + Decode<Ctx>> Decode<Ctx> for Ring<T> {
    fn decode<D: Decoder<Context = Ctx>>(decoder: &mut D) -> Result<Self, DecodeError> {
        let span = Span::decode(decoder)?;
        let head = u64::decode(decoder)?;
        let slots = Vec::<T>::decode(decoder)?;
        if slots.len() != BUCKETS {
            return Err(DecodeError::OtherString(format!(
                "a window has {} buckets, not {BUCKETS}",
                slots.len()
            )));
        }
        let total = sum_of(&slots).ok_or_else(|| {
            DecodeError::OtherString("a window's buckets add up past their counters".into())
        })?;
        Ok(Ring {
            span,
            head,
            total,
            slots,
        })
    }
}

impl<'de, Ctx, T: Counter + Decode<Ctx>> BorrowDecode<'de, Ctx> for Ring<T> {
    fn borrow_decode<D: BorrowDecoder<'de, Context = Ctx>>(
        decoder: &mut D,
    ) -> Result<Self, DecodeError> {
        Self::decode(decoder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SECOND;

    const T0: Timestamp = Timestamp::from_millis(1_793_577_600_000);

    #[test]
    fn counts_expire_at_the_bucket_edge() {
        let mut r: Ring<u32> = Ring::new(Span::Hour);
        r.advance(T0);
        r.add(T0, 1);
        // 59 buckets later the event is still inside the window ...
        let edge = T0 + 59 * Span::Hour.bucket_millis();
        r.advance(edge);
        assert_eq!(r.sum(), 1);
        assert!(r.covers(T0));
        // ... one bucket more and it has left.
        r.advance(edge + Span::Hour.bucket_millis());
        assert_eq!(r.sum(), 0);
        assert!(!r.covers(T0));
    }

    #[test]
    fn a_key_moved_from_an_empty_bucket_takes_nothing_from_it() {
        let mut r: Ring<u32> = Ring::new(Span::Hour);
        r.advance(T0 + 10 * Span::Hour.bucket_millis());
        let b = Span::Hour.bucket_millis();
        r.move_key(Timestamp::EPOCH, T0);
        r.move_key(T0, T0 + b);
        assert_eq!(r.sum(), 1);
        // The key's earlier time again (a late count left it elsewhere): its bucket is empty now.
        r.move_key(T0, T0 + 2 * b);
        assert_eq!(
            r.sum(),
            2,
            "counted twice until the bucket leaves, never below zero"
        );
    }

    #[test]
    fn late_events_land_in_their_bucket_or_the_oldest() {
        let mut r: Ring<u32> = Ring::new(Span::Minute);
        r.advance(T0 + 30 * SECOND);
        r.add(T0 + 10 * SECOND, 1); // 20 s late: its own bucket
        r.add(T0 - 10 * MINUTE, 1); // 10 min late: the oldest bucket
        assert_eq!(r.sum(), 2);
        r.advance(T0 + 30 * SECOND + 31 * SECOND);
        // The oldest bucket (T0 - 29 s) has left; the 20-s-late one (T0 + 10 s) has not.
        assert_eq!(r.sum(), 1);
    }

    #[test]
    fn long_gaps_clear_everything() {
        let mut r: Ring<u32> = Ring::new(Span::Day);
        r.advance(T0);
        r.add(T0, 5);
        r.advance(T0 + 3 * Span::Day.millis());
        assert_eq!(r.sum(), 0);
        r.advance(T0); // never backwards
        assert_eq!(r.sum(), 0);
    }

    #[test]
    fn encoded_as_the_buckets_alone_and_decoded_with_their_total() {
        let mut r: Ring<u32> = Ring::new(Span::Hour);
        r.advance(T0);
        r.add(T0, 3);
        r.add(T0 - 2 * MINUTE, 2);
        let config = bincode::config::standard();
        let bytes = bincode::encode_to_vec(&r, config).unwrap();
        // The format snapshots and checkpoints have always had: span, head, the buckets.
        let fields = (r.span, r.head, r.slots.clone());
        assert_eq!(bytes, bincode::encode_to_vec(&fields, config).unwrap());
        let (back, _): (Ring<u32>, usize) = bincode::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(back.sum(), 5);
        assert_eq!(back.slots, r.slots);

        let short = bincode::encode_to_vec((r.span, r.head, vec![1u32; 59]), config).unwrap();
        let err = bincode::decode_from_slice::<Ring<u32>, _>(&short, config).unwrap_err();
        assert!(err.to_string().contains("59 buckets"), "{err}");

        // Buckets whose total a counter cannot hold (a forged snapshot): refused, not a panic
        // or a wrapped total.
        let mut slots = vec![0u32; BUCKETS];
        (slots[0], slots[7]) = (u32::MAX, 1);
        let forged = bincode::encode_to_vec((r.span, r.head, slots), config).unwrap();
        let err = bincode::decode_from_slice::<Ring<u32>, _>(&forged, config).unwrap_err();
        assert!(err.to_string().contains("add up past"), "{err}");
        slots = vec![0u32; BUCKETS];
        slots[0] = u32::MAX;
        let full = bincode::encode_to_vec((r.span, r.head, slots), config).unwrap();
        let (back, _): (Ring<u32>, usize) = bincode::decode_from_slice(&full, config).unwrap();
        assert_eq!(back.sum(), u32::MAX);
    }

    #[test]
    fn distinct_counts_follow_the_latest_time() {
        let mut r: Ring<u32> = Ring::new(Span::Hour);
        r.advance(T0);
        r.move_key(Timestamp::EPOCH, T0); // key a first seen
        r.move_key(Timestamp::EPOCH, T0); // key b first seen
        assert_eq!(r.sum(), 2);
        let later = T0 + 30 * MINUTE;
        r.advance(later);
        r.move_key(T0, later); // a again: still one key
        assert_eq!(r.sum(), 2);
        r.advance(T0 + HOUR + MINUTE); // b's bucket leaves, a's stays
        assert_eq!(r.sum(), 1);
        // A key last seen outside the window comes back: counted once, nothing goes negative.
        r.move_key(T0, T0 + HOUR + MINUTE);
        assert_eq!(r.sum(), 2);
    }
}

/// Windows against a brute-force recount on random sequences, late events within tolerance
/// included.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    const T0: Timestamp = Timestamp::from_millis(1_793_577_600_000);
    /// How late an event may be and still be exact: well inside the ring.
    const TOLERANCE_BUCKETS: u64 = 40;

    /// Steps: (advance of the clock in ms, lateness of the event in ms, key).
    fn steps(span: Span) -> impl Strategy<Value = Vec<(u64, u64, u8)>> {
        let w = span.bucket_millis().as_millis();
        prop::collection::vec((0..3 * w, 0..TOLERANCE_BUCKETS * w, 0u8..20), 1..300)
    }

    fn check(span: Span, steps: &[(u64, u64, u8)]) -> Result<(), TestCaseError> {
        let w = span.bucket_millis();
        let mut counts: Ring<u32> = Ring::new(span);
        let mut distinct: Ring<u32> = Ring::new(span);
        let mut now = T0;
        let mut seen: Vec<Timestamp> = Vec::new();
        let mut last: std::collections::HashMap<u8, Timestamp> = Default::default();
        for &(advance, late, key) in steps {
            now += Millis::from_millis(advance);
            let ts = now.saturating_sub(Millis::from_millis(late)).max(T0);
            counts.advance(now);
            distinct.advance(now);
            counts.add(ts, 1);
            let old = last.get(&key).copied().unwrap_or(Timestamp::EPOCH);
            let new = old.max(ts);
            distinct.move_key(old, new);
            last.insert(key, new);
            seen.push(ts);
            // Brute force: an event is in the window when its bucket is one of the 60 ending
            // with now's.
            let head = now.since_epoch() / w;
            let inside = |t: Timestamp| t.since_epoch() / w + (BUCKETS as u64) > head;
            let want = seen.iter().filter(|&&t| inside(t)).count() as u32;
            prop_assert_eq!(counts.sum(), want);
            let keys = last.values().filter(|&&t| inside(t)).count() as u32;
            prop_assert_eq!(distinct.sum(), keys);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn minute_windows_equal_a_recount(s in steps(Span::Minute)) { check(Span::Minute, &s)?; }

        #[test]
        fn day_windows_equal_a_recount(s in steps(Span::Day)) { check(Span::Day, &s)?; }
    }
}
