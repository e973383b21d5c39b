//! Campaigns: the blasts each kind of business plans at the start of a day, who a campaign goes
//! to, and its sends step by step.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use spamward_core::time::{DAY, HOUR, MINUTE};
use spamward_core::{Millis, Timestamp};

use super::traffic::{shop_size, weekday};
use super::{ANY, BizState, Campaign, Ctx, Send, Target};
use crate::archetype::Archetype;
use crate::plan::{Kind, Plan};
use crate::rng::{stream, tag};

impl BizState {
    pub(super) fn target(
        &self,
        plan: &Plan,
        cx: &Ctx<'_>,
        rng: &mut ChaCha8Rng,
        t: Target,
        i: u32,
    ) -> u32 {
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

    /// Decides the day's campaigns and blasts.
    #[allow(clippy::too_many_lines)]
    pub(super) fn plan_day(&mut self, plan: &Plan, cx: &Ctx<'_>, day: u64, t0: Timestamp) {
        let mut rng = stream(cx.seed, &[tag(b"day"), u64::from(self.idx), day]);
        let midnight = Timestamp::EPOCH + day * DAY;
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
        let at = |hour: u64, minute: u64| midnight + hour * HOUR + minute * MINUTE;
        let blast = |start, count: f64, per_s: f64, kind, tpl, target| Campaign {
            start,
            gap: Millis::from_millis((1000.0 / per_s).max(1.0) as u64),
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
                    c.b = start + rng.random_range(90..240) * MINUTE;
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
                let (target, customers) = shop_size(plan, midnight + 12 * HOUR);
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

    pub(super) fn run_campaigns(
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
}
