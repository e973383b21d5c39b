//! Signals: the named observations a decision is made of.
//!
//! A signal has a stable code (`complaint_rate_7d`) that never changes once shipped, because
//! reasons, reports, dashboards and policy files refer to it by that name. Signals do not know what
//! they cost: weights and actions live in the policy. A signal whose input is missing (too few
//! recipients, no baseline yet) yields nothing — never "clean".
//!
//! Families: volume, complaints, delivery, engagement and consent are computed from the events of
//! one business; fatigue counts across businesses per recipient. The content family (rules, links,
//! classifier, campaign fingerprints) joins here with its own codes, computed per message and
//! folded into the same verdicts.

use std::fmt;

use bincode::{Decode, Encode};
use serde::{Serialize, Serializer};

use crate::window::Span;

/// The signal table: every signal in the order reasons list them (the order is part of the
/// snapshot and report formats), with its stable code (also its key under the policy's
/// `[signals]`), the type of its rule in the policy, its family, scope and window. `$then!` is
/// called with the rows: the [`Signal`] enum and its lookups here, and the policy's
/// [`Signals`](crate::policy::Signals) settings, are generated from this one list.
macro_rules! signal_table {
    ($then:ident) => {
        $then! {
        /// Complaints (blocks + reports) over unique recipients, last 24 h, judged at the act threshold.
        ComplaintRate24h complaint_rate_24h RateRule [Complaints Business (Some(Span::Day))],
        /// The same over 7 days.
        ComplaintRate7d complaint_rate_7d RateRule [Complaints Business (Some(Span::Week))],
        /// Complaints over 7 days judged at the warn threshold: lowers quality, acts on nothing alone.
        ComplaintWarn7d complaint_warn_7d RateRule [Complaints Business (Some(Span::Week))],
        /// Opt-outs over unique recipients, last 24 h.
        OptOutRate24h opt_out_rate_24h RateRule [Consent Business (Some(Span::Day))],
        /// Deliveries failed as `invalid_number` over all deliveries, last 24 h: a bought list.
        InvalidNumberRate24h invalid_number_rate_24h RateRule [Delivery Business (Some(Span::Day))],
        /// The same over 7 days, at a lower threshold: a list salted with bought numbers.
        InvalidNumberRate7d invalid_number_rate_7d RateRule [Delivery Business (Some(Span::Week))],
        /// All failed deliveries over all deliveries, last 24 h.
        FailedDeliveryRate24h failed_delivery_rate_24h RateRule [Delivery Business (Some(Span::Day))],
        /// Reads over delivered messages, last 7 days, judged below the threshold.
        LowReadRate7d low_read_rate_7d RateRule [Engagement Business (Some(Span::Week))],
        /// Messages in the last hour against the business's own baseline (Poisson upper tail).
        VolumeBurst1h volume_burst_1h BurstRule [Volume Business (Some(Span::Hour))],
        /// Marketing messages per unique marketing recipient, last 24 h: flooding the same people.
        RecipientFrequency24h recipient_frequency_24h FrequencyRule [Engagement Business (Some(Span::Day))],
        /// Marketing to a recipient who opted out of this business and has not replied since.
        OptedOut opted_out MessageRule [Consent Message (None)],
        /// A new recipient for a business that already reached its tier's unique-recipient limit.
        TierLimit24h tier_limit_24h MessageRule [Consent Message (Some(Span::Day))],
        /// A business with no history sending faster than the ramp allows.
        NewBusinessRamp1h new_business_ramp_1h RampRule [Volume Message (Some(Span::Hour))],
        /// The recipient already got more marketing from all businesses in 24 h than the cap.
        RecipientFatigue24h recipient_fatigue_24h FatigueRule [Fatigue Message (Some(Span::Day))],
        /// The text classifier says spam (probability at or above the model's threshold).
        ContentClassifier content_classifier ClassifierRule [Content Message (None)],
        /// The content rules that fired weigh at least the threshold (noisy-or of their weights).
        ContentRules content_rules ScoreRule [Content Message (None)],
        /// A link impersonates a protected brand or is on the domain blocklist.
        PhishingLink phishing_link MessageRule [Content Message (None)],
        /// The text needed heavy normalisation (homoglyphs, invisible characters, leet, spacing).
        Obfuscation obfuscation ScoreRule [Content Message (None)],
        /// A business with an established link history links a domain it never used before.
        NewLinkDomain new_link_domain NewDomainRule [Content Message (None)],
        /// Near-identical text from several distinct businesses in 24 h (snowshoe spam).
        Campaign24h campaign_24h CampaignRule [Content Message (Some(Span::Day))],
        /// Messages whose content was flagged over all messages, last 24 h.
        FlaggedContentRate24h flagged_content_rate_24h RateRule [Content Business (Some(Span::Day))],
        /// The message uses a template the platform paused for its quality (red).
        TemplatePaused template_paused MessageRule [Templates Message (None)],
        /// The message uses a template disabled after its pauses were used up.
        TemplateDisabled template_disabled MessageRule [Templates Message (None)],
        /// Messages held or blocked for abuse (a cross-business campaign, marketing to opted-out
        /// recipients) over all messages, last 24 h: gives a campaign sender a standing.
        AbuseHoldRate24h abuse_hold_rate_24h RateRule [Consent Business (Some(Span::Day))],
        }
    };
}
pub(crate) use signal_table;

