//! One business through time: what it sends in each step and how its recipients react.
//!
//! The run advances the whole world a short step (a quarter of an hour) at a time. In a step each business, on its own
//! random stream keyed by (seed, business, step), decides its sends (steady trickles shaped by a
//! daily curve, campaigns planned at the start of each day at set hours, follow-ups it scheduled
//! earlier), checks them against what a business of its kind respects (opt-outs, blocks, its tier),
//! writes the messages, and draws every consequence at once: the delivery receipt seconds later and
//! the recipient's read, reply, block, report or opt-out minutes to hours later. Consequences are
//! compact records, turned into events only when their time comes, so the pending queue stays small.
//! A business's state is only ever touched by its own step, which is why steps of different
//! businesses can run on any number of threads with identical results.

mod campaigns;
mod ids;
mod send;
mod traffic;

use std::collections::{HashMap, VecDeque};

use rand::Rng;
use spamward_core::time::{DAY, HOUR, MINUTE};
use spamward_core::{Event, FeedbackKind, Millis, Timestamp};

use crate::archetype::Archetype;
use crate::plan::{Kind, Plan};
use crate::rng::{stream, tag};

pub(crate) use ids::{id1, id2};

/// Longest time between a message and any of its consequences.
pub(crate) const MAX_FOLLOW: Millis = Millis::from_hours(48);
/// Longest delivery delay; no message is sent this close to the end, so every one is delivered
/// (or fails) inside the period.
pub(crate) const MAX_DELIVERY: Millis = MINUTE;

/// What the step of every business may read.
pub(crate) struct Ctx<'a> {
    pub seed: u64,
    pub start: Timestamp,
    pub end: Timestamp,
    /// No message at or after this.
    pub cutoff: Timestamp,
    /// Valid recipients are `0..n`.
    pub n: u32,
    /// Numbers that do not exist are `n..n + invalid_pool`.
    pub invalid_pool: u32,
    /// Recent marketing messages per recipient, across all businesses (as of the last step).
    pub fatigue: &'a Fatigue,
    /// The current step.
    pub step: u32,
}

/// Marketing messages each recipient received recently from all businesses together, decaying
/// exponentially. Decay is applied lazily (value and step of the last update), so a step costs
/// nothing for recipients nobody messaged.
pub(crate) struct Fatigue {
    value: Vec<(f32, u32)>,
    /// `decay^k` for k steps.
    pow: Vec<f32>,
}

impl Fatigue {
    pub fn new(recipients: usize, decay_per_step: f32) -> Fatigue {
        let mut pow = Vec::with_capacity(4096);
        let mut x = 1.0f32;
        for _ in 0..4096 {
            pow.push(x);
            x *= decay_per_step;
        }
        Fatigue {
            value: vec![(0.0, 0); recipients],
            pow,
        }
    }

    /// The counter of `r` at `step`.
    pub fn get(&self, r: u32, step: u32) -> f32 {
        self.value.get(r as usize).map_or(0.0, |&(v, last)| {
            v * self
                .pow
                .get(step.saturating_sub(last) as usize)
                .copied()
                .unwrap_or(0.0)
        })
    }

    /// Counts one more marketing message to `r` at `step`.
    pub fn add(&mut self, r: u32, step: u32) {
        let now = self.get(r, step);
        if let Some(slot) = self.value.get_mut(r as usize) {
            *slot = (now + 1.0, step);
        }
    }
}

/// Why a delivery failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    InvalidNumber,
    Unreachable,
    Expired,
    CarrierRejected,
    Undeliverable,
}

impl Fail {
    pub fn as_str(self) -> &'static str {
        match self {
            Fail::InvalidNumber => "invalid_number",
            Fail::Unreachable => "unreachable",
            Fail::Expired => "expired",
            Fail::CarrierRejected => "carrier_rejected",
            Fail::Undeliverable => "undeliverable",
        }
    }
}

/// A consequence waiting for its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum What {
    Delivered,
    Failed(Fail),
    /// The feedback and whether it names the message.
    Feedback(FeedbackKind, bool),
}

