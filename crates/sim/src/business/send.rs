//! Sending one message: the checks a business of its kind respects, the message itself, and
//! every consequence drawn at once (delivery receipt, read, reply, block, report, opt-out).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use spamward_core::time::{DAY, HOUR, MINUTE, SECOND};
use spamward_core::{BusinessInfo, Category, Event, FeedbackKind, Message, Millis, Timestamp};

use super::traffic::hour_of;
use super::{
    ANY, BizState, Ctx, Fail, MAX_DELIVERY, MAX_FOLLOW, Pending, Send, What, id1, id2, key,
};
use crate::archetype::Archetype;
use crate::plan::{Kind, Plan};
use crate::rng::{length_in, mix64};
use crate::text::{self, Fields, corpus, render};

/// A log-normal delay, whole milliseconds, with the given median (seconds) and spread.
fn delay<R: Rng>(rng: &mut R, median_s: f64, sigma: f64) -> Millis {
    let z: f64 = StandardNormal.sample(rng);
    Millis::from_millis((median_s * 1000.0 * (sigma * z).exp()) as u64)
}

/// A small share of real numbers have been given up: every delivery to them fails.
fn churned(r: u32) -> bool {
    mix64(u64::from(r) ^ 0x00c4_u64.rotate_left(40)) % 1000 < 2
}

impl BizState {
    pub(super) fn send(&mut self, plan: &Plan, cx: &Ctx<'_>, rng: &mut ChaCha8Rng, mut s: Send) {
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
                let at = ts.saturating_sub(Millis::from_millis(1)).max(cx.start);
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
        let ts = ts.min(sent + MAX_FOLLOW);
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
        let td = ts + delay(rng, 2.0, 0.7).clamp(Millis::from_millis(200), MAX_DELIVERY);
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
            while q.front().is_some_and(|&t| t + DAY <= ts) {
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
        let mut t_read = td + delay(rng, median, sigma).max(SECOND);
        if !matches!(kind, Kind::Code | Kind::Service | Kind::PhishCode)
            && hour_of(t_read) < 7
            && rng.random_bool(0.8)
        {
            // Asleep: read it in the morning.
            let morning = t_read.floor(DAY) + 7 * HOUR;
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
            let t = t_read + delay(rng, re.complain_median_s, re.complain_sigma).max(2 * SECOND);
            if u < p_block {
                let named = rng.random_bool(0.85);
                self.follow(cx, ts, t, r, What::Feedback(FeedbackKind::Block, named));
                let t = t.min(ts + MAX_FOLLOW);
                let e = self.blocks.entry(r).or_insert(t);
                *e = (*e).min(t);
            } else {
                self.follow(cx, ts, t, r, What::Feedback(FeedbackKind::Report, true));
            }
        } else if u < p_block + p_report + p_optout {
            let t = t_read + delay(rng, 60.0, 1.0).max(2 * SECOND);
            self.follow(cx, ts, t, r, What::Feedback(FeedbackKind::OptOut, true));
            let t = t.min(ts + MAX_FOLLOW);
            let e = self.optouts.entry(r).or_insert(t);
            *e = (*e).min(t);
        } else if rng.random_bool((re.reply * if kind == Kind::Code { 0.1 } else { 1.0 }).min(1.0))
        {
            let t = t_read + delay(rng, 90.0, 1.0).max(2 * SECOND);
            self.follow(cx, ts, t, r, What::Feedback(FeedbackKind::Reply, true));
            if plan.honours(kind) {
                // The reply opens a 24 h window: one or two answers from the business.
                let mut at =
                    t.min(ts + MAX_FOLLOW) + delay(rng, 240.0, 1.0).clamp(20 * SECOND, 6 * HOUR);
                for _ in 0..1 + u32::from(rng.random_bool(0.5)) {
                    if at < cx.cutoff {
                        self.scheduled.push(Send {
                            ts: at,
                            recipient: r,
                            kind: Kind::Service,
                            tpl: 0,
                            a: rng.random(),
                            b: at + DAY,
                        });
                    }
                    at += length_in(rng, MINUTE..10 * MINUTE);
                }
            }
        }
    }
}