/// The [`Signal`] enum and its lookups, from the table's rows.
macro_rules! define_signals {
    ($($(#[$doc:meta])* $variant:ident $code:ident $rule:ident [$family:ident $scope:ident ($window:expr)],)+) => {
        /// Every signal spamward computes, by stable code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
        pub enum Signal {
            $($(#[$doc])* $variant,)+
        }

        impl Signal {
            /// Every signal, in the order reasons are listed.
            pub const ALL: [Signal; [$(Signal::$variant),+].len()] = [$(Signal::$variant),+];

            /// The stable code.
            pub fn code(self) -> &'static str {
                match self {
                    $(Signal::$variant => stringify!($code),)+
                }
            }

            /// The signal's family.
            pub fn family(self) -> Family {
                match self {
                    $(Signal::$variant => Family::$family,)+
                }
            }

            /// Business standing or single message.
            pub fn scope(self) -> Scope {
                match self {
                    $(Signal::$variant => Scope::$scope,)+
                }
            }

            /// The window the signal is computed over, if any.
            pub fn window(self) -> Option<Span> {
                match self {
                    $(Signal::$variant => $window,)+
                }
            }
        }
    };
}

signal_table!(define_signals);

/// The group a signal belongs to, for reports and documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// How much a business sends.
    Volume,
    /// What recipients say about it.
    Complaints,
    /// What the carriers say about its lists.
    Delivery,
    /// Whether recipients read what it sends.
    Engagement,
    /// Opt-outs and the messaging limits.
    Consent,
    /// How much one recipient gets from everybody.
    Fatigue,
    /// What the messages say and link to.
    Content,
    /// What the platform's template quality says: pauses and pacing.
    Templates,
}

/// Whether a signal judges the business (its standing) or one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Evaluated on the business's state; may change its status.
    Business,
    /// Evaluated per message; acts on that message only.
    Message,
}

impl Signal {
    /// Looks a signal up by its code.
    pub fn from_code(code: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// One signal that fired: what was measured, the line it crossed, over which window.
#[derive(Clone, Debug, PartialEq, Serialize, Encode, Decode)]
pub struct Hit {
    /// The signal's stable code.
    pub signal: Signal,
    /// The measured value (a rate, a count, a ratio).
    pub value: f64,
    /// The policy threshold it crossed.
    pub threshold: f64,
    /// The window it was measured over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Span>,
    /// For rates judged on their posterior: the probability that the true rate is beyond the
    /// threshold (below it, for `low_read_rate_7d`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// What the signal saw, where a number does not say it: the rule ids that fired, the
    /// domain linked and why it is suspect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl fmt::Display for Hit {
    /// `complaint_rate_7d 0.012 > 0.003 (7d)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cmp = if self.signal == Signal::LowReadRate7d {
            "<"
        } else {
            ">"
        };
        write!(f, "{} {} {cmp} {}", self.signal, self.value, self.threshold)?;
        match (self.window, self.probability) {
            (Some(w), Some(p)) => write!(f, " ({}, p={p})", w.as_str()),
            (Some(w), None) => write!(f, " ({})", w.as_str()),
            (None, Some(p)) => write!(f, " (p={p})"),
            (None, None) => Ok(()),
        }?;
        match &self.detail {
            Some(d) => write!(f, " [{d}]"),
            None => Ok(()),
        }
    }
}

impl Hit {
    /// A hit of `signal`, with values rounded to 6 significant digits for display.
    pub fn new(signal: Signal, value: f64, threshold: f64) -> Hit {
        Hit {
            signal,
            value: round_sig(value),
            threshold: round_sig(threshold),
            window: signal.window(),
            probability: None,
            detail: None,
        }
    }

    /// The same hit, with what the signal saw.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Hit {
        self.detail = Some(detail.into());
        self
    }

    /// The same hit, with the posterior probability behind it.
    pub fn with_probability(mut self, p: f64) -> Hit {
        self.probability = Some(round_sig(p));
        self
    }
}

