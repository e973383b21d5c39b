//! A business's timeline: its hourly history with the trailing 24-hour complaint rate and its
//! credible interval, as `explain` prints it and the HTML report draws it.

use serde::Serialize;
use spamward_core::business::HourCounts;
use spamward_core::time::DAY;
use spamward_core::{Policy, Standing};

/// One hour of a business's timeline.
#[derive(Serialize)]
pub(crate) struct Hour {
    #[serde(flatten)]
    pub(crate) counts: HourCounts,
    pub(crate) tier_limit: Option<u64>,
    pub(crate) complaints_24h: u64,
    pub(crate) complaint_rate_24h: f64,
    pub(crate) complaint_rate_low: f64,
    pub(crate) complaint_rate_high: f64,
}

/// The hourly history with the trailing 24-hour complaint rate and its interval.
pub(crate) fn timeline(s: &Standing, policy: &Policy) -> Vec<Hour> {
    let rule = &policy.signals.complaint_rate_24h;
    let scale = if s.young {
        policy.trust.young_prior_scale
    } else {
        1.0
    };
    let prior = rule.prior(scale);
    let level = policy.status.interval_level;
    let mut out = Vec::with_capacity(s.history.len());
    let mut from = 0;
    let mut trailing = 0u64;
    for h in &s.history {
        trailing += u64::from(h.complaints);
        while s.history[from].hour + DAY <= h.hour {
            trailing -= u64::from(s.history[from].complaints);
            from += 1;
        }
        let of = u64::from(h.recipients_24h);
        let (low, high) = prior.interval(trailing, of.max(trailing), level);
        out.push(Hour {
            counts: *h,
            tier_limit: None,
            complaints_24h: trailing,
            complaint_rate_24h: if of == 0 {
                0.0
            } else {
                spamward_core::signal::round_sig(trailing as f64 / of as f64)
            },
            complaint_rate_low: spamward_core::signal::round_sig(low),
            complaint_rate_high: spamward_core::signal::round_sig(high),
        });
    }
    // The tier's limit is known at the end only; show it on every hour for reference.
    let limit = s.tier.limit();
    for h in &mut out {
        h.tier_limit = limit;
    }
    out
}
