//! The filter's cross-business store: the core's recipient loads and campaign buckets in
//! concurrent maps, each entry locked only while it is visited, and the core's [`Sweep`] rule
//! run by whichever caller first sees it due.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use spamward_core::Timestamp;
use spamward_core::content::{Bucket, Campaigns};
use spamward_core::cross::{CrossStore, RecipientLoad, Sweep};
use spamward_core::time::DAY;

/// Recipient fatigue and the campaign index, shared by every thread through `&self`.
#[derive(Debug, Default)]
pub(crate) struct SharedCross {
    pub(crate) fatigue: DashMap<u64, RecipientLoad>,
    /// The campaign index's band buckets (see [`Campaigns`]).
    pub(crate) campaigns: DashMap<u32, Bucket>,
    /// The latest event time seen, in ms since the epoch (an atomic holds the bare number).
    pub(crate) clock: AtomicU64,
    /// The clock at the last sweep, likewise.
    pub(crate) last_sweep: AtomicU64,
    pub(crate) sweep: Sweep,
}

impl SharedCross {
    pub(crate) fn new(sweep: Sweep) -> SharedCross {
        SharedCross {
            sweep,
            ..SharedCross::default()
        }
    }

    /// The latest event time seen.
    pub(crate) fn clock(&self) -> Timestamp {
        Timestamp::from_millis(self.clock.load(Ordering::Relaxed))
    }

    /// Moves the clock to `ts` if later; one caller wins a due sweep, the others go on.
    pub(crate) fn tick(&self, ts: Timestamp) {
        let ms = ts.as_millis();
        let clock = Timestamp::from_millis(self.clock.fetch_max(ms, Ordering::Relaxed).max(ms));
        let last = self.last_sweep.load(Ordering::Relaxed);
        if self.sweep.due(clock, Timestamp::from_millis(last))
            && self
                .last_sweep
                .compare_exchange(
                    last,
                    clock.as_millis(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            let horizon = self.sweep.horizon(clock);
            self.fatigue
                .retain(|_, load| load.latest().is_some_and(|t| t > horizon));
            self.campaigns
                .retain(|_, b| b.latest().is_some_and(|t| t > horizon));
        }
    }
}

impl CrossStore for &SharedCross {
    fn fatigue(&mut self, recipient: u64, ts: Timestamp, cap: u64) -> u64 {
        self.fatigue.entry(recipient).or_default().record(ts, cap)
    }

    fn campaign(&mut self, simhash: u64, business: u64, ts: Timestamp) -> u32 {
        Campaigns::observe_with(simhash, business, ts, DAY, |key, visit| {
            visit(&mut self.campaigns.entry(key).or_default())
        })
    }
}
