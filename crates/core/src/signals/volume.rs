//! The volume family: the hour's messages against the business's own baseline (the Poisson upper
//! tail), marketing messages per marketing recipient, and the ramp a new business must keep to.
//! It owns the hourly [`Baseline`].

use bincode::{Decode, Encode};

use super::{NOTE_FEW, Reading, Readings};
use crate::event::Timestamp;
use crate::policy::{BurstRule, Policy};
use crate::signal::{Signal, round_sig};
use crate::stats::poisson_upper_tail;
use crate::time::HOUR;

/// Hourly volume baseline: an EWMA of hourly counts and a slowly decaying peak hour.
#[derive(Clone, Debug, Default, Encode, Decode)]
pub(crate) struct Baseline {
    /// Absolute hour index (whole hours since the epoch) being counted.
    hour: u64,
    /// Messages in that hour so far.
    count: u64,
    /// EWMA of completed hours.
    ewma: f64,
    /// Largest completed hour, decayed.
    peak: f64,
    /// Completed hours folded in.
    hours: u64,
}

impl Baseline {
    /// Counts a message at `ts`, folding the hours completed before it.
    pub(crate) fn add(&mut self, ts: Timestamp, alpha: f64, half_life_h: f64) {
        let h = ts.since_epoch() / HOUR;
        if self.hour == 0 {
            self.hour = h;
        }
        if h > self.hour {
            let decay = 0.5f64.powf(1.0 / half_life_h);
            let c = self.count as f64;
            self.ewma = if self.hours == 0 {
                c
            } else {
                alpha * c + (1.0 - alpha) * self.ewma
            };
            self.peak = (self.peak * decay).max(c);
            // Empty hours in between, at most four weeks of them one by one.
            let empty = (h - self.hour - 1).min(24 * 28);
            self.ewma *= (1.0 - alpha).powi(empty as i32);
            self.peak *= decay.powi(empty as i32);
            self.hours += 1 + (h - self.hour - 1);
            self.hour = h;
            self.count = 0;
        }
        self.count += 1;
    }

    /// The expected hourly count the burst test weighs the hour against: the EWMA or the share
    /// of the decayed peak, if larger.
    pub(crate) fn level(&self, rule: &BurstRule) -> f64 {
        self.ewma.max(rule.peak_share * self.peak)
    }

    /// Whether the business has the `min_baseline_hours` of history a baseline needs.
    pub(crate) fn ready(&self, rule: &BurstRule) -> bool {
        self.hours >= rule.min_baseline_hours
    }
}

/// The business-level volume readings: the burst test, then recipient frequency.
/// `messages_1h` is the business's messages in the last hour, `marketing_24h` its marketing
/// messages in the last 24 h and `marketing_recipients_24h` their unique recipients.
pub(crate) fn readings(
    baseline: &Baseline,
    messages_1h: u64,
    marketing_24h: u64,
    marketing_recipients_24h: u64,
    policy: &Policy,
    out: &mut Readings<'_>,
) {
    let s = &policy.signals;
    let burst = &s.volume_burst_1h;
    let ready = baseline.ready(burst);
    if ready || out.all() {
        let count = messages_1h;
        let lambda = baseline.level(burst).max(1.0);
        let line = burst.min_ratio * lambda;
        let mut r = Reading::new(Signal::VolumeBurst1h, count as f64, line, count, 0);
        if ready {
            // The tail is only worth computing past the cheap tests (or when explaining).
            let over = count >= burst.min_count && count as f64 >= line;
            if out.all() || over {
                let p = poisson_upper_tail(lambda, count);
                r.p_value = Some(round_sig(p));
                r.fired = over && p <= burst.p_value;
            }
        } else {
            r.note = Some("no baseline yet: too little history");
        }
        out.keep(r);
    }

    let freq = &s.recipient_frequency_24h;
    let (marketing, people) = (marketing_24h, marketing_recipients_24h);
    let ready = marketing >= freq.min_count && people > 0;
    if ready || out.all() {
        let value = if people == 0 {
            0.0
        } else {
            marketing as f64 / people as f64
        };
        let mut r = Reading::new(
            Signal::RecipientFrequency24h,
            value,
            freq.threshold,
            marketing,
            people,
        );
        if ready {
            r.fired = value >= freq.threshold;
        } else {
            r.note = Some(NOTE_FEW);
        }
        out.keep(r);
    }
}

