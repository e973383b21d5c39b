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

/// Every signal spamward computes, by stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub enum Signal {
    /// Complaints (blocks + reports) over unique recipients, last 24 h, judged at the act threshold.
    ComplaintRate24h,
    /// The same over 7 days.
    ComplaintRate7d,
    /// Complaints over 7 days judged at the warn threshold: lowers quality, acts on nothing alone.
    ComplaintWarn7d,
    /// Opt-outs over unique recipients, last 24 h.
    OptOutRate24h,
    /// Deliveries failed as `invalid_number` over all deliveries, last 24 h: a bought list.
    InvalidNumberRate24h,
    /// The same over 7 days, at a lower threshold: a list salted with bought numbers.
    InvalidNumberRate7d,
    /// All failed deliveries over all deliveries, last 24 h.
    FailedDeliveryRate24h,
    /// Reads over delivered messages, last 7 days, judged below the threshold.
    LowReadRate7d,
    /// Messages in the last hour against the business's own baseline (Poisson upper tail).
    VolumeBurst1h,
    /// Marketing messages per unique marketing recipient, last 24 h: flooding the same people.
    RecipientFrequency24h,
    /// Marketing to a recipient who opted out of this business and has not replied since.
    OptedOut,
    /// A new recipient for a business that already reached its tier's unique-recipient limit.
    TierLimit24h,
    /// A business with no history sending faster than the ramp allows.
    NewBusinessRamp1h,
    /// The recipient already got more marketing from all businesses in 24 h than the cap.
    RecipientFatigue24h,
    /// The text classifier says spam (probability at or above the model's threshold).
    ContentClassifier,
    /// The content rules that fired weigh at least the threshold (noisy-or of their weights).
    ContentRules,
    /// A link impersonates a protected brand or is on the domain blocklist.
    PhishingLink,
    /// The text needed heavy normalisation (homoglyphs, invisible characters, leet, spacing).
    Obfuscation,
    /// A business with an established link history links a domain it never used before.
    NewLinkDomain,
    /// Near-identical text from several distinct businesses in 24 h (snowshoe spam).
    Campaign24h,
    /// Messages whose content was flagged over all messages, last 24 h.
    FlaggedContentRate24h,
}

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
    /// Every signal, in the order reasons are listed.
    pub const ALL: [Signal; 21] = [
        Signal::ComplaintRate24h,
        Signal::ComplaintRate7d,
        Signal::ComplaintWarn7d,
        Signal::OptOutRate24h,
        Signal::InvalidNumberRate24h,
        Signal::InvalidNumberRate7d,
        Signal::FailedDeliveryRate24h,
        Signal::LowReadRate7d,
        Signal::VolumeBurst1h,
        Signal::RecipientFrequency24h,
        Signal::OptedOut,
        Signal::TierLimit24h,
        Signal::NewBusinessRamp1h,
        Signal::RecipientFatigue24h,
        Signal::ContentClassifier,
        Signal::ContentRules,
        Signal::PhishingLink,
        Signal::Obfuscation,
        Signal::NewLinkDomain,
        Signal::Campaign24h,
        Signal::FlaggedContentRate24h,
    ];

    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Signal::ComplaintRate24h => "complaint_rate_24h",
            Signal::ComplaintRate7d => "complaint_rate_7d",
            Signal::ComplaintWarn7d => "complaint_warn_7d",
            Signal::OptOutRate24h => "opt_out_rate_24h",
            Signal::InvalidNumberRate24h => "invalid_number_rate_24h",
            Signal::InvalidNumberRate7d => "invalid_number_rate_7d",
            Signal::FailedDeliveryRate24h => "failed_delivery_rate_24h",
            Signal::LowReadRate7d => "low_read_rate_7d",
            Signal::VolumeBurst1h => "volume_burst_1h",
            Signal::RecipientFrequency24h => "recipient_frequency_24h",
            Signal::OptedOut => "opted_out",
            Signal::TierLimit24h => "tier_limit_24h",
            Signal::NewBusinessRamp1h => "new_business_ramp_1h",
            Signal::RecipientFatigue24h => "recipient_fatigue_24h",
            Signal::ContentClassifier => "content_classifier",
            Signal::ContentRules => "content_rules",
            Signal::PhishingLink => "phishing_link",
            Signal::Obfuscation => "obfuscation",
            Signal::NewLinkDomain => "new_link_domain",
            Signal::Campaign24h => "campaign_24h",
            Signal::FlaggedContentRate24h => "flagged_content_rate_24h",
        }
    }

    /// Looks a signal up by its code.
    pub fn from_code(code: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The signal's family.
    pub fn family(self) -> Family {
        match self {
            Signal::VolumeBurst1h | Signal::NewBusinessRamp1h => Family::Volume,
            Signal::ComplaintRate24h | Signal::ComplaintRate7d | Signal::ComplaintWarn7d => {
                Family::Complaints
            }
            Signal::InvalidNumberRate24h
            | Signal::InvalidNumberRate7d
            | Signal::FailedDeliveryRate24h => Family::Delivery,
            Signal::LowReadRate7d | Signal::RecipientFrequency24h => Family::Engagement,
            Signal::OptOutRate24h | Signal::OptedOut | Signal::TierLimit24h => Family::Consent,
            Signal::RecipientFatigue24h => Family::Fatigue,
            Signal::ContentClassifier
            | Signal::ContentRules
            | Signal::PhishingLink
            | Signal::Obfuscation
            | Signal::NewLinkDomain
            | Signal::Campaign24h
            | Signal::FlaggedContentRate24h => Family::Content,
        }
    }

    /// Business standing or single message.
    pub fn scope(self) -> Scope {
        match self {
            Signal::OptedOut
            | Signal::TierLimit24h
            | Signal::NewBusinessRamp1h
            | Signal::RecipientFatigue24h
            | Signal::ContentClassifier
            | Signal::ContentRules
            | Signal::PhishingLink
            | Signal::Obfuscation
            | Signal::NewLinkDomain
            | Signal::Campaign24h => Scope::Message,
            _ => Scope::Business,
        }
    }

    /// The window the signal is computed over, if any.
    pub fn window(self) -> Option<Span> {
        match self {
            Signal::ComplaintRate24h
            | Signal::OptOutRate24h
            | Signal::InvalidNumberRate24h
            | Signal::FailedDeliveryRate24h
            | Signal::RecipientFrequency24h
            | Signal::TierLimit24h
            | Signal::RecipientFatigue24h
            | Signal::Campaign24h
            | Signal::FlaggedContentRate24h => Some(Span::Day),
            Signal::ComplaintRate7d
            | Signal::ComplaintWarn7d
            | Signal::InvalidNumberRate7d
            | Signal::LowReadRate7d => Some(Span::Week),
            Signal::VolumeBurst1h | Signal::NewBusinessRamp1h => Some(Span::Hour),
            Signal::OptedOut
            | Signal::ContentClassifier
            | Signal::ContentRules
            | Signal::PhishingLink
            | Signal::Obfuscation
            | Signal::NewLinkDomain => None,
        }
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
