//! The policy: thresholds, weights and actions, from a validated TOML file.
//!
//! Signals do not know what they cost; the policy says. Its default (`data/policy.toml`) is
//! embedded in the binary, and a file given by the user is laid over it key by key, so a policy
//! file needs only what it changes. Every table refuses unknown keys, and every value is checked
//! once at load; errors carry the key's full path (`signals.complaint_rate_7d.threshold`).

use std::fmt;

use serde::Deserialize;

use crate::stats::Prior;

/// The default policy, as shipped in `data/policy.toml`.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../../../data/policy.toml");

/// A complete, validated policy.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Score thresholds for hold and block.
    pub score: ScoreConfig,
    /// Per-signal settings.
    pub signals: Signals,
    /// The messaging-limit ladder.
    pub tiers: TierConfig,
    /// How statuses change.
    pub status: StatusConfig,
    /// How much benefit of the doubt a business's history earns.
    pub trust: TrustConfig,
}

/// Trust: a business the platform knows little about earns a weaker prior, so its own record
/// speaks sooner.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// A business is young until its account (the `created` of its business record, else its
    /// first event) is this many days old.
    pub young_days: u64,
    /// Every rate rule's `prior_strength` is multiplied by this for a young business, 0..1.
    pub young_prior_scale: f64,
    /// Whether content evidence alone (`flagged_content_rate_24h`) may suspend a business that is
    /// no longer young; if not, it throttles at most.
    pub content_suspends_established: bool,
}

/// Score thresholds.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreConfig {
    /// At or above this score a message is held.
    pub hold: f64,
    /// At or above this score a message is blocked.
    pub block: f64,
}

/// Settings of every signal, by code.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signals {
    /// `complaint_rate_24h`.
    pub complaint_rate_24h: RateRule,
    /// `complaint_rate_7d`.
    pub complaint_rate_7d: RateRule,
    /// `complaint_warn_7d`.
    pub complaint_warn_7d: RateRule,
    /// `opt_out_rate_24h`.
    pub opt_out_rate_24h: RateRule,
    /// `invalid_number_rate_24h`.
    pub invalid_number_rate_24h: RateRule,
    /// `invalid_number_rate_7d`.
    pub invalid_number_rate_7d: RateRule,
    /// `failed_delivery_rate_24h`.
    pub failed_delivery_rate_24h: RateRule,
    /// `low_read_rate_7d` (fires below the threshold).
    pub low_read_rate_7d: RateRule,
    /// `volume_burst_1h`.
    pub volume_burst_1h: BurstRule,
    /// `recipient_frequency_24h`.
    pub recipient_frequency_24h: FrequencyRule,
    /// `opted_out`.
    pub opted_out: MessageRule,
    /// `tier_limit_24h`.
    pub tier_limit_24h: MessageRule,
    /// `new_business_ramp_1h`.
    pub new_business_ramp_1h: RampRule,
    /// `recipient_fatigue_24h`.
    pub recipient_fatigue_24h: FatigueRule,
    /// `content_classifier`.
    pub content_classifier: ClassifierRule,
    /// `content_rules`.
    pub content_rules: ScoreRule,
    /// `phishing_link`.
    pub phishing_link: MessageRule,
    /// `obfuscation`.
    pub obfuscation: ScoreRule,
    /// `new_link_domain`.
    pub new_link_domain: NewDomainRule,
    /// `campaign_24h`.
    pub campaign_24h: CampaignRule,
    /// `flagged_content_rate_24h`.
    pub flagged_content_rate_24h: RateRule,
}

/// What a business-level signal does to the business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusinessAction {
    /// Nothing beyond its weight in the score and its effect on quality.
    None,
    /// The business's messages are throttled while the signal holds.
    Throttle,
    /// The business is suspended: its messages are blocked.
    Suspend,
}

/// What a message-level signal does to that message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageAction {
    /// Nothing beyond its weight.
    None,
    /// Defer the message.
    Throttle,
    /// Hold it for review.
    Hold,
    /// Block it.
    Block,
}