/// A compact future event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    pub ts: Timestamp,
    pub biz: u32,
    pub ord: u32,
    pub recipient: u32,
    pub msg: u32,
    pub what: What,
}

impl Pending {
    pub fn key(&self) -> u128 {
        key(self.ts, self.biz, self.ord)
    }
}

/// The total order of the log: time, then business, then the business's own event counter.
pub(crate) fn key(ts: Timestamp, biz: u32, ord: u32) -> u128 {
    (u128::from(ts.as_millis()) << 64) | (u128::from(biz) << 32) | u128::from(ord)
}

/// What one step of one business produced.
#[derive(Default)]
pub(crate) struct StepOut {
    /// Messages (and the business record) with their order keys; all inside the step.
    pub events: Vec<(u128, Event)>,
    /// Consequences, due in this step or later.
    pub pending: Vec<Pending>,
    /// Recipients of delivered marketing messages (for cross-business fatigue).
    pub marketing: Vec<u32>,
}

/// Template index meaning "pick one of the kind at send time".
const ANY: u16 = u16::MAX;

#[derive(Clone, Copy, Debug)]
struct Send {
    ts: Timestamp,
    recipient: u32,
    kind: Kind,
    tpl: u16,
    a: u32,
    b: Timestamp,
}

/// Who a campaign goes to.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// Consecutive customers of the base from `offset`, among the first `len`.
    Base { offset: u32, len: u32 },
    /// Random real recipients.
    Random,
    /// A bought list: random numbers, `invalid` of them non-existent.
    Cold(f64),
    /// A compromised account's burst: its own customers and random numbers.
    Mixed,
}

#[derive(Debug)]
struct Campaign {
    start: Timestamp,
    gap: Millis,
    count: u32,
    next: u32,
    kind: Kind,
    tpl: u16,
    target: Target,
    a: u32,
    b: Timestamp,
}

/// Unique recipients of business-initiated messages in a moving 24 h.
struct Window {
    limit: u32,
    last: HashMap<u32, Timestamp>,
    queue: VecDeque<(Timestamp, u32)>,
}

impl Window {
    fn admit(&mut self, ts: Timestamp, r: u32) -> bool {
        while let Some(&(t, old)) = self.queue.front() {
            if t + DAY > ts {
                break;
            }
            self.queue.pop_front();
            if self.last.get(&old) == Some(&t) {
                self.last.remove(&old);
            }
        }
        if let Some(l) = self.last.get_mut(&r) {
            *l = ts;
        } else if self.last.len() < self.limit as usize {
            self.last.insert(r, ts);
        } else {
            return false;
        }
        self.queue.push_back((ts, r));
        true
    }
}

/// The mutable state of one business.
pub(crate) struct BizState {
    idx: u32,
    seq: u32,
    ord: u32,
    announced: bool,
    optouts: HashMap<u32, Timestamp>,
    blocks: HashMap<u32, Timestamp>,
    window: Option<Window>,
    scheduled: Vec<Send>,
    campaigns: Vec<Campaign>,
    freq: HashMap<u32, VecDeque<Timestamp>>,
    day: u64,
    sends: Vec<Send>,
    pub out: StepOut,
}

impl BizState {
    pub fn new(idx: usize, plan: &Plan) -> BizState {
        let tier_limit = plan.tier.limit().map(|l| l as u32);
        let limit = match (plan.limit, tier_limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (Some(a), None) => Some(a),
            (None, Some(b)) if !plan.archetype.is_abusive() && plan.base.size > b => Some(b),
            _ => None,
        };
        BizState {
            idx: idx as u32,
            seq: 0,
            ord: 0,
            announced: false,
            optouts: HashMap::new(),
            blocks: HashMap::new(),
            window: limit.map(|limit| Window {
                limit,
                last: HashMap::new(),
                queue: VecDeque::new(),
            }),
            scheduled: Vec::new(),
            campaigns: Vec::new(),
            freq: HashMap::new(),
            day: u64::MAX,
            sends: Vec::new(),
            out: StepOut::default(),
        }
    }

