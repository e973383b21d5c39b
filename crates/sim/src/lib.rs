//! spamward's world generator: seeded business-messaging traffic with known abusers.
//!
//! A [`World`] is planned from a [`WorldConfig`]: businesses of twelve [`Archetype`]s (seven
//! legitimate, five abusive) with shuffled ids, shared recipients, tiers, templates and schedules.
//! Its [`Truth`] says which businesses are abusive and since when; [`World::run`] streams the
//! event log (messages, delivery receipts, recipient feedback, business records) to a sink in
//! time order. Detection quality of spamward is measured against this ground truth, so the
//! traffic aims to be honest: legitimate marketing looks like marketing (prizes and exclamation
//! marks included), new legitimate shops look small and fresh like snowshoe senders, a seasonal
//! sale bursts like a compromised account, and abusers differ in what recipients and carriers do
//! (failed deliveries, blocks, reports, opt-outs) more than in any single field.
//!
//! The run steps through time a quarter of an hour at a time. Each step, every business generates
//! its sends for the step on its own random stream (in parallel with rayon) and draws their
//! consequences, which wait in a queue of per-step buckets (at most 48 h ahead) as compact
//! records. Then everything due in the step is sorted by (time, business, the business's own counter) and handed
//! to the sink in batches. Memory is bounded by a couple of days of pending consequences and
//! per-business state, never by the length of the run, and the output is identical whatever the
//! number of threads.
//!
//! The crate does no I/O: the SMS collection it draws texts from is embedded at compile time, and
//! writing the log is the caller's business.
#![deny(missing_docs)]

mod archetype;
mod business;
mod config;
mod plan;
mod rng;
pub mod summary;
mod text;

use std::ops::AddAssign;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use spamward_core::time::HOUR;
use spamward_core::{
    Delivery, DeliveryStatus, Event, Feedback, FeedbackKind, Millis, Tier, Timestamp,
};

pub use archetype::{Archetype, FULL_WORLD, mix};
pub use config::{
    ConfigError, ConfigErrorKind, MAX_BUSINESSES, MAX_RECIPIENTS, MAX_SCALE, WorldConfig,
};

use business::{BizState, Ctx, Fatigue, MAX_DELIVERY, MAX_FOLLOW, Pending, What};
use plan::Plan;

/// Events handed to the sink at a time (at most).
pub const BATCH: usize = 8_192;

/// What the generator knows that the log does not say outright.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Truth {
    /// The seed the world was generated from.
    pub seed: u64,
    /// Start of the period (ms).
    pub start: Timestamp,
    /// End of the period (ms, exclusive): every event is before it.
    pub end: Timestamp,
    /// The full config.
    pub config: WorldConfig,
    /// One entry per business, in id order (`b-1` first).
    pub businesses: Vec<BusinessTruth>,
}

/// The ground truth about one business.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessTruth {
    /// Its id (`b-<n>`).
    pub business: String,
    /// What kind of business it is.
    pub archetype: Archetype,
    /// Whether it is abusive.
    pub abusive: bool,
    /// Time of its first abusive message (for a compromised account, the start of the burst).
    pub abuse_start: Option<Timestamp>,
    /// Whether it existed before the period (and so emits a `business` record).
    pub established: bool,
    /// Whether it is verified.
    pub verified: bool,
    /// Its tier at the start of the period.
    pub tier: Tier,
    /// The snowshoe campaign (group) it belongs to.
    pub campaign: Option<String>,
}

/// Counts of what a run emitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStats {
    /// Every event.
    pub events: u64,
    /// `message` events.
    pub messages: u64,
    /// `delivery` events.
    pub deliveries: u64,
    /// Of which failed.
    pub failed_deliveries: u64,
    /// `feedback` events.
    pub feedback: u64,
    /// Feedback of kind `read`.
    pub reads: u64,
    /// Feedback of kind `reply`.
    pub replies: u64,
    /// Feedback of kind `block`.
    pub blocks: u64,
    /// Feedback of kind `report`.
    pub reports: u64,
    /// Feedback of kind `opt_out`.
    pub opt_outs: u64,
    /// `business` events.
    pub businesses: u64,
}