impl MessageAction {
    /// The verdict action this maps to.
    pub fn action(self) -> crate::Action {
        use crate::Action;
        match self {
            MessageAction::None => Action::Allow,
            MessageAction::Throttle => Action::Throttle,
            MessageAction::Hold => Action::Hold,
            MessageAction::Block => Action::Block,
        }
    }
}

/// A rate judged on its Beta posterior.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateRule {
    /// The rate the signal is about, 0..1.
    pub threshold: f64,
    /// Posterior probability needed to fire, 0.5..1.
    pub confidence: f64,
    /// Events (complaints, failures, deliveries) needed before it may fire.
    pub min_count: u64,
    /// Prior mean of the rate.
    pub prior_rate: f64,
    /// Prior weight, in recipients.
    pub prior_strength: f64,
    /// Weight in the score, 0..1.
    pub weight: f64,
    /// What a hit does to the business.
    pub action: BusinessAction,
    /// A higher posterior probability at which the hit escalates ...
    #[serde(default)]
    pub escalate_confidence: Option<f64>,
    /// ... to this action.
    #[serde(default)]
    pub escalate_action: Option<BusinessAction>,
}

impl RateRule {
    /// The Beta prior, its strength scaled by `scale` (1 for a business with a history).
    pub fn prior(&self, scale: f64) -> Prior {
        Prior {
            rate: self.prior_rate,
            strength: self.prior_strength * scale,
        }
    }

    /// The action for a hit at posterior probability `p`.
    pub fn action_at(&self, p: f64) -> BusinessAction {
        match (self.escalate_confidence, self.escalate_action) {
            (Some(c), Some(a)) if p >= c => a,
            _ => self.action,
        }
    }
}

/// The hourly burst test.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstRule {
    /// Largest Poisson upper-tail probability that fires.
    pub p_value: f64,
    /// Smallest ratio of the hour's count to the baseline that fires.
    pub min_ratio: f64,
    /// Smallest hourly count that fires.
    pub min_count: u64,
    /// Hours of history before a business has a baseline.
    pub min_baseline_hours: u64,
    /// EWMA smoothing per hour, 0..1.
    pub ewma_alpha: f64,
    /// Half-life of the remembered peak hour, in hours.
    pub peak_half_life_hours: f64,
    /// Share of the decayed peak that counts as baseline, 0..1.
    pub peak_share: f64,
    /// Weight in the score.
    pub weight: f64,
    /// What a hit does to the business.
    pub action: BusinessAction,
}

/// Messages per recipient.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequencyRule {
    /// Marketing messages per unique marketing recipient that fires.
    pub threshold: f64,
    /// Marketing messages in 24 h before it may fire.
    pub min_count: u64,
    /// Weight in the score.
    pub weight: f64,
    /// What a hit does to the business.
    pub action: BusinessAction,
}

/// A message-level rule with no parameters of its own.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRule {
    /// Weight in the score.
    pub weight: f64,
    /// What a hit does to the message.
    pub action: MessageAction,
}

/// The ramp for new businesses.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RampRule {
    /// Messages allowed in any hour while new.
    pub per_hour: u64,
    /// How long a business counts as new, from its creation or first event.
    pub hours: u64,
    /// Weight in the score.
    pub weight: f64,
    /// What a hit does to the message.
    pub action: MessageAction,
}

/// The per-recipient marketing cap across businesses.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FatigueRule {
    /// Marketing messages per recipient per 24 h from all businesses.
    pub cap: u64,
    /// Weight in the score.
    pub weight: f64,
    /// What a hit does to the message.
    pub action: MessageAction,
}

/// The text classifier's say.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierRule {
    /// The spam probability at or above which it fires, 0..1; the model's own threshold when
    /// that is higher. The model's threshold is chosen for F1 on the SMS collection; acting on a
    /// business's message asks for more.
    pub min_probability: f64,
    /// Weight in the score.
    pub weight: f64,
    /// What a hit does to the message.
    pub action: MessageAction,
}

/// A message-level rule on a 0..1 score.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRule {
    /// The score at or above which it fires, 0..1.
    pub threshold: f64,
    /// Weight in the score.
    pub weight: f64,
    /// What a hit does to the message.
    pub action: MessageAction,
}

