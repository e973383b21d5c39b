//! The engine: routes events to per-business state, in parallel, with the same verdicts as one
//! event at a time.
//!
//! A batch of events is handled in two passes. First, in log order and on one thread, the
//! cross-business context each message needs (how much marketing its recipient already got from
//! everybody) — cheap, and the only state that crosses businesses. Then the batch is split by
//! business and each business's events run through its own state on the rayon pool, in log order
//! within the business. Verdicts are put back in log order. Since no business reads another's
//! state, the result is the same for any thread count and any batch size, and equal to
//! [`Engine::observe`] called event by event — the property the streaming filter relies on.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use rayon::prelude::*;

use crate::business::{BusinessState, MessageContext, Reading, Standing, recipient_key};
use crate::event::{Category, Event, Message, Timestamp};
use crate::policy::Policy;
use crate::verdict::Verdict;
use crate::window::Span;

/// The most recent marketing sends to one recipient, from all businesses: at most `cap + 1` kept,
/// which is all the cap needs to know.
#[derive(Clone, Debug, Default, bincode::Encode, bincode::Decode)]
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
        while self.times.len() > keep {
            self.times.pop_front();
        }
        let from = ts.saturating_sub(Span::Day.millis());
        self.times.iter().filter(|&&t| t > from && t <= ts).count() as u64
    }

    /// Latest marketing send remembered.
    pub fn latest(&self) -> Option<Timestamp> {
        self.times.back().copied()
    }
}

/// Counts of what an engine has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineCounts {
    /// All events.
    pub events: u64,
    /// Messages.
    pub messages: u64,
    /// Feedback events.
    pub feedback: u64,
    /// Delivery receipts.
    pub deliveries: u64,
    /// Business records.
    pub business_records: u64,
}

/// The scoring engine over many businesses.
#[derive(Debug)]
pub struct Engine {
    policy: Policy,
    businesses: FxHashMap<String, BusinessState>,
    fatigue: FxHashMap<u64, RecipientLoad>,
    clock: Timestamp,
    last_sweep: Timestamp,
    counts: EngineCounts,
}