impl RunStats {
    /// Counts one event.
    pub fn count(&mut self, e: &Event) {
        self.events += 1;
        match e {
            Event::Message(_) => self.messages += 1,
            Event::Delivery(d) => {
                self.deliveries += 1;
                if d.status == DeliveryStatus::Failed {
                    self.failed_deliveries += 1;
                }
            }
            Event::Feedback(f) => {
                self.feedback += 1;
                match f.kind {
                    FeedbackKind::Read => self.reads += 1,
                    FeedbackKind::Reply => self.replies += 1,
                    FeedbackKind::Block => self.blocks += 1,
                    FeedbackKind::Report => self.reports += 1,
                    FeedbackKind::OptOut => self.opt_outs += 1,
                }
            }
            Event::Business(_) => self.businesses += 1,
        }
    }
}

impl AddAssign for RunStats {
    fn add_assign(&mut self, o: RunStats) {
        self.events += o.events;
        self.messages += o.messages;
        self.deliveries += o.deliveries;
        self.failed_deliveries += o.failed_deliveries;
        self.feedback += o.feedback;
        self.reads += o.reads;
        self.replies += o.replies;
        self.blocks += o.blocks;
        self.reports += o.reports;
        self.opt_outs += o.opt_outs;
        self.businesses += o.businesses;
    }
}

/// A planned world, ready to run (any number of times, always with the same output).
pub struct World {
    config: WorldConfig,
    plans: Vec<Plan>,
    truth: Truth,
}

/// Length of one step of the run. Short enough that the busiest step of a large world (every
/// marketer's 10:00 campaign at once) stays small in memory.
pub const STEP: Millis = Millis::from_minutes(15);

/// Buckets of pending consequences, one per step: enough for the longest delay plus the current
/// step.
const RING: usize = (MAX_FOLLOW.as_millis() / STEP.as_millis()) as usize + 2;

/// Hourly decay of the cross-business marketing fatigue counter (half-life about 17 h).
const FATIGUE_DECAY_PER_HOUR: f32 = 0.96;

impl World {
    /// Plans a world. Fails only if the config does not validate.
    pub fn new(config: WorldConfig) -> Result<World, ConfigError> {
        config.validate()?;
        let plans = plan::plan_world(&config);
        let truth = Truth {
            seed: config.seed,
            start: config.start,
            end: config.end(),
            config: config.clone(),
            businesses: plans
                .iter()
                .map(|p| BusinessTruth {
                    business: p.name.clone(),
                    archetype: p.archetype,
                    abusive: p.archetype.is_abusive(),
                    abuse_start: p.abuse_start,
                    established: p.established,
                    verified: p.verified,
                    tier: p.tier,
                    campaign: p.campaign.clone(),
                })
                .collect(),
        };
        Ok(World {
            config,
            plans,
            truth,
        })
    }

    /// The config the world was planned from.
    pub fn config(&self) -> &WorldConfig {
        &self.config
    }

    /// The ground truth.
    pub fn truth(&self) -> &Truth {
        &self.truth
    }

    /// The whole log in memory, in the order [`World::run`] gives it: for small worlds (tests,
    /// benches); a large one is better streamed through `run`.
    pub fn events(&self) -> Vec<Event> {
        let mut events = Vec::new();
        let Ok(_) = self.run(|batch| {
            events.extend_from_slice(batch);
            Ok::<(), std::convert::Infallible>(())
        });
        events
    }