/// A domain a business never linked before.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDomainRule {
    /// Messages with links the business must have sent before its link history counts.
    pub min_linked_messages: u64,
    /// Hours since the business's first linked message before its link history counts.
    pub min_hours: u64,
    /// Weight in the score.
    pub weight: f64,
    /// What a hit does to the message.
    pub action: MessageAction,
}

/// Near-identical text from several businesses.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignRule {
    /// Distinct businesses (this one included) that fire it, at least 2.
    pub min_businesses: u32,
    /// Whether only young businesses (see `trust.young_days`) are judged by it: snowshoe spam
    /// runs on fresh accounts, while established businesses of a kind share template wording.
    pub young_only: bool,
    /// The message categories it applies to.
    pub categories: Vec<crate::event::Category>,
    /// The classifier's spam probability the message itself must reach, 0..1: businesses of one
    /// kind share template wording (boarding passes, order notices), so a shared text alone is
    /// no evidence; a shared text that reads like spam is.
    pub min_spam_probability: f64,
    /// Weight in the score.
    pub weight: f64,
    /// What a hit does to the message.
    pub action: MessageAction,
}

/// The messaging-limit ladder.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// Share of the limit used over 7 days that earns an upgrade.
    pub upgrade_usage: f64,
    /// Hours at a tier before the next upgrade.
    pub min_hours_at_tier: u64,
    /// Whether 250 -> 2k needs a verified business.
    pub verified_for_first_upgrade: bool,
    /// Hours at low quality before a downgrade.
    pub downgrade_after_hours: u64,
    /// Length of the customer-service window a reply opens.
    pub service_window_hours: u64,
}

/// Status rules.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusConfig {
    /// Minimum length of a suspension, in hours of event time.
    pub suspend_hours: u64,
    /// Credible-interval level for rates in reports.
    pub interval_level: f64,
}

/// A policy that could not be loaded: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    path: String,
    message: String,
}

