//! The signal families, and the one table from a signal to its policy rule.
//!
//! Each family is a module that computes its signals' [`Reading`]s from the state it owns (the
//! link history, the hourly baseline) or the business's windows handed to it, and the policy:
//!
//! | module | signals |
//! |---|---|
//! | [`rates`] | the posterior rates: complaints, opt-outs, invalid numbers, failed deliveries, flagged content, reads |
//! | [`volume`] | the hourly burst against the baseline, recipient frequency, the new-business ramp |
//! | [`recipients`] | per message: opted out, the tier's limit, recipient fatigue |
//! | [`content`] | per message: classifier, rules, phishing link, obfuscation, new link domain, campaign |
//! | [`templates`] | per message: the template paused or disabled; owns each template's quality and pauses |
//!
//! A verdict and its explanation are made of the same readings. Asked to explain (`all`), a family
//! yields every signal's reading, with a note where it cannot judge; otherwise it yields at least
//! every reading that fires (the ones a verdict is made of), and skips computing the rest.
//! `Signals::rule` (in the policy) maps a signal to its rule, its weight and its action; `crate::decide`
//! combines readings into a verdict. The signals themselves, their codes and their settings are
//! one table (`signal_table` in `signal.rs`).

pub mod content;
pub mod rates;
pub mod recipients;
pub mod templates;
pub mod volume;

use serde::Serialize;

use crate::signal::{Hit, Signal, round_sig};
use crate::window::Span;

/// The note of a rate whose window is empty.
pub(crate) const NOTE_EMPTY: &str = "nothing in the window yet";
/// The note of a signal with too few events to judge.
pub(crate) const NOTE_FEW: &str = "too few events to judge yet (min_count)";

/// One signal's reading at a moment, fired or not: what an analyst asks for when a verdict needs
/// explaining. The hits in verdicts are exactly the readings that fired.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reading {
    /// The signal.
    pub signal: Signal,
    /// The measured value.
    pub value: f64,
    /// The policy's line.
    pub threshold: f64,
    /// The window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Span>,
    /// For rates: the posterior probability of being beyond the line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// For the burst test: the Poisson upper-tail probability of the hour's count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// The events behind the value (complaints, failures, messages ...).
    pub count: u64,
    /// Out of (recipients, deliveries; 0 where not a rate).
    pub of: u64,
    /// Whether it fired.
    pub fired: bool,
    /// Why it could not judge, or did not apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// What the signal saw, where a number does not say it (rule ids, a domain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Reading {
    /// A reading of `value` against `threshold` (both rounded as hits are), not fired.
    pub(crate) fn new(signal: Signal, value: f64, threshold: f64, count: u64, of: u64) -> Reading {
        Reading {
            signal,
            value: round_sig(value),
            threshold: round_sig(threshold),
            window: signal.window(),
            probability: None,
            p_value: None,
            count,
            of,
            fired: false,
            note: None,
            detail: None,
        }
    }

    pub(crate) fn detailed(mut self, detail: Option<String>) -> Reading {
        self.detail = detail;
        self
    }

    pub(crate) fn with_probability(mut self, p: f64) -> Reading {
        self.probability = Some(round_sig(p));
        self
    }

    pub(crate) fn fired(mut self, fired: bool) -> Reading {
        self.fired = fired;
        self
    }

    pub(crate) fn noted(mut self, note: Option<&'static str>) -> Reading {
        self.note = note;
        self
    }

    /// The hit this reading is when it fired.
    pub fn into_hit(self) -> Hit {
        Hit {
            signal: self.signal,
            value: self.value,
            threshold: self.threshold,
            window: self.window,
            probability: self.probability,
            detail: self.detail,
        }
    }

    /// The hit this reading is, leaving the reading as it was.
    pub fn hit(&self) -> Hit {
        self.clone().into_hit()
    }
}

/// Where a family puts its readings: every one when explaining, else only those that fire.
pub(crate) struct Readings<'a> {
    out: &'a mut Vec<Reading>,
    all: bool,
}

impl<'a> Readings<'a> {
    /// Readings into `out`; `all` keeps the ones that do not fire too.
    pub(crate) fn new(out: &'a mut Vec<Reading>, all: bool) -> Self {
        Readings { out, all }
    }

    /// Whether readings that do not fire are wanted.
    pub(crate) fn all(&self) -> bool {
        self.all
    }

    /// Keeps the reading `make` builds when it fired or every reading is wanted. `make` runs only
    /// then: rounding and details cost, and most readings of most messages do not fire.
    pub(crate) fn push(&mut self, fired: bool, make: impl FnOnce() -> Reading) {
        if fired || self.all {
            self.out.push(make().fired(fired));
        }
    }

    /// Keeps a reading built whatever happens.
    pub(crate) fn keep(&mut self, r: Reading) {
        if r.fired || self.all {
            self.out.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, Rule};
    use crate::signal::Scope;

    #[test]
    fn the_table_gives_message_signals_message_rules_and_business_signals_business_ones() {
        let policy = Policy::default();
        for signal in Signal::ALL {
            let is_message = matches!(policy.signals.rule(signal), Rule::Message { .. });
            assert_eq!(is_message, signal.scope() == Scope::Message, "{signal}");
        }
    }
}
