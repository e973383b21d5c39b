//! Steady traffic: the daily curves and calendar, and the trickle of orders, codes, trips and
//! snowshoe drip that each kind of business sends through the day.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};
use spamward_core::time::{DAY, HOUR, MINUTE, SECOND};
use spamward_core::{Millis, Timestamp};

use super::{ANY, BizState, Send};
use crate::archetype::Archetype;
use crate::plan::{Kind, Plan};
use crate::rng::{length_in, time_in};

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

pub(super) fn hour_of(ts: Timestamp) -> usize {
    ((ts.since_epoch() / HOUR) % 24) as usize
}

/// 0 = Monday.
pub(super) fn weekday(ts: Timestamp) -> u32 {
    ((ts.since_epoch() / DAY + 3) % 7) as u32
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

/// A new shop's daily target and how many customers it has so far, at time `t`.
pub(super) fn shop_size(plan: &Plan, t: Timestamp) -> (f64, u32) {
    let d = t.saturating_since(plan.active_from).as_millis() as f64 / DAY.as_millis() as f64;
    let target = (10.0 * 1.6f64.powf(d)).min(plan.volume);
    let customers = ((30.0 + target * 3.0) as u32).min(plan.base.size).max(1);
    (target, customers)
}

impl BizState {
    /// Steady traffic: orders, codes, trips, snowshoe drip.
    pub(super) fn trickle(
        &mut self,
        plan: &Plan,
        rng: &mut ChaCha8Rng,
        t0: Timestamp,
        lo: Timestamp,
        hi: Timestamp,
    ) {
        let h = hour_of(t0);
        let wd = weekday(t0);
        let frac = hi.saturating_since(lo).as_millis() as f64 / HOUR.as_millis() as f64;
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
                    let ts = time_in(rng, lo..hi);
                    let r = customer(rng);
                    let a: u32 = rng.random();
                    let dep = ts + DAY + length_in(rng, Millis::ZERO..HOUR) - HOUR / 2;
                    push(&mut self.sends, ts, r, Kind::CheckIn, a, dep);
                    if rng.random_bool(0.7) {
                        push(
                            &mut self.scheduled,
                            dep - 3 * HOUR,
                            r,
                            Kind::Boarding,
                            a,
                            dep - 40 * MINUTE,
                        );
                    }
                    if rng.random_bool(0.6) {
                        push(
                            &mut self.scheduled,
                            dep - 50 * MINUTE,
                            r,
                            Kind::Gate,
                            a,
                            dep - 40 * MINUTE,
                        );
                    }
                    if rng.random_bool(0.1) {
                        let new_dep = dep + rng.random_range(45..180) * MINUTE;
                        push(
                            &mut self.scheduled,
                            dep - 2 * HOUR,
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
                    let ts = time_in(rng, lo..hi);
                    let r = customer(rng);
                    push(&mut self.sends, ts, r, Kind::Code, 0, ts);
                    if rng.random_bool(0.08) {
                        let again = ts + length_in(rng, 40 * SECOND..120 * SECOND);
                        push(&mut self.scheduled, again, r, Kind::Code, 0, again);
                    }
                }
                let k = poisson(
                    rng,
                    0.3 * plan.volume / 24.0 * curve(&BANKING, h) * wk * frac,
                );
                for _ in 0..k {
                    let ts = time_in(rng, lo..hi);
                    push(&mut self.sends, ts, customer(rng), Kind::Alert, 0, ts);
                }
            }
            Archetype::Retailer
            | Archetype::SeasonalRetailer
            | Archetype::CompromisedAccount
            | Archetype::AggressiveMarketer => {
                let sale = plan.schedule.sale_day == Some(t0.since_epoch() / DAY);
                let (orders, carts) = match plan.archetype {
                    Archetype::AggressiveMarketer => (0.003, 0.008),
                    _ if sale => (0.012, 0.002),
                    _ => (0.004, 0.002),
                };
                let per_hour = f64::from(size) / 24.0 * curve(&DAYTIME, h) * wk * frac;
                for _ in 0..poisson(rng, orders * per_hour) {
                    let ts = time_in(rng, lo..hi);
                    let r = customer(rng);
                    let order: u32 = rng.random();
                    push(&mut self.sends, ts, r, Kind::OrderNew, order, ts);
                    if rng.random_bool(0.8) {
                        let shipped = ts + length_in(rng, 12 * HOUR..36 * HOUR);
                        push(
                            &mut self.scheduled,
                            shipped,
                            r,
                            Kind::OrderShipped,
                            order,
                            shipped + 3 * HOUR,
                        );
                    }
                }
                for _ in 0..poisson(rng, carts * per_hour) {
                    let ts = time_in(rng, lo..hi);
                    push(&mut self.sends, ts, customer(rng), Kind::Cart, 0, ts);
                }
            }
            Archetype::NewShop => {
                let (target, customers) = shop_size(plan, t0);
                let k = poisson(rng, 0.6 * target / 24.0 * curve(&DAYTIME, h) * wk * frac);
                for _ in 0..k {
                    let ts = time_in(rng, lo..hi);
                    let r = plan.base.get(rng.random_range(0..customers));
                    push(
                        &mut self.sends,
                        ts,
                        r,
                        Kind::ShopOrder,
                        rng.random(),
                        ts + 20 * HOUR,
                    );
                }
            }
            Archetype::Snowshoe => {
                let hours = plan.schedule.hours;
                if hours & (1 << h) != 0 {
                    let k = poisson(rng, plan.volume / f64::from(hours.count_ones()) * frac);
                    for _ in 0..k {
                        let ts = time_in(rng, lo..hi);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays() {
        // 2026-11-02 is a Monday; 2026-11-08 a Sunday.
        let monday = Timestamp::from_millis(1_793_577_600_000);
        assert_eq!(weekday(monday), 0);
        assert_eq!(weekday(monday + 6 * DAY), 6);
    }
}
