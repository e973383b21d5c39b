//! The state that crosses businesses: how much marketing each recipient got from everybody in
//! the last 24 h (recipient fatigue), and which businesses sent a near-identical text in the last
//! 24 h (the campaign index).
//!
//! Every driver keeps this state somewhere of its own — the batch engine in a [`CrossState`], the
//! streaming filter in concurrent maps, a Kafka member in a view that also folds in its peers'
//! counts — but all of them count through the one [`CrossStore`] trait, build a message's context
//! with the one [`context`], and forget by the one rule of [`Sweep`]: once per day of event time,
//! whatever has nothing newer than the clock less 24 h less the allowed lateness.

use std::collections::VecDeque;

use bincode::{Decode, Encode};
use rustc_hash::FxHashMap;

use crate::business::{MessageContext, recipient_key};
use crate::content::{Campaigns, ContentFacts};
use crate::event::{Category, Message, Timestamp};
use crate::policy::Policy;
use crate::time::{DAY, Millis};

/// The most recent marketing sends to one recipient, from all businesses: at most `cap + 1` kept,
/// which is all the cap needs to know.
#[derive(Clone, Debug, Default, Encode, Decode)]
pub struct RecipientLoad {
    times: VecDeque<Timestamp>,
}

impl RecipientLoad {
    /// Records a marketing message at `ts` and returns how many the recipient got in
    /// `(ts - 24 h, ts]`, this one included, counted up to `cap + 1`.
    pub fn record(&mut self, ts: Timestamp, cap: u64) -> u64 {
        let keep = cap.saturating_add(1).min(1 << 16) as usize;
        let pos = self.times.partition_point(|&t| t <= ts);
        self.times.insert(pos, ts);
        // Counted before the oldest sends are forgotten: a send older than the `keep` newest
        // (event time out of order, e.g. a partition behind the others) still counts itself
        // and what it sees before it. In time order this is the count after forgetting.
        let n = self.count(ts).min(keep as u64);
        while self.times.len() > keep {
            self.times.pop_front();
        }
        n
    }

    /// How many sends it remembers in `(ts - 24 h, ts]`, recording nothing: for a send already
    /// recorded (a message scored again), the count [`RecipientLoad::record`] returned for it.
    pub fn count(&self, ts: Timestamp) -> u64 {
        let from = ts.saturating_sub(DAY);
        self.times.iter().filter(|&&t| t > from && t <= ts).count() as u64
    }

    /// Latest marketing send remembered.
    pub fn latest(&self) -> Option<Timestamp> {
        self.times.back().copied()
    }
}

/// Where the cross-business counts live. Each method records one message and returns the count
/// its signal reads.
pub trait CrossStore {
    /// Records a marketing message to `recipient` (its [`recipient_key`]) at `ts`; returns how
    /// many the recipient got in `(ts - 24 h, ts]`, this one included, up to `cap + 1`.
    fn fatigue(&mut self, recipient: u64, ts: Timestamp, cap: u64) -> u64;
    /// Records a message of `business` (its key) with fingerprint `simhash` at `ts`; returns how
    /// many distinct businesses, this one included, sent a near-identical text in
    /// `(ts - 24 h, ts]`.
    fn campaign(&mut self, simhash: u64, business: u64, ts: Timestamp) -> u32;
}

/// The cross-business context of one message, counting it in `store`: the recipient's marketing
/// for a marketing message, the campaign count for a fingerprinted text in a watched category.
/// Every driver calls this in the order messages reach it.
pub fn context(
    store: &mut impl CrossStore,
    m: &Message,
    content: Option<&ContentFacts>,
    policy: &Policy,
) -> MessageContext {
    let mut ctx = MessageContext::default();
    if m.category == Category::Marketing {
        let cap = policy.signals.recipient_fatigue_24h.cap;
        ctx.recipient_marketing_24h = store.fatigue(recipient_key(&m.recipient), m.ts, cap);
    }
    if let Some(fp) = content.and_then(|c| c.fingerprint)
        && policy.signals.campaign_24h.categories.contains(&m.category)
    {
        ctx.campaign_businesses = store.campaign(fp, business_key(&m.business), m.ts);
    }
    ctx
}

/// The stable 64-bit key of a business id, as the campaign index keeps it.
pub fn business_key(id: &str) -> u64 {
    crate::corpus::fnv1a64(id.as_bytes())
}

/// When a cross-business store forgets: the one rule every store follows. The clock is the
/// latest event time seen; once it has moved a day of event time past the last sweep, entries
/// with nothing newer than the horizon (`clock - 24 h - lateness`) are dropped. The signals look
/// back 24 h, so in time order this never changes a count; `lateness` keeps entries longer for a
/// message that far behind the clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// How far behind the clock a message may be and still see every send of its last 24 h.
    pub lateness: Millis,
}

impl Sweep {
    /// Whether a sweep is due at `clock`, the last having run at `last`.
    pub fn due(&self, clock: Timestamp, last: Timestamp) -> bool {
        clock.saturating_since(last) >= DAY
    }

    /// What a sweep at `clock` forgets: entries whose latest time is at or before this.
    pub fn horizon(&self, clock: Timestamp) -> Timestamp {
        clock.saturating_sub(DAY).saturating_sub(self.lateness)
    }
}

/// The cross-business state in one place, for one thread: the batch engine's, and the core of a
/// Kafka member's view.
#[derive(Clone, Debug, Default)]
pub struct CrossState {
    fatigue: FxHashMap<u64, RecipientLoad>,
    campaigns: Campaigns,
    clock: Timestamp,
    last_sweep: Timestamp,
    sweep: Sweep,
}