impl PolicyError {
    fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The key's dotted path, empty for a syntax error.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "policy key `{}`: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for PolicyError {}

impl Default for Policy {
    fn default() -> Self {
        Policy::from_toml_str(DEFAULT_POLICY_TOML).expect("the shipped policy is valid")
    }
}

impl Policy {
    /// Parses a complete policy (every key present).
    pub fn from_toml_str(text: &str) -> Result<Policy, PolicyError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| PolicyError::at("", e.to_string()))?;
        Policy::from_table(table)
    }

    /// Lays `text` over the default policy: keys it has replace the default's, the rest stay.
    pub fn from_toml_overlay(text: &str) -> Result<Policy, PolicyError> {
        let mut base: toml::Table = DEFAULT_POLICY_TOML
            .parse()
            .expect("the shipped policy parses");
        let over: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| PolicyError::at("", e.to_string()))?;
        merge(&mut base, over);
        Policy::from_table(base)
    }

    fn from_table(table: toml::Table) -> Result<Policy, PolicyError> {
        let policy: Policy =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                PolicyError::at(path, e.into_inner().to_string())
            })?;
        policy.validate()?;
        Ok(policy)
    }

    /// Checks every value's range.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let s = &self.signals;
        unit_open("score.hold", self.score.hold)?;
        unit_closed("score.block", self.score.block)?;
        if self.score.block < self.score.hold {
            return Err(PolicyError::at(
                "score.block",
                "must not be below score.hold",
            ));
        }
        for (name, r) in [
            ("complaint_rate_24h", &s.complaint_rate_24h),
            ("complaint_rate_7d", &s.complaint_rate_7d),
            ("complaint_warn_7d", &s.complaint_warn_7d),
            ("opt_out_rate_24h", &s.opt_out_rate_24h),
            ("invalid_number_rate_24h", &s.invalid_number_rate_24h),
            ("invalid_number_rate_7d", &s.invalid_number_rate_7d),
            ("failed_delivery_rate_24h", &s.failed_delivery_rate_24h),
            ("low_read_rate_7d", &s.low_read_rate_7d),
            ("flagged_content_rate_24h", &s.flagged_content_rate_24h),
        ] {
            let p = |k: &str| format!("signals.{name}.{k}");
            unit_open(&p("threshold"), r.threshold)?;
            unit_open(&p("prior_rate"), r.prior_rate)?;
            if !(0.5..1.0).contains(&r.confidence) {
                return Err(PolicyError::at(
                    p("confidence"),
                    format!("must be in [0.5, 1), got {}", r.confidence),
                ));
            }
            positive(&p("prior_strength"), r.prior_strength)?;
            unit_closed(&p("weight"), r.weight)?;
            match (r.escalate_confidence, r.escalate_action) {
                (None, None) => {}
                (Some(c), Some(a)) => {
                    if !(c > r.confidence && c < 1.0) {
                        return Err(PolicyError::at(
                            p("escalate_confidence"),
                            format!(
                                "must be above confidence ({}) and below 1, got {c}",
                                r.confidence
                            ),
                        ));
                    }
                    if a < r.action {
                        return Err(PolicyError::at(
                            p("escalate_action"),
                            "must not be less severe than action (set it equal to turn escalation off)",
                        ));
                    }
                }
                (Some(_), None) => {
                    return Err(PolicyError::at(
                        p("escalate_action"),
                        "missing: escalate_confidence needs it",
                    ));
                }
                (None, Some(_)) => {
                    return Err(PolicyError::at(
                        p("escalate_confidence"),
                        "missing: escalate_action needs it",
                    ));
                }
            }
        }
        let b = &s.volume_burst_1h;
        unit_open("signals.volume_burst_1h.p_value", b.p_value)?;
        if !(b.min_ratio >= 1.0 && b.min_ratio.is_finite()) {
            return Err(PolicyError::at(
                "signals.volume_burst_1h.min_ratio",
                format!("must be at least 1, got {}", b.min_ratio),
            ));
        }
        unit_open("signals.volume_burst_1h.ewma_alpha", b.ewma_alpha)?;
        positive(
            "signals.volume_burst_1h.peak_half_life_hours",
            b.peak_half_life_hours,
        )?;
        unit_closed("signals.volume_burst_1h.peak_share", b.peak_share)?;
        unit_closed("signals.volume_burst_1h.weight", b.weight)?;
        positive(
            "signals.recipient_frequency_24h.threshold",
            s.recipient_frequency_24h.threshold,
        )?;
        unit_closed(
            "signals.recipient_frequency_24h.weight",
            s.recipient_frequency_24h.weight,
        )?;
        unit_closed("signals.opted_out.weight", s.opted_out.weight)?;
        unit_closed("signals.tier_limit_24h.weight", s.tier_limit_24h.weight)?;
        unit_closed(
            "signals.new_business_ramp_1h.weight",
            s.new_business_ramp_1h.weight,
        )?;
        if s.new_business_ramp_1h.per_hour == 0 {
            return Err(PolicyError::at(
                "signals.new_business_ramp_1h.per_hour",
                "must be at least 1",
            ));
        }
        unit_closed(
            "signals.recipient_fatigue_24h.weight",
            s.recipient_fatigue_24h.weight,
        )?;
        if s.recipient_fatigue_24h.cap == 0 {
            return Err(PolicyError::at(
                "signals.recipient_fatigue_24h.cap",
                "must be at least 1",
            ));
        }
        unit_closed(
            "signals.content_classifier.weight",
            s.content_classifier.weight,
        )?;
        unit_closed(
            "signals.content_classifier.min_probability",
            s.content_classifier.min_probability,
        )?;
        unit_closed("signals.phishing_link.weight", s.phishing_link.weight)?;
        for (name, r) in [
            ("content_rules", &s.content_rules),
            ("obfuscation", &s.obfuscation),
        ] {
            unit_open(&format!("signals.{name}.threshold"), r.threshold)?;
            unit_closed(&format!("signals.{name}.weight"), r.weight)?;
        }
        unit_closed("signals.new_link_domain.weight", s.new_link_domain.weight)?;
        unit_closed("signals.campaign_24h.weight", s.campaign_24h.weight)?;
        unit_closed(
            "signals.campaign_24h.min_spam_probability",
            s.campaign_24h.min_spam_probability,
        )?;
        if s.campaign_24h.min_businesses < 2 {
            return Err(PolicyError::at(
                "signals.campaign_24h.min_businesses",
                "must be at least 2",
            ));
        }
        unit_closed("tiers.upgrade_usage", self.tiers.upgrade_usage)?;
        if self.tiers.service_window_hours == 0 || self.tiers.service_window_hours > 24 * 7 {
            return Err(PolicyError::at(
                "tiers.service_window_hours",
                "must be between 1 and 168",
            ));
        }
        unit_open("status.interval_level", self.status.interval_level)?;
        if !(self.trust.young_prior_scale > 0.0 && self.trust.young_prior_scale <= 1.0) {
            return Err(PolicyError::at(
                "trust.young_prior_scale",
                format!("must be in (0, 1], got {}", self.trust.young_prior_scale),
            ));
        }
        Ok(())
    }
}

