//! The rate family: complaints, opt-outs, invalid numbers, failed deliveries and flagged content
//! over the day and the week, judged on their Beta posteriors, and the read rate judged below its
//! line. It owns the counters they are computed from ([`Counts`], kept per time bucket in the
//! business's day and week windows).

use std::ops::{AddAssign, SubAssign};

use bincode::{Decode, Encode};

use super::{NOTE_EMPTY, NOTE_FEW, Reading, Readings};
use crate::policy::{Policy, RateRule};
use crate::signal::Signal;
use crate::window::Counter;

/// Counters per time bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub(crate) struct Counts {
    pub(crate) messages: u32,
    pub(crate) marketing: u32,
    pub(crate) blocks: u32,
    pub(crate) reports: u32,
    pub(crate) opt_outs: u32,
    pub(crate) deliveries: u32,
    pub(crate) delivered: u32,
    pub(crate) failed: u32,
    pub(crate) invalid: u32,
    pub(crate) reads: u32,
    pub(crate) replies: u32,
    /// Messages whose content was flagged.
    pub(crate) flagged: u32,
    /// Messages held or blocked for abuse ([`ABUSE_SIGNALS`]), and of them those that hit each
    /// signal.
    pub(crate) held_abuse: u32,
    pub(crate) held_campaign: u32,
    pub(crate) held_opted_out: u32,
}

/// The message signals whose holds and blocks count toward `abuse_hold_rate_24h`: abuse, not
/// the platform's limits, pauses or pacing.
pub(crate) const ABUSE_SIGNALS: [Signal; 2] = [Signal::Campaign24h, Signal::OptedOut];

/// `AddAssign`, `SubAssign` and [`Counter`] for [`Counts`], field by field, from one list of its
/// fields; the pattern below names every field, so a field added to `Counts` and not here does
/// not compile.
macro_rules! counts_field_wise {
    ($($field:ident),+ $(,)?) => {
        const _: fn(Counts) = |Counts { $($field: _),+ }| {};

        impl AddAssign for Counts {
            fn add_assign(&mut self, o: Counts) {
                $(self.$field += o.$field;)+
            }
        }

        impl SubAssign for Counts {
            fn sub_assign(&mut self, o: Counts) {
                $(self.$field -= o.$field;)+
            }
        }

        impl Counter for Counts {
            fn checked_add(self, o: Counts) -> Option<Counts> {
                Some(Counts {
                    $($field: self.$field.checked_add(o.$field)?,)+
                })
            }
        }
    };
}

counts_field_wise!(
    messages,
    marketing,
    blocks,
    reports,
    opt_outs,
    deliveries,
    delivered,
    failed,
    invalid,
    reads,
    replies,
    flagged,
    held_abuse,
    held_campaign,
    held_opted_out,
);

impl Counts {
    /// Blocks and reports.
    pub(crate) fn complaints(&self) -> u64 {
        u64::from(self.blocks) + u64::from(self.reports)
    }
}

/// What the rates are computed from at one moment.
pub(crate) struct Window {
    /// Counts over the last 24 h.
    pub(crate) day: Counts,
    /// Counts over the last 7 d.
    pub(crate) week: Counts,
    /// Unique recipients over the last 24 h.
    pub(crate) recipients_day: u64,
    /// Unique recipients over the last 7 d.
    pub(crate) recipients_week: u64,
    /// The scale on the priors' strength (below 1 for young businesses).
    pub(crate) prior_scale: f64,
}