impl CrossState {
    /// An empty state that forgets by `sweep`.
    pub fn new(sweep: Sweep) -> CrossState {
        CrossState {
            sweep,
            ..CrossState::default()
        }
    }

    /// Moves the clock to `ts` if later and sweeps when due; returns the sweep's horizon if one
    /// ran, so a caller keeping more (a Kafka member's counted messages) forgets by it too.
    pub fn tick(&mut self, ts: Timestamp) -> Option<Timestamp> {
        self.clock = self.clock.max(ts);
        if !self.sweep.due(self.clock, self.last_sweep) {
            return None;
        }
        let horizon = self.sweep.horizon(self.clock);
        self.fatigue
            .retain(|_, l| l.latest().is_some_and(|t| t > horizon));
        self.campaigns.sweep(horizon);
        self.last_sweep = self.clock;
        Some(horizon)
    }

    /// The latest event time seen.
    pub fn clock(&self) -> Timestamp {
        self.clock
    }

    /// What the last sweep forgot, or would forget now: entries at or before this are gone.
    pub fn horizon(&self) -> Timestamp {
        self.sweep.horizon(self.clock)
    }

    /// Recipients and campaign buckets held.
    pub fn held(&self) -> (usize, usize) {
        (self.fatigue.len(), self.campaigns.len())
    }

    /// The count [`CrossStore::fatigue`] returned for a send already recorded, recording nothing.
    pub fn fatigue_count(&self, recipient: u64, ts: Timestamp) -> u64 {
        self.fatigue.get(&recipient).map_or(0, |l| l.count(ts))
    }

    /// The count [`CrossStore::campaign`] returned for a message already recorded, recording
    /// nothing (unless later sends have moved the buckets).
    pub fn campaign_count(&self, simhash: u64, business: u64, ts: Timestamp) -> u32 {
        self.campaigns.count(simhash, business, ts, DAY)
    }
}

impl CrossStore for CrossState {
    fn fatigue(&mut self, recipient: u64, ts: Timestamp, cap: u64) -> u64 {
        self.fatigue.entry(recipient).or_default().record(ts, cap)
    }

    fn campaign(&mut self, simhash: u64, business: u64, ts: Timestamp) -> u32 {
        self.campaigns.observe(simhash, business, ts, DAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR;

    const T0: Timestamp = Timestamp::from_millis(1_793_577_600_000);
    /// A millisecond.
    const MS: Millis = Millis::from_millis(1);

    #[test]
    fn load_counts_inside_the_day_and_stops_at_the_cap() {
        let mut l = RecipientLoad::default();
        assert_eq!(l.record(T0, 3), 1);
        assert_eq!(l.record(T0 + MS, 3), 2);
        assert_eq!(l.record(T0 + 2 * MS, 3), 3);
        assert_eq!(l.record(T0 + 3 * MS, 3), 4);
        assert_eq!(l.record(T0 + 4 * MS, 3), 4, "counted up to cap + 1");
        // Exactly 24 h after the first three, they are out of (ts - 24h, ts].
        assert_eq!(l.record(T0 + 2 * MS + DAY, 3), 3);
    }

    #[test]
    fn a_send_older_than_those_remembered_still_counts_itself() {
        let mut l = RecipientLoad::default();
        for i in 0..4 {
            l.record(T0 + (10 + i) * MS, 3);
        }
        // Older than the four remembered: forgotten at once, but it was one send.
        assert_eq!(l.record(T0, 3), 1);
        assert_eq!(
            l.record(T0 + 5 * MS, 3),
            1,
            "the earlier late send is not kept"
        );
        assert_eq!(l.latest(), Some(T0 + 13 * MS));
        assert_eq!(l.record(T0 + 20 * MS, 3), 4);
    }

    #[test]
    fn a_load_keeps_cap_plus_one_sends_for_a_late_one_to_count_against() {
        let mut l = RecipientLoad::default();
        for ts in [T0 + 10 * MS, T0 + 12 * MS, T0 + 13 * MS, T0 + 14 * MS] {
            l.record(ts, 3);
        }
        // Late, between the first two: it sees the first.
        assert_eq!(l.record(T0 + 11 * MS, 3), 2);
    }

    #[test]
    fn a_sweep_runs_a_day_after_the_last_and_forgets_up_to_its_horizon() {
        for lateness in [Millis::ZERO, HOUR] {
            let mut s = CrossState::new(Sweep { lateness });
            // The first event is a day past the (never run) last sweep.
            assert_eq!(s.tick(T0), Some(T0 - DAY - lateness));
            s.fatigue(1, T0, 10);
            s.fatigue(2, T0 + DAY / 2, 10);
            s.fatigue(3, T0 + DAY / 4, 10);
            s.campaign(0xfeed, 7, T0 + DAY / 2);
            assert_eq!(s.fatigue_count(2, T0 + DAY / 2), 1);
            assert_eq!(s.campaign_count(0xfeed, 8, T0 + DAY / 2), 2);
            assert_eq!(s.tick(T0 + DAY - MS), None);
            // A day after the last sweep: recipient 1, at the horizon exactly, goes.
            let at = T0 + DAY + lateness;
            assert_eq!(s.tick(at), Some(T0));
            assert_eq!((s.held(), s.horizon()), ((2, 4), T0));
            // Less than a day after that sweep, nothing goes, though recipient 2 is past it.
            assert_eq!(s.tick(at + DAY - MS), None);
            assert_eq!(s.held(), (2, 4));
            assert_eq!(s.tick(at + DAY), Some(T0 + DAY));
            assert_eq!(s.held(), (0, 0), "lateness {lateness:?}");
        }
    }
}