    /// Generates the log, handing it to `sink` in time-ordered batches of at most [`BATCH`]
    /// events (non-decreasing `ts`, ties in a fixed order). Stops at the first sink error.
    pub fn run<E>(&self, mut sink: impl FnMut(&[Event]) -> Result<(), E>) -> Result<RunStats, E> {
        let cfg = &self.config;
        let n = cfg.recipients as u32;
        let start = cfg.start;
        let end = cfg.end();
        let mut states: Vec<BizState> = self
            .plans
            .iter()
            .enumerate()
            .map(|(i, p)| BizState::new(i, p))
            .collect();
        let decay = FATIGUE_DECAY_PER_HOUR.powf(STEP.as_millis() as f32 / HOUR.as_millis() as f32);
        let mut fatigue = Fatigue::new(cfg.recipients, decay);
        let mut ring: Vec<Vec<Pending>> = (0..RING).map(|_| Vec::new()).collect();
        let mut stats = RunStats::default();
        let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
        let mut messages: Vec<(u128, Event)> = Vec::new();
        let steps = end
            .saturating_since(start)
            .as_millis()
            .div_ceil(STEP.as_millis());
        for step in 0..steps {
            let t0 = start + step * STEP;
            let t1 = (t0 + STEP).min(end);
            {
                let cx = Ctx {
                    seed: cfg.seed,
                    start,
                    end,
                    cutoff: end - MAX_DELIVERY,
                    n,
                    invalid_pool: (n / 2).max(1_000),
                    fatigue: &fatigue,
                    step: step as u32,
                };
                states
                    .par_iter_mut()
                    .zip(self.plans.par_iter())
                    .for_each(|(st, plan)| st.step(plan, &cx, step as u32, t0, t1));
            }
            // Buffers are taken, not drained, so a business's busiest hour does not pin its
            // memory for the rest of the run.
            messages.clear();
            let mut due = std::mem::take(&mut ring[step as usize % RING]);
            for st in &mut states {
                messages.append(&mut std::mem::take(&mut st.out.events));
                for p in std::mem::take(&mut st.out.pending) {
                    if p.ts < t1 {
                        due.push(p);
                    } else {
                        let at = (p.ts.saturating_since(start) / STEP) as usize;
                        debug_assert!(at < step as usize + RING);
                        ring[at % RING].push(p);
                    }
                }
                for r in st.out.marketing.drain(..) {
                    fatigue.add(r, step as u32);
                }
            }
            // Sort keys, not the (large) events themselves.
            let mut order: Vec<(u128, u32)> = messages
                .iter()
                .enumerate()
                .map(|(i, m)| (m.0, i as u32))
                .collect();
            order.par_sort_unstable();
            let mut slots: Vec<Option<Event>> = messages.drain(..).map(|m| Some(m.1)).collect();
            due.par_sort_unstable_by_key(Pending::key);
            let follow: Vec<Event> = due.par_iter().map(|p| self.materialize(p)).collect();

            // Merge the two sorted runs.
            let mut fi = due.iter().zip(follow).peekable();
            let mut mi = order.iter().peekable();
            loop {
                let take_message = match (mi.peek(), fi.peek()) {
                    (None, None) => break,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (Some(m), Some((p, _))) => m.0 < p.key(),
                };
                let e = if take_message {
                    mi.next().and_then(|&(_, i)| slots[i as usize].take())
                } else {
                    fi.next().map(|f| f.1)
                };
                let Some(e) = e else { break };
                stats.count(&e);
                batch.push(e);
                if batch.len() == BATCH {
                    sink(&batch)?;
                    batch.clear();
                }
            }
        }
        if !batch.is_empty() {
            sink(&batch)?;
        }
        Ok(stats)
    }

    fn materialize(&self, p: &Pending) -> Event {
        let plan = &self.plans[p.biz as usize];
        let business = plan.name.clone();
        let recipient = business::id1("r-", u64::from(p.recipient) + 1);
        let message = business::id2("m-", u64::from(p.biz) + 1, u64::from(p.msg));
        match p.what {
            What::Delivered => Event::Delivery(Delivery {
                ts: p.ts,
                business,
                recipient,
                message,
                status: DeliveryStatus::Delivered,
                error: None,
            }),
            What::Failed(f) => Event::Delivery(Delivery {
                ts: p.ts,
                business,
                recipient,
                message,
                status: DeliveryStatus::Failed,
                error: Some(f.as_str().to_owned()),
            }),
            What::Feedback(kind, named) => Event::Feedback(Feedback {
                ts: p.ts,
                business,
                recipient,
                kind,
                message: named.then_some(message),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