/// Every rate's reading, in the order reasons list them.
pub(crate) fn readings(w: &Window, policy: &Policy, out: &mut Readings<'_>) {
    let s = &policy.signals;
    let (day, week) = (&w.day, &w.week);
    let deliveries = u64::from(day.deliveries);
    for (signal, rule, count, of) in [
        (
            Signal::ComplaintRate24h,
            &s.complaint_rate_24h,
            day.complaints(),
            w.recipients_day,
        ),
        (
            Signal::ComplaintRate7d,
            &s.complaint_rate_7d,
            week.complaints(),
            w.recipients_week,
        ),
        (
            Signal::ComplaintWarn7d,
            &s.complaint_warn_7d,
            week.complaints(),
            w.recipients_week,
        ),
        (
            Signal::OptOutRate24h,
            &s.opt_out_rate_24h,
            u64::from(day.opt_outs),
            w.recipients_day,
        ),
        (
            Signal::InvalidNumberRate24h,
            &s.invalid_number_rate_24h,
            u64::from(day.invalid),
            deliveries,
        ),
        (
            Signal::InvalidNumberRate7d,
            &s.invalid_number_rate_7d,
            u64::from(week.invalid),
            u64::from(week.deliveries),
        ),
        (
            Signal::FailedDeliveryRate24h,
            &s.failed_delivery_rate_24h,
            u64::from(day.failed),
            deliveries,
        ),
        (
            Signal::FlaggedContentRate24h,
            &s.flagged_content_rate_24h,
            u64::from(day.flagged),
            u64::from(day.messages),
        ),
        (
            Signal::AbuseHoldRate24h,
            &s.abuse_hold_rate_24h,
            u64::from(day.held_abuse),
            u64::from(day.messages),
        ),
    ] {
        if let Some(mut r) = rate(signal, rule, count, of, w.prior_scale, out.all()) {
            if signal == Signal::AbuseHoldRate24h && count > 0 && (r.fired || out.all()) {
                r.detail = Some(abuse_detail(day));
            }
            out.keep(r);
        }
    }
    read_rate(w, &s.low_read_rate_7d, out);
}

/// Which abuse the held messages were held for: `campaign_24h 812, opted_out 3`.
fn abuse_detail(day: &Counts) -> String {
    let mut parts = Vec::new();
    for (signal, n) in [
        (Signal::Campaign24h, day.held_campaign),
        (Signal::OptedOut, day.held_opted_out),
    ] {
        if n > 0 {
            parts.push(format!("{} {n}", signal.code()));
        }
    }
    parts.join(", ")
}

/// A rate beyond its line: fires when at least `min_count` events were counted and the posterior
/// probability of the true rate being beyond the threshold reaches the confidence.
fn rate(
    signal: Signal,
    rule: &RateRule,
    count: u64,
    of: u64,
    scale: f64,
    all: bool,
) -> Option<Reading> {
    let ready = count >= rule.min_count && of > 0;
    if !ready && !all {
        return None;
    }
    let value = if of == 0 {
        0.0
    } else {
        count as f64 / of.max(count) as f64
    };
    let mut r = Reading::new(signal, value, rule.threshold, count, of);
    if ready {
        let prior = rule.prior(scale);
        // Outside explanations only what fires is kept, and a tail certainly below its confidence
        // does not fire.
        if all || prior.may_be_above(count, of, rule.threshold, rule.confidence) {
            let p = prior.prob_above(count, of, rule.threshold);
            r = r.with_probability(p);
            r.fired = p >= rule.confidence;
        }
    } else {
        r.note = Some(if of == 0 { NOTE_EMPTY } else { NOTE_FEW });
    }
    Some(r)
}

/// Reads over delivered messages, last 7 days: fires when the rate is probably below the line.
fn read_rate(w: &Window, rule: &RateRule, out: &mut Readings<'_>) {
    let delivered = u64::from(w.week.delivered);
    let reads = u64::from(w.week.reads).min(delivered);
    let ready = delivered >= rule.min_count;
    if !ready && !out.all() {
        return;
    }
    let value = if delivered == 0 {
        0.0
    } else {
        reads as f64 / delivered as f64
    };
    let mut r = Reading::new(
        Signal::LowReadRate7d,
        value,
        rule.threshold,
        reads,
        delivered,
    );
    if ready {
        let prior = rule.prior(w.prior_scale);
        // As for the rates above.
        if out.all() || prior.may_be_below(reads, delivered, rule.threshold, rule.confidence) {
            let p = prior.prob_below(reads, delivered, rule.threshold);
            r = r.with_probability(p);
            r.fired = p >= rule.confidence;
        }
    } else {
        r.note = Some(NOTE_FEW);
    }
    out.keep(r);
}