/// The ramp: a business younger than the rule's hours may send `per_hour` messages in any hour.
/// `messages_1h` counts this message.
pub(crate) fn ramp(policy: &Policy, is_new: bool, messages_1h: u64, out: &mut Readings<'_>) {
    let ramp = &policy.signals.new_business_ramp_1h;
    let fired = is_new && messages_1h > ramp.per_hour;
    out.push(fired, || {
        Reading::new(
            Signal::NewBusinessRamp1h,
            messages_1h as f64,
            ramp.per_hour as f64,
            messages_1h,
            0,
        )
        .noted((!is_new).then_some("not a new business"))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Millis;

    const T0: Timestamp = Timestamp::from_millis(1_793_577_600_000);

    #[test]
    fn the_baseline_folds_hours_and_decays_over_empty_ones() {
        // α = 0.5, peak half-life 2 h (decay per hour 2^-½).
        let mut b = Baseline::default();
        let add = |b: &mut Baseline, hour: u64, n: usize| {
            for _ in 0..n {
                b.add(T0 + hour * HOUR + Millis::from_millis(1), 0.5, 2.0);
            }
        };
        add(&mut b, 0, 4);
        assert_eq!((b.hours, b.count, b.ewma, b.peak), (0, 4, 0.0, 0.0));
        add(&mut b, 1, 8);
        // The first hour is the EWMA and the peak.
        assert_eq!((b.hours, b.count, b.ewma, b.peak), (1, 8, 4.0, 4.0));
        add(&mut b, 4, 1);
        // Hour 1 folds in: EWMA 0.5 × 8 + 0.5 × 4 = 6, peak max(4 × 2^-½, 8) = 8; then two
        // empty hours: EWMA × 0.5² = 1.5, peak × (2^-½)² = 4.
        assert_eq!((b.hours, b.count), (4, 1));
        assert!((b.ewma - 1.5).abs() < 1e-12, "{}", b.ewma);
        assert!((b.peak - 4.0).abs() < 1e-12, "{}", b.peak);
        let rule = |share: f64, hours: u64| BurstRule {
            peak_share: share,
            min_baseline_hours: hours,
            ..Policy::default().signals.volume_burst_1h
        };
        assert!((b.level(&rule(0.5, 4)) - 2.0).abs() < 1e-12);
        assert_eq!(b.level(&rule(0.25, 4)), 1.5);
        assert!(b.ready(&rule(0.5, 4)));
        assert!(!b.ready(&rule(0.5, 5)));
        // Hour 5, one message: hour 4 (one message) folds in: EWMA 0.5 × 1 + 0.5 × 1.5 = 1.25,
        // and the peak decays below its old value: max(4 × 2^-½, 1).
        add(&mut b, 5, 1);
        assert!((b.ewma - 1.25).abs() < 1e-12, "{}", b.ewma);
        assert!((b.peak - 4.0 * 0.5f64.sqrt()).abs() < 1e-12, "{}", b.peak);
        // A hundred hours later: hour 5 folds in (EWMA 1.125, peak max(2√2 × 2^-½, 1) = 2), then
        // 99 empty hours, each one decaying both.
        add(&mut b, 105, 1);
        assert_eq!(b.hours, 105);
        let ewma = 1.125 * 0.5f64.powi(99);
        let peak = 2.0 * 0.5f64.powf(49.5);
        assert!((b.ewma / ewma - 1.0).abs() < 1e-9, "{} vs {ewma}", b.ewma);
        assert!((b.peak / peak - 1.0).abs() < 1e-9, "{} vs {peak}", b.peak);
    }
}
