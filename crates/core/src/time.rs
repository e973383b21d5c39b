//! Lengths of event time. Event times ([`Timestamp`](crate::Timestamp)) and durations are
//! milliseconds; these are the lengths the windows, the policy's hours and the reports use.

/// A second, in ms.
pub const SECOND: u64 = 1_000;
/// A minute, in ms.
pub const MINUTE: u64 = 60 * SECOND;
/// An hour, in ms.
pub const HOUR: u64 = 60 * MINUTE;
/// A day, in ms.
pub const DAY: u64 = 24 * HOUR;
/// A week, in ms.
pub const WEEK: u64 = 7 * DAY;
