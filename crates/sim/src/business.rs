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

use std::collections::{HashMap, VecDeque};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use spamward_core::{BusinessInfo, Category, Event, FeedbackKind, Message, Timestamp};

use crate::archetype::Archetype;
use crate::config::{DAY_MS, HOUR_MS};
use crate::plan::{Kind, Plan};
use crate::rng::{mix64, stream, tag};
use crate::text::{self, Fields, corpus, render};

/// Longest time between a message and any of its consequences.
pub(crate) const MAX_FOLLOW_MS: u64 = 48 * HOUR_MS;
/// Longest delivery delay; no message is sent this close to the end, so every one is delivered
/// (or fails) inside the period.
pub(crate) const MAX_DELIVERY_MS: u64 = 60_000;

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
    (u128::from(ts) << 64) | (u128::from(biz) << 32) | u128::from(ord)
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
    gap: u64,
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
            if t + DAY_MS > ts {
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

// Daily curves by hour (UTC), roughly mean 1; normalised when used.
const DAYTIME: [f64; 24] = [
    0.10, 0.05, 0.05, 0.05, 0.10, 0.20, 0.50, 1.00, 1.50, 1.80, 1.90, 1.90, 1.80, 1.80, 1.80, 1.80,
    1.70, 1.60, 1.50, 1.40, 1.20, 0.90, 0.50, 0.25,
];
const BANKING: [f64; 24] = [
    0.20, 0.10, 0.10, 0.10, 0.10, 0.20, 0.50, 1.00, 1.50, 1.70, 1.80, 1.80, 1.90, 1.80, 1.70, 1.70,
    1.60, 1.60, 1.60, 1.50, 1.40, 1.10, 0.70, 0.40,
];
const FLYING: [f64; 24] = [
    0.30, 0.20, 0.20, 0.30, 0.80, 1.50, 1.80, 1.80, 1.60, 1.40, 1.30, 1.30, 1.30, 1.30, 1.30, 1.30,
    1.40, 1.40, 1.30, 1.20, 1.00, 0.80, 0.50, 0.40,
];

fn curve(c: &[f64; 24], hour: usize) -> f64 {
    c[hour] * 24.0 / c.iter().sum::<f64>()
}

fn hour_of(ts: Timestamp) -> usize {
    ((ts / HOUR_MS) % 24) as usize
}

/// 0 = Monday.
fn weekday(ts: Timestamp) -> u32 {
    ((ts / DAY_MS + 3) % 7) as u32
}

fn weekday_factor(a: Archetype, wd: u32) -> f64 {
    match (a, wd) {
        (Archetype::Bank, 5) => 0.8,
        (Archetype::Bank, 6) => 0.7,
        (Archetype::Airline, 4) => 1.15,
        (Archetype::Airline, 6) => 1.1,
        (Archetype::Airline, _) => 1.0,
        (_, 5) => 1.1,
        (_, 6) => 0.9,
        _ => 1.0,
    }
}

fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> u32 {
    if lambda <= 0.0 || !lambda.is_finite() {
        return 0;
    }
    match Poisson::new(lambda) {
        Ok(d) => d.sample(rng) as u32,
        Err(_) => lambda as u32,
    }
}

/// A log-normal delay in ms with the given median (seconds) and spread.
fn delay<R: Rng>(rng: &mut R, median_s: f64, sigma: f64) -> u64 {
    let z: f64 = StandardNormal.sample(rng);
    (median_s * 1000.0 * (sigma * z).exp()) as u64
}

/// A small share of real numbers have been given up: every delivery to them fails.
fn churned(r: u32) -> bool {
    mix64(u64::from(r) ^ 0x00c4_u64.rotate_left(40)) % 1000 < 2
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
        let day = t0 / DAY_MS;
        if day != self.day {
            self.day = day;
            self.plan_day(plan, cx, day, t0);
        }
        if step == 0 && plan.established {
            // Trips and orders of the day before the start still have follow-ups due in it
            // (boarding passes, shipping notices): replay that day for its schedule only.
            let mut warm = stream(cx.seed, &[tag(b"warm-up"), u64::from(self.idx)]);
            for k in (1..=24).rev() {
                let w0 = t0.saturating_sub(k * HOUR_MS);
                self.trickle(plan, &mut warm, w0, w0, w0 + HOUR_MS);
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

    fn target(&self, plan: &Plan, cx: &Ctx<'_>, rng: &mut ChaCha8Rng, t: Target, i: u32) -> u32 {
        match t {
            Target::Base { offset, len } => plan.base.get((offset + i) % len.max(1)),
            Target::Random => rng.random_range(0..cx.n),
            Target::Cold(invalid) => {
                if rng.random_bool(invalid) {
                    cx.n + rng.random_range(0..cx.invalid_pool)
                } else {
                    rng.random_range(0..cx.n)
                }
            }
            Target::Mixed => {
                if rng.random_bool(0.6) {
                    plan.base.get(rng.random_range(0..plan.base.size))
                } else if rng.random_bool(0.05) {
                    cx.n + rng.random_range(0..cx.invalid_pool)
                } else {
                    rng.random_range(0..cx.n)
                }
            }
        }
    }

    /// Steady traffic: orders, codes, trips, snowshoe drip.
    fn trickle(
        &mut self,
        plan: &Plan,
        rng: &mut ChaCha8Rng,
        t0: Timestamp,
        lo: Timestamp,
        hi: Timestamp,
    ) {
        let h = hour_of(t0);
        let wd = weekday(t0);
        let frac = (hi - lo) as f64 / HOUR_MS as f64;
        let wk = weekday_factor(plan.archetype, wd);
        let size = plan.base.size;
        let customer = |rng: &mut ChaCha8Rng| plan.base.get(rng.random_range(0..size));
        let push = |sends: &mut Vec<Send>, ts, recipient, kind, a, b| {
            sends.push(Send {
                ts,
                recipient,
                kind,
                tpl: ANY,
                a,
                b,
            });
        };
        match plan.archetype {
            Archetype::Airline => {
                let k = poisson(rng, plan.volume / 24.0 * curve(&FLYING, h) * wk * frac);
                for _ in 0..k {
                    let ts = rng.random_range(lo..hi);
                    let r = customer(rng);
                    let a: u32 = rng.random();
                    let dep = ts + DAY_MS + rng.random_range(0..HOUR_MS) - HOUR_MS / 2;
                    push(&mut self.sends, ts, r, Kind::CheckIn, a, dep);
                    if rng.random_bool(0.7) {
                        push(
                            &mut self.scheduled,
                            dep - 3 * HOUR_MS,
                            r,
                            Kind::Boarding,
                            a,
                            dep - 40 * 60_000,
                        );
                    }
                    if rng.random_bool(0.6) {
                        push(
                            &mut self.scheduled,
                            dep - 50 * 60_000,
                            r,
                            Kind::Gate,
                            a,
                            dep - 40 * 60_000,
                        );
                    }
                    if rng.random_bool(0.1) {
                        let new_dep = dep + rng.random_range(45..180) * 60_000;
                        push(
                            &mut self.scheduled,
                            dep - 2 * HOUR_MS,
                            r,
                            Kind::Delay,
                            a,
                            new_dep,
                        );
                    }
                }
            }
            Archetype::Bank => {
                let k = poisson(rng, plan.volume / 24.0 * curve(&BANKING, h) * wk * frac);
                for _ in 0..k {
                    let ts = rng.random_range(lo..hi);
                    let r = customer(rng);
                    push(&mut self.sends, ts, r, Kind::Code, 0, ts);
                    if rng.random_bool(0.08) {
                        let again = ts + rng.random_range(40_000..120_000);
                        push(&mut self.scheduled, again, r, Kind::Code, 0, again);
                    }
                }
                let k = poisson(
                    rng,
                    0.3 * plan.volume / 24.0 * curve(&BANKING, h) * wk * frac,
                );
                for _ in 0..k {
                    let ts = rng.random_range(lo..hi);
                    push(&mut self.sends, ts, customer(rng), Kind::Alert, 0, ts);
                }
            }
            Archetype::Retailer
            | Archetype::SeasonalRetailer
            | Archetype::CompromisedAccount
            | Archetype::AggressiveMarketer => {
                let sale = plan.schedule.sale_day == Some(t0 / DAY_MS);
                let (orders, carts) = match plan.archetype {
                    Archetype::AggressiveMarketer => (0.003, 0.008),
                    _ if sale => (0.012, 0.002),
                    _ => (0.004, 0.002),
                };
                let per_hour = f64::from(size) / 24.0 * curve(&DAYTIME, h) * wk * frac;
                for _ in 0..poisson(rng, orders * per_hour) {
                    let ts = rng.random_range(lo..hi);
                    let r = customer(rng);
                    let order: u32 = rng.random();
                    push(&mut self.sends, ts, r, Kind::OrderNew, order, ts);
                    if rng.random_bool(0.8) {
                        let shipped = ts + rng.random_range(12 * HOUR_MS..36 * HOUR_MS);
                        push(
                            &mut self.scheduled,
                            shipped,
                            r,
                            Kind::OrderShipped,
                            order,
                            shipped + 3 * HOUR_MS,
                        );
                    }
                }
                for _ in 0..poisson(rng, carts * per_hour) {
                    let ts = rng.random_range(lo..hi);
                    push(&mut self.sends, ts, customer(rng), Kind::Cart, 0, ts);
                }
            }
            Archetype::NewShop => {
                let (target, customers) = shop_size(plan, t0);
                let k = poisson(rng, 0.6 * target / 24.0 * curve(&DAYTIME, h) * wk * frac);
                for _ in 0..k {
                    let ts = rng.random_range(lo..hi);
                    let r = plan.base.get(rng.random_range(0..customers));
                    push(
                        &mut self.sends,
                        ts,
                        r,
                        Kind::ShopOrder,
                        rng.random(),
                        ts + 20 * HOUR_MS,
                    );
                }
            }
            Archetype::Snowshoe => {
                let hours = plan.schedule.hours;
                if hours & (1 << h) != 0 {
                    let k = poisson(rng, plan.volume / f64::from(hours.count_ones()) * frac);
                    for _ in 0..k {
                        let ts = rng.random_range(lo..hi);
                        let r = if rng.random_bool(plan.schedule.invalid) {
                            u32::MAX
                        } else {
                            u32::MAX - 1
                        };
                        push(&mut self.sends, ts, r, Kind::Spam, rng.random(), ts);
                    }
                }
            }
            Archetype::Newsletter
            | Archetype::ColdListSpammer
            | Archetype::Phisher
            | Archetype::RecipientFatigue => {}
        }
    }

    /// Decides the day's campaigns and blasts.
    #[allow(clippy::too_many_lines)]
    fn plan_day(&mut self, plan: &Plan, cx: &Ctx<'_>, day: u64, t0: Timestamp) {
        let mut rng = stream(cx.seed, &[tag(b"day"), u64::from(self.idx), day]);
        let midnight = day * DAY_MS;
        let wd = weekday(midnight);
        let size = plan.base.size;
        let whole = Target::Base {
            offset: 0,
            len: size,
        };
        let mut add = |c: Campaign| {
            if c.start >= t0.min(midnight.max(cx.start)) && c.count > 0 {
                self.campaigns.push(c);
            }
        };
        let at = |hour: u64, minute: u64| midnight + hour * HOUR_MS + minute * 60_000;
        let blast = |start, count: f64, per_s: f64, kind, tpl, target| Campaign {
            start,
            gap: (1000.0 / per_s).max(1.0) as u64,
            count: count.max(0.0) as u32,
            next: 0,
            kind,
            tpl,
            target,
            a: 0,
            b: start,
        };
        let offset = |rng: &mut ChaCha8Rng| Target::Base {
            offset: rng.random_range(0..size),
            len: size,
        };
        match plan.archetype {
            Archetype::Airline => {
                if rng.random_bool(0.25) {
                    let start = at(rng.random_range(6..21), rng.random_range(0..60));
                    let mut c = blast(
                        start,
                        rng.random_range(100.0..500.0),
                        2.0,
                        Kind::Delay,
                        plan.pick(Kind::Delay, &mut rng) as u16,
                        offset(&mut rng),
                    );
                    c.a = rng.random();
                    c.b = start + rng.random_range(90..240) * 60_000;
                    add(c);
                }
                if rng.random_bool(0.12) {
                    let count = f64::from(size) * rng.random_range(0.02..0.05);
                    add(blast(
                        at(11, 0),
                        count,
                        40.0,
                        Kind::AirPromo,
                        plan.pick(Kind::AirPromo, &mut rng) as u16,
                        offset(&mut rng),
                    ));
                }
            }
            Archetype::Bank => {
                if rng.random_bool(0.1) {
                    let count = f64::from(size) * rng.random_range(0.01..0.03);
                    add(blast(
                        at(12, 0),
                        count,
                        40.0,
                        Kind::BankPromo,
                        plan.pick(Kind::BankPromo, &mut rng) as u16,
                        offset(&mut rng),
                    ));
                }
            }
            Archetype::Retailer | Archetype::SeasonalRetailer | Archetype::CompromisedAccount => {
                if plan.schedule.sale_day == Some(day) {
                    let total = plan.schedule.sale_total;
                    for (hour, share) in [(8, 0.45), (13, 0.33), (19, 0.22)] {
                        let count = (total * share).min(f64::from(size));
                        add(blast(
                            at(hour, 0),
                            count,
                            50.0,
                            Kind::Sale,
                            plan.pick(Kind::Sale, &mut rng) as u16,
                            offset(&mut rng),
                        ));
                    }
                } else {
                    let p = plan.schedule.campaign_p
                        * match wd {
                            5 => 1.25,
                            6 => 0.75,
                            _ => 1.0,
                        };
                    let hour = *[9, 10, 11, 12, 17, 18, 19]
                        .get(rng.random_range(0..7))
                        .unwrap_or(&10);
                    let start = at(hour, 0);
                    let before_abuse = plan.abuse_start.is_none_or(|t| start < t);
                    let audience = if plan.archetype == Archetype::SeasonalRetailer {
                        0.1..0.25
                    } else {
                        0.2..0.6
                    };
                    if rng.random_bool(p.min(1.0)) && before_abuse {
                        let count = f64::from(size) * rng.random_range(audience);
                        let per_s = rng.random_range(15.0..60.0);
                        add(blast(
                            start,
                            count,
                            per_s,
                            Kind::Promo,
                            plan.pick(Kind::Promo, &mut rng) as u16,
                            offset(&mut rng),
                        ));
                    }
                }
                if let Some(t) = plan.abuse_start
                    && plan.archetype == Archetype::CompromisedAccount
                {
                    for hour in 0..24 {
                        let start = at(hour, rng.random_range(0..60));
                        let p = if (7..23).contains(&hour) { 0.55 } else { 0.25 };
                        if start >= t && rng.random_bool(p) {
                            let count = plan.schedule.burst / 11.0 * rng.random_range(0.6..1.4);
                            let per_s = rng.random_range(10.0..40.0);
                            add(blast(start, count, per_s, Kind::Spam, ANY, Target::Mixed));
                        }
                    }
                }
            }
            Archetype::Newsletter => {
                let today = plan.schedule.weekday.is_none_or(|w| w == wd);
                if today {
                    let start = at(u64::from(plan.schedule.hour), 0);
                    add(blast(
                        start,
                        f64::from(size),
                        30.0,
                        Kind::Digest,
                        plan.pick(Kind::Digest, &mut rng) as u16,
                        whole,
                    ));
                }
            }
            Archetype::AggressiveMarketer => {
                let slots: [(&[u64], f64); 2] = [(&[10, 12, 14], 0.9), (&[17, 19, 20], 0.35)];
                for (hours, p) in slots {
                    if rng.random_bool(p) {
                        let hour = hours[rng.random_range(0..hours.len())];
                        let kind = if rng.random_bool(0.8) {
                            Kind::Pushy
                        } else {
                            Kind::Promo
                        };
                        let count = f64::from(size) * rng.random_range(0.25..0.5);
                        add(blast(
                            at(hour, 0),
                            count,
                            40.0,
                            kind,
                            plan.pick(kind, &mut rng) as u16,
                            offset(&mut rng),
                        ));
                    }
                }
            }
            Archetype::NewShop => {
                let (target, customers) = shop_size(plan, midnight + 12 * HOUR_MS);
                if rng.random_bool(0.35) {
                    let hour = if rng.random_bool(0.5) { 11 } else { 18 };
                    let count = (target * 0.5).min(f64::from(customers));
                    let t = Target::Base {
                        offset: rng.random_range(0..customers),
                        len: customers,
                    };
                    add(blast(
                        at(hour, 0),
                        count,
                        5.0,
                        Kind::ShopPromo,
                        plan.pick(Kind::ShopPromo, &mut rng) as u16,
                        t,
                    ));
                }
            }
            Archetype::ColdListSpammer => {
                let k = rng.random_range(2..=5);
                for _ in 0..k {
                    let hour = if rng.random_bool(0.1) {
                        rng.random_range(0..7)
                    } else {
                        rng.random_range(7..24)
                    };
                    let count = plan.volume / f64::from(k) * rng.random_range(0.6..1.4);
                    let per_s = rng.random_range(10.0..40.0);
                    add(blast(
                        at(hour, rng.random_range(0..60)),
                        count,
                        per_s,
                        Kind::Spam,
                        plan.pick(Kind::Spam, &mut rng) as u16,
                        Target::Cold(plan.schedule.invalid),
                    ));
                }
            }
            Archetype::Phisher => {
                let k = rng.random_range(3..=8);
                for _ in 0..k {
                    let kind = match rng.random_range(0..20) {
                        0..12 => Kind::Phish,
                        12..17 => Kind::PhishCode,
                        _ => Kind::PhishRefund,
                    };
                    let count = plan.volume / f64::from(k) * rng.random_range(0.5..1.5);
                    let per_s = rng.random_range(0.5..3.0);
                    add(blast(
                        at(rng.random_range(7..22), rng.random_range(0..60)),
                        count,
                        per_s,
                        kind,
                        plan.pick(kind, &mut rng) as u16,
                        Target::Random,
                    ));
                }
            }
            Archetype::RecipientFatigue => {
                for hour in 8..=22 {
                    if rng.random_bool(0.55) {
                        let kind = if rng.random_bool(0.6) {
                            Kind::Pushy
                        } else {
                            Kind::Promo
                        };
                        let count = f64::from(size) * rng.random_range(0.7..1.0);
                        add(blast(
                            at(hour, rng.random_range(0..50)),
                            count,
                            5.0,
                            kind,
                            plan.pick(kind, &mut rng) as u16,
                            offset(&mut rng),
                        ));
                    }
                }
            }
            Archetype::Snowshoe => {}
        }
    }

    fn run_campaigns(
        &mut self,
        plan: &Plan,
        cx: &Ctx<'_>,
        rng: &mut ChaCha8Rng,
        lo: Timestamp,
        hi: Timestamp,
    ) {
        let mut campaigns = std::mem::take(&mut self.campaigns);
        for c in &mut campaigns {
            while c.next < c.count {
                let ts = c.start + u64::from(c.next) * c.gap;
                if ts >= hi {
                    break;
                }
                let i = c.next;
                c.next += 1;
                if ts < lo {
                    continue;
                }
                let recipient = self.target(plan, cx, rng, c.target, i);
                let a = if c.kind == Kind::Delay {
                    c.a.wrapping_add(i / 150 * 7)
                } else {
                    rng.random()
                };
                self.sends.push(Send {
                    ts,
                    recipient,
                    kind: c.kind,
                    tpl: c.tpl,
                    a,
                    b: c.b,
                });
            }
        }
        campaigns.retain(|c| c.next < c.count && c.start + u64::from(c.next) * c.gap < cx.cutoff);
        self.campaigns = campaigns;
    }

    fn send(&mut self, plan: &Plan, cx: &Ctx<'_>, rng: &mut ChaCha8Rng, mut s: Send) {
        // Snowshoe drip picks its recipient here, to keep the trickle code free of the context.
        if s.recipient >= u32::MAX - 1 {
            s.recipient = if s.recipient == u32::MAX {
                cx.n + rng.random_range(0..cx.invalid_pool)
            } else {
                rng.random_range(0..cx.n)
            };
        }
        let r = s.recipient;
        let service = s.kind == Kind::Service;
        let tpl = if service {
            0
        } else if s.tpl == ANY {
            plan.pick(s.kind, rng)
        } else {
            usize::from(s.tpl)
        };
        let category = if service {
            Category::Service
        } else {
            plan.templates[tpl].category
        };
        if plan.honours(s.kind) {
            if self.blocks.get(&r).is_some_and(|&t| t <= s.ts) {
                return;
            }
            if category == Category::Marketing && self.optouts.get(&r).is_some_and(|&t| t <= s.ts) {
                return;
            }
        }
        if !service
            && let Some(w) = &mut self.window
            && !w.admit(s.ts, r)
        {
            return;
        }
        self.seq += 1;
        self.ord += 1;
        let ts = s.ts;
        if !self.announced {
            self.announced = true;
            if plan.established {
                let at = ts.saturating_sub(1).max(cx.start);
                self.out.events.push((
                    key(at, self.idx, 0),
                    Event::Business(BusinessInfo {
                        ts: at,
                        business: plan.name.clone(),
                        tier: plan.tier,
                        verified: plan.verified,
                        created: plan.created,
                    }),
                ));
            }
        }
        let mut text = String::with_capacity(160);
        let fields = Fields {
            brand: &plan.brand,
            domain: &plan.domain,
            currency: plan.currency,
            airline: &plan.airline,
            short_share: plan.short_share,
            scam_domains: &plan.scam_domains,
            target: &plan.target,
            phish_links: &plan.phish_links,
            a: s.a,
            b: s.b,
            recipient: r,
        };
        let template = if service {
            let casual = matches!(
                plan.archetype,
                Archetype::Retailer
                    | Archetype::NewShop
                    | Archetype::SeasonalRetailer
                    | Archetype::AggressiveMarketer
            );
            if casual && rng.random_bool(0.35) {
                let ham = &corpus().ham;
                text.push_str(&ham[rng.random_range(0..ham.len())]);
            } else {
                let pool = match plan.archetype {
                    Archetype::Airline => text::SERVICE_AIR,
                    Archetype::Bank => text::SERVICE_BANK,
                    _ => text::SERVICE_REPLY,
                };
                render(
                    pool[rng.random_range(0..pool.len())],
                    &fields,
                    rng,
                    &mut text,
                );
            }
            None
        } else {
            render(&plan.templates[tpl].text, &fields, rng, &mut text);
            Some(id2("t-", u64::from(self.idx) + 1, tpl as u64 + 1))
        };
        self.out.events.push((
            key(ts, self.idx, self.ord),
            Event::Message(Message {
                id: id2("m-", u64::from(self.idx) + 1, u64::from(self.seq)),
                ts,
                business: plan.name.clone(),
                recipient: id1("r-", u64::from(r) + 1),
                category,
                template,
                text,
            }),
        ));
        self.react(plan, cx, rng, ts, r, s.kind, category);
    }

    fn follow(&mut self, cx: &Ctx<'_>, sent: Timestamp, ts: Timestamp, r: u32, what: What) {
        let ts = ts.min(sent + MAX_FOLLOW_MS);
        if ts >= cx.end {
            return;
        }
        self.ord += 1;
        self.out.pending.push(Pending {
            ts,
            biz: self.idx,
            ord: self.ord,
            recipient: r,
            msg: self.seq,
            what,
        });
    }

    /// Draws the delivery receipt and the recipient's reaction to the message just sent.
    #[allow(clippy::too_many_arguments)]
    fn react(
        &mut self,
        plan: &Plan,
        cx: &Ctx<'_>,
        rng: &mut ChaCha8Rng,
        ts: Timestamp,
        r: u32,
        kind: Kind,
        category: Category,
    ) {
        let abusive = plan.abusive_kind(kind);
        let re = if abusive { plan.abuse } else { plan.normal };
        let td = ts + delay(rng, 2.0, 0.7).clamp(200, MAX_DELIVERY_MS);
        let fail = if r >= cx.n || churned(r) {
            Some(Fail::InvalidNumber)
        } else if self.blocks.get(&r).is_some_and(|&t| t <= ts) {
            Some(Fail::Undeliverable)
        } else if rng.random_bool(re.fail) {
            let u: f64 = rng.random();
            let (a, b, c) = if abusive {
                (0.4, 0.6, 0.95)
            } else {
                (0.6, 0.85, 0.95)
            };
            Some(if u < a {
                Fail::Unreachable
            } else if u < b {
                Fail::Expired
            } else if u < c {
                Fail::CarrierRejected
            } else {
                Fail::InvalidNumber
            })
        } else {
            None
        };
        if let Some(f) = fail {
            self.follow(cx, ts, td, r, What::Failed(f));
            return;
        }
        self.follow(cx, ts, td, r, What::Delivered);
        if category == Category::Marketing {
            self.out.marketing.push(r);
        }

        // Own frequency, for a business that floods the same recipients.
        let mut own = 1.0;
        if plan.archetype == Archetype::RecipientFatigue {
            let q = self.freq.entry(r).or_default();
            while q.front().is_some_and(|&t| t + DAY_MS <= ts) {
                q.pop_front();
            }
            q.push_back(ts);
            own = q.len() as f64;
        }
        let (read, median, sigma) = match kind {
            Kind::Code => (0.95, 12.0, 0.5),
            Kind::Service => (0.92, 40.0, 0.8),
            _ => (
                re.read / (1.0 + 0.08 * (own - 1.0)),
                re.read_median_s,
                re.read_sigma,
            ),
        };
        if !rng.random_bool(read.clamp(0.0, 1.0)) {
            return;
        }
        let mut t_read = td + delay(rng, median, sigma).max(1_000);
        if !matches!(kind, Kind::Code | Kind::Service | Kind::PhishCode)
            && hour_of(t_read) < 7
            && rng.random_bool(0.8)
        {
            // Asleep: read it in the morning.
            let morning = t_read / DAY_MS * DAY_MS + 7 * HOUR_MS;
            t_read = morning + delay(rng, 1_800.0, 1.0);
        }
        self.follow(cx, ts, t_read, r, What::Feedback(FeedbackKind::Read, true));
        if kind == Kind::Service {
            return;
        }

        let mut m = 1.0;
        if category == Category::Marketing {
            let f = f64::from(cx.fatigue.get(r, cx.step));
            m *= 1.0 + 0.2 * (f - 3.0).max(0.0);
        }
        if !plan.honours(kind) && self.optouts.get(&r).is_some_and(|&t| t <= ts) {
            m *= 4.0;
        }
        if kind == Kind::Code {
            m *= 0.1;
        }
        let p_block = re.block * m * own.powf(1.2);
        let p_report = re.report * m * own.powf(1.2);
        let p_optout = if category == Category::Marketing || abusive {
            re.optout * m * own
        } else {
            0.0
        };
        let u: f64 = rng.random();
        if u < p_block + p_report {
            let t = t_read + delay(rng, re.complain_median_s, re.complain_sigma).max(2_000);
            if u < p_block {
                let named = rng.random_bool(0.85);
                self.follow(cx, ts, t, r, What::Feedback(FeedbackKind::Block, named));
                let t = t.min(ts + MAX_FOLLOW_MS);
                let e = self.blocks.entry(r).or_insert(t);
                *e = (*e).min(t);
            } else {
                self.follow(cx, ts, t, r, What::Feedback(FeedbackKind::Report, true));
            }
        } else if u < p_block + p_report + p_optout {
            let t = t_read + delay(rng, 60.0, 1.0).max(2_000);
            self.follow(cx, ts, t, r, What::Feedback(FeedbackKind::OptOut, true));
            let t = t.min(ts + MAX_FOLLOW_MS);
            let e = self.optouts.entry(r).or_insert(t);
            *e = (*e).min(t);
        } else if rng.random_bool((re.reply * if kind == Kind::Code { 0.1 } else { 1.0 }).min(1.0))
        {
            let t = t_read + delay(rng, 90.0, 1.0).max(2_000);
            self.follow(cx, ts, t, r, What::Feedback(FeedbackKind::Reply, true));
            if plan.honours(kind) {
                // The reply opens a 24 h window: one or two answers from the business.
                let mut at =
                    t.min(ts + MAX_FOLLOW_MS) + delay(rng, 240.0, 1.0).clamp(20_000, 6 * HOUR_MS);
                for _ in 0..1 + u32::from(rng.random_bool(0.5)) {
                    if at < cx.cutoff {
                        self.scheduled.push(Send {
                            ts: at,
                            recipient: r,
                            kind: Kind::Service,
                            tpl: 0,
                            a: rng.random(),
                            b: at + DAY_MS,
                        });
                    }
                    at += rng.random_range(60_000..600_000);
                }
            }
        }
    }
}

fn push_num(s: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

/// `prefix` followed by `a`: `r-17`. Written by hand: ids are the bulk of the allocations.
pub(crate) fn id1(prefix: &str, a: u64) -> String {
    let mut s = String::with_capacity(prefix.len() + 10);
    s.push_str(prefix);
    push_num(&mut s, a);
    s
}

/// `prefix` followed by `a-b`: `m-3-1204`.
pub(crate) fn id2(prefix: &str, a: u64, b: u64) -> String {
    let mut s = String::with_capacity(prefix.len() + 16);
    s.push_str(prefix);
    push_num(&mut s, a);
    s.push('-');
    push_num(&mut s, b);
    s
}

/// A new shop's daily target and how many customers it has so far, at time `t`.
fn shop_size(plan: &Plan, t: Timestamp) -> (f64, u32) {
    let d = t.saturating_sub(plan.active_from) as f64 / DAY_MS as f64;
    let target = (10.0 * 1.6f64.powf(d)).min(plan.volume);
    let customers = ((30.0 + target * 3.0) as u32).min(plan.base.size).max(1);
    (target, customers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_unique_recipients_in_a_moving_day() {
        let mut w = Window {
            limit: 2,
            last: HashMap::new(),
            queue: VecDeque::new(),
        };
        assert!(w.admit(0, 1));
        assert!(w.admit(10, 2));
        assert!(w.admit(20, 1), "repeat recipient is free");
        assert!(!w.admit(30, 3), "third unique recipient within 24 h");
        // Recipient 2 expires at 10 + 24 h; 1 was seen again at 20.
        assert!(w.admit(DAY_MS + 10, 3));
        assert!(!w.admit(DAY_MS + 15, 4));
        assert!(w.admit(DAY_MS + 20, 4));
    }

    #[test]
    fn keys_order_by_time_then_business_then_counter() {
        assert!(key(1, 9, 9) < key(2, 0, 0));
        assert!(key(1, 1, 9) < key(1, 2, 0));
        assert!(key(1, 1, 1) < key(1, 1, 2));
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

    #[test]
    fn ids() {
        assert_eq!(id1("r-", 0), "r-0");
        assert_eq!(id1("r-", 1_234_567_890_123), "r-1234567890123");
        assert_eq!(id2("m-", 7, 10), "m-7-10");
        assert_eq!(id2("t-", u64::MAX, 1), format!("t-{}-1", u64::MAX));
    }

    #[test]
    fn weekdays() {
        // 2026-11-02 is a Monday; 2026-11-08 a Sunday.
        assert_eq!(weekday(1_793_577_600_000), 0);
        assert_eq!(weekday(1_793_577_600_000 + 6 * DAY_MS), 6);
    }
}