/// Rounds to 6 significant digits, so reasons read as numbers rather than float noise.
pub fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = 6 - 1 - x.abs().log10().floor() as i32;
    if digits > 300 {
        // Past f64's range of powers of ten: too small to round, and too small to matter.
        return x;
    }
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_rounded_to_six_significant_digits_down_to_the_smallest_powers() {
        assert_eq!(round_sig(0.012_345_678), 0.012_345_7);
        assert_eq!(round_sig(-1_234_567.0), -1_234_570.0);
        assert_eq!(round_sig(0.0), 0.0);
        assert!(round_sig(f64::NAN).is_nan());
        // 1e-295 needs 300 digits after the point: still rounded.
        let tiny = 1.234_567_891e-295;
        let r = round_sig(tiny);
        assert_ne!(r, tiny);
        assert!(((r - 1.234_57e-295) / r).abs() < 1e-12, "{r:e}");
        // Below that, too small to round.
        assert_eq!(round_sig(1.234_567_891e-300), 1.234_567_891e-300);
    }

    #[test]
    fn a_hit_reads_as_its_code_value_line_and_window() {
        assert_eq!(Signal::ComplaintRate7d.to_string(), "complaint_rate_7d");
        let mut hit = Hit {
            signal: Signal::ComplaintRate7d,
            value: 0.012,
            threshold: 0.003,
            window: Some(Span::Week),
            probability: Some(0.99),
            detail: None,
        };
        assert_eq!(
            hit.to_string(),
            "complaint_rate_7d 0.012 > 0.003 (7d, p=0.99)"
        );
        hit.signal = Signal::LowReadRate7d;
        hit.probability = None;
        hit.detail = Some("why".into());
        assert_eq!(hit.to_string(), "low_read_rate_7d 0.012 < 0.003 (7d) [why]");
    }

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut codes: Vec<_> = Signal::ALL.iter().map(|s| s.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), Signal::ALL.len());
        for s in Signal::ALL {
            assert_eq!(Signal::from_code(s.code()), Some(s));
        }
    }

    #[test]
    fn rounding() {
        assert_eq!(round_sig(0.012048192771084338), 0.0120482);
        assert_eq!(round_sig(1234567.0), 1234570.0);
        assert_eq!(round_sig(0.0), 0.0);
        assert_eq!(round_sig(1e-310), 1e-310);
        let tiny = round_sig(1.1743599999999996e-204);
        assert!(
            ((tiny - 1.17436e-204) / 1.17436e-204).abs() < 1e-12,
            "{tiny}"
        );
    }
}