/// Recursive overlay: tables merge, everything else is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn unit_open(path: &str, v: f64) -> Result<(), PolicyError> {
    if v > 0.0 && v < 1.0 {
        Ok(())
    } else {
        Err(PolicyError::at(
            path,
            format!("must be between 0 and 1 (exclusive), got {v}"),
        ))
    }
}

fn unit_closed(path: &str, v: f64) -> Result<(), PolicyError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(PolicyError::at(
            path,
            format!("must be between 0 and 1, got {v}"),
        ))
    }
}

fn positive(path: &str, v: f64) -> Result<(), PolicyError> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(PolicyError::at(
            path,
            format!("must be a positive number, got {v}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policy_loads() {
        let p = Policy::default();
        assert_eq!(p.signals.complaint_rate_7d.threshold, 0.003);
        assert_eq!(p.signals.complaint_warn_7d.threshold, 0.001);
    }

    #[test]
    fn overlay_changes_only_what_it_names() {
        let p =
            Policy::from_toml_overlay("[signals.complaint_rate_7d]\nthreshold = 0.005\n").unwrap();
        assert_eq!(p.signals.complaint_rate_7d.threshold, 0.005);
        assert_eq!(
            p.signals.complaint_rate_7d.confidence,
            Policy::default().signals.complaint_rate_7d.confidence
        );
    }

    /// Each bad overlay and the key path its error must name.
    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                "[signals.complaint_rate_7d]\nthreshhold = 0.1\n",
                "signals.complaint_rate_7d.threshhold",
                "unknown field",
            ),
            (
                "[signals.complaint_rate_7d]\nthreshold = \"high\"\n",
                "signals.complaint_rate_7d.threshold",
                "invalid type",
            ),
            (
                "[signals.complaint_rate_7d]\nthreshold = 3.0\n",
                "signals.complaint_rate_7d.threshold",
                "between 0 and 1",
            ),
            (
                "[signals.opted_out]\naction = \"suspend\"\n",
                "signals.opted_out.action",
                "unknown variant",
            ),
            ("[score]\nhold = 0.9\nblock = 0.5\n", "score.block", "below"),
            (
                "[tiers]\nservice_window_hours = 0\n",
                "tiers.service_window_hours",
                "between",
            ),
            (
                "[signals.opt_out_rate_24h]\nescalate_confidence = 0.999\n",
                "signals.opt_out_rate_24h.escalate_action",
                "missing",
            ),
            (
                "[signals.complaint_rate_7d]\nescalate_confidence = 0.5\n",
                "signals.complaint_rate_7d.escalate_confidence",
                "above confidence",
            ),
            (
                "[trust]\nyoung_prior_scale = 0\n",
                "trust.young_prior_scale",
                "(0, 1]",
            ),
            ("[bogus]\nx = 1\n", "bogus", "unknown field `bogus`"),
        ];
        for (text, path, needle) in cases {
            let err = Policy::from_toml_overlay(text).unwrap_err();
            assert_eq!(err.path(), path, "{text}: {err}");
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
        let syntax = Policy::from_toml_overlay("[score\n").unwrap_err();
        assert!(syntax.to_string().contains("line 1"), "{syntax}");
    }
}