impl Engine {
    /// An engine with no state.
    pub fn new(policy: Policy) -> Self {
        Engine {
            policy,
            businesses: FxHashMap::default(),
            fatigue: FxHashMap::default(),
            clock: 0,
            last_sweep: 0,
            counts: EngineCounts::default(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The latest event time seen.
    pub fn clock(&self) -> Timestamp {
        self.clock
    }

    /// What the engine has seen.
    pub fn counts(&self) -> EngineCounts {
        self.counts
    }

    /// Businesses with state.
    pub fn businesses(&self) -> usize {
        self.businesses.len()
    }

    /// Recipients held across all businesses' states and the fatigue tracker.
    pub fn recipients_held(&self) -> (usize, usize) {
        (
            self.businesses
                .values()
                .map(BusinessState::recipients_held)
                .sum(),
            self.fatigue.len(),
        )
    }

    fn context(&mut self, m: &Message) -> MessageContext {
        if m.category != Category::Marketing {
            return MessageContext::default();
        }
        let cap = self.policy.signals.recipient_fatigue_24h.cap;
        let load = self.fatigue.entry(recipient_key(&m.recipient)).or_default();
        MessageContext {
            recipient_marketing_24h: load.record(m.ts, cap),
        }
    }

    fn tick(&mut self, ev: &Event) {
        self.counts.events += 1;
        match ev {
            Event::Message(_) => self.counts.messages += 1,
            Event::Feedback(_) => self.counts.feedback += 1,
            Event::Delivery(_) => self.counts.deliveries += 1,
            Event::Business(_) => self.counts.business_records += 1,
        }
        self.clock = self.clock.max(ev.ts());
        if self.clock - self.last_sweep >= Span::Day.millis() {
            let horizon = self.clock.saturating_sub(Span::Day.millis());
            self.fatigue
                .retain(|_, l| l.latest().is_some_and(|t| t > horizon));
            self.last_sweep = self.clock;
        }
    }

    /// Applies one event; a message gets its verdict.
    pub fn observe(&mut self, ev: &Event) -> Option<Verdict> {
        self.observe_with(ev, false).map(|(v, _)| v)
    }

    /// Applies one event like [`Engine::observe`]; a message also gets every signal's reading at
    /// that moment, fired or not.
    pub fn observe_explained(&mut self, ev: &Event) -> Option<(Verdict, Vec<Reading>)> {
        self.observe_with(ev, true)
    }

    fn observe_with(&mut self, ev: &Event, explain: bool) -> Option<(Verdict, Vec<Reading>)> {
        self.tick(ev);
        let ctx = match ev {
            Event::Message(m) => self.context(m),
            _ => MessageContext::default(),
        };
        let state = self
            .businesses
            .entry(ev.business().to_owned())
            .or_insert_with(|| BusinessState::new(ev.ts()));
        match ev {
            Event::Message(m) if explain => {
                Some(state.on_message_explained(m, recipient_key(&m.recipient), ctx, &self.policy))
            }
            _ => apply(state, ev, ctx, &self.policy).map(|v| (v, Vec::new())),
        }
    }

    /// Applies a batch of events in log order, businesses in parallel on the current rayon pool;
    /// returns the verdicts of its messages in log order.
    pub fn process(&mut self, events: &[Event]) -> Vec<Verdict> {
        // Pass 1, in log order: cross-business context, and the grouping by business.
        let mut ctx = vec![MessageContext::default(); events.len()];
        let mut slot_of: FxHashMap<&str, usize> = FxHashMap::default();
        let mut groups: Vec<(&str, Vec<u32>)> = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            self.tick(ev);
            if let Event::Message(m) = ev {
                ctx[i] = self.context(m);
            }
            let b = ev.business();
            let g = *slot_of.entry(b).or_insert_with(|| {
                groups.push((b, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i as u32);
        }
        // Pass 2, per business in parallel.
        let mut work: Vec<(String, BusinessState, Vec<u32>)> = groups
            .into_iter()
            .map(|(b, idx)| {
                let state = self
                    .businesses
                    .remove(b)
                    .unwrap_or_else(|| BusinessState::new(events[idx[0] as usize].ts()));
                (b.to_owned(), state, idx)
            })
            .collect();
        let policy = &self.policy;
        let found: Vec<Vec<(u32, Verdict)>> = work
            .par_iter_mut()
            .map(|(_, state, idx)| {
                idx.iter()
                    .filter_map(|&i| {
                        apply(state, &events[i as usize], ctx[i as usize], policy).map(|v| (i, v))
                    })
                    .collect()
            })
            .collect();
        for (b, state, _) in work {
            self.businesses.insert(b, state);
        }
        // Back into log order.
        let mut slots: Vec<Option<Verdict>> = vec![None; events.len()];
        for (i, v) in found.into_iter().flatten() {
            slots[i as usize] = Some(v);
        }
        slots.into_iter().flatten().collect()
    }

    /// Brings every business to the engine's clock and returns their standings, by business id.
    pub fn finish(&mut self) -> Vec<(String, Standing)> {
        let clock = self.clock;
        let policy = &self.policy;
        let mut out: Vec<(String, Standing)> = self
            .businesses
            .par_iter_mut()
            .map(|(b, state)| {
                state.settle(clock, policy);
                (b.clone(), state.standing(policy))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every business-level reading of one business at its own clock, if known.
    pub fn readings(&self, business: &str) -> Option<Vec<Reading>> {
        self.businesses
            .get(business)
            .map(|s| s.business_readings(&self.policy, true))
    }

    /// One business's standing at its own clock, if known.
    pub fn standing(&self, business: &str) -> Option<Standing> {
        self.businesses
            .get(business)
            .map(|s| s.standing(&self.policy))
    }
}

/// Applies one event to its business's state; a message gets its verdict. The single path every
/// driver (the engine here, the streaming filter) goes through, so they cannot disagree.
pub fn apply(
    state: &mut BusinessState,
    ev: &Event,
    ctx: MessageContext,
    policy: &Policy,
) -> Option<Verdict> {
    match ev {
        Event::Message(m) => Some(state.on_message(m, recipient_key(&m.recipient), ctx, policy)),
        Event::Feedback(f) => {
            state.on_feedback(f, recipient_key(&f.recipient), policy);
            None
        }
        Event::Delivery(d) => {
            state.on_delivery(d, policy);
            None
        }
        Event::Business(b) => {
            state.on_business(b, policy);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_counts_inside_the_day_and_stops_at_the_cap() {
        let mut l = RecipientLoad::default();
        let t0 = 1_793_577_600_000;
        assert_eq!(l.record(t0, 3), 1);
        assert_eq!(l.record(t0 + 1, 3), 2);
        assert_eq!(l.record(t0 + 2, 3), 3);
        assert_eq!(l.record(t0 + 3, 3), 4);
        assert_eq!(l.record(t0 + 4, 3), 4, "counted up to cap + 1");
        // Exactly 24 h after the first three, they are out of (ts - 24h, ts].
        assert_eq!(l.record(t0 + 2 + Span::Day.millis(), 3), 3);
    }
}