    /// Generates the step `[t0, t1)` into `self.out`.
    pub fn step(&mut self, plan: &Plan, cx: &Ctx<'_>, step: u32, t0: Timestamp, t1: Timestamp) {
        let lo = t0.max(plan.active_from);
        let hi = t1.min(cx.cutoff);
        if lo >= hi {
            return;
        }
        let mut rng = stream(
            cx.seed,
            &[tag(b"step"), u64::from(self.idx), u64::from(step)],
        );
        let day = t0.since_epoch() / DAY;
        if day != self.day {
            self.day = day;
            self.plan_day(plan, cx, day, t0);
        }
        if step == 0 && plan.established {
            // Trips and orders of the day before the start still have follow-ups due in it
            // (boarding passes, shipping notices): replay that day for its schedule only.
            let mut warm = stream(cx.seed, &[tag(b"warm-up"), u64::from(self.idx)]);
            for k in (1..=24).rev() {
                let w0 = t0.saturating_sub(k * HOUR);
                self.trickle(plan, &mut warm, w0, w0, w0 + HOUR);
            }
        }
        self.sends.clear();
        self.trickle(plan, &mut rng, t0, lo, hi);
        self.run_campaigns(plan, cx, &mut rng, lo, hi);
        let mut k = 0;
        while k < self.scheduled.len() {
            if self.scheduled[k].ts < t1 {
                let s = self.scheduled.swap_remove(k);
                if s.ts >= lo && s.ts < hi {
                    self.sends.push(s);
                }
            } else {
                k += 1;
            }
        }
        if let Some(t) = plan.abuse_start
            && (t0..t1).contains(&t)
            && t < hi
        {
            let (kind, target) = match plan.archetype {
                Archetype::Phisher => (Kind::Phish, Target::Random),
                Archetype::RecipientFatigue => (
                    Kind::Pushy,
                    Target::Base {
                        offset: 0,
                        len: plan.base.size,
                    },
                ),
                Archetype::CompromisedAccount => (Kind::Spam, Target::Mixed),
                _ => (Kind::Spam, Target::Cold(plan.schedule.invalid)),
            };
            let recipient = self.target(plan, cx, &mut rng, target, 0);
            self.sends.push(Send {
                ts: t,
                recipient,
                kind,
                tpl: ANY,
                a: rng.random(),
                b: t,
            });
        }
        self.sends.sort_by_key(|s| s.ts);
        let sends = std::mem::take(&mut self.sends);
        for s in &sends {
            self.send(plan, cx, &mut rng, *s);
        }
        self.sends = sends;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ms` milliseconds after the epoch.
    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn window_counts_unique_recipients_in_a_moving_day() {
        let mut w = Window {
            limit: 2,
            last: HashMap::new(),
            queue: VecDeque::new(),
        };
        assert!(w.admit(at(0), 1));
        assert!(w.admit(at(10), 2));
        assert!(w.admit(at(20), 1), "repeat recipient is free");
        assert!(!w.admit(at(30), 3), "third unique recipient within 24 h");
        // Recipient 2 expires at 10 + 24 h; 1 was seen again at 20.
        assert!(w.admit(at(10) + DAY, 3));
        assert!(!w.admit(at(15) + DAY, 4));
        assert!(w.admit(at(20) + DAY, 4));
    }

    #[test]
    fn keys_order_by_time_then_business_then_counter() {
        assert!(key(at(1), 9, 9) < key(at(2), 0, 0));
        assert!(key(at(1), 1, 9) < key(at(1), 2, 0));
        assert!(key(at(1), 1, 1) < key(at(1), 1, 2));
    }

    #[test]
    fn fatigue_decays_lazily() {
        let mut f = Fatigue::new(3, 0.5);
        f.add(1, 0);
        f.add(1, 0);
        assert_eq!(f.get(1, 0), 2.0);
        assert_eq!(f.get(1, 2), 0.5);
        f.add(1, 2);
        assert_eq!(f.get(1, 3), 0.75);
        assert_eq!(f.get(0, 3), 0.0);
        assert_eq!(f.get(7, 3), 0.0, "out of range");
    }
}
