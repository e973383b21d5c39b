//! The policy: thresholds, weights and actions, from a validated TOML file.
//!
//! Signals do not know what they cost; the policy says. Its default (`data/policy.toml`) is
//! embedded in the binary, and a file given by the user is laid over it key by key, so a policy
//! file needs only what it changes. Every table refuses unknown keys, and every value is checked
//! once at load; errors carry the key's full path (`signals.complaint_rate_7d.threshold`).

use std::fmt;

use serde::Deserialize;

use crate::signal::Signal;
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
    /// Template quality and pausing.
    pub templates: TemplateConfig,
}

/// Template quality (green / yellow / red) and pausing; see `signals::templates`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// A template is red when its complaint rate (7 d, since its latest pause) is probably above
    /// this.
    pub red_complaint_rate: f64,
    /// Yellow when probably above this.
    pub yellow_complaint_rate: f64,
    /// Yellow when its read rate is probably below this.
    pub low_read_rate: f64,
    /// Posterior probability that makes "probably", 0.5..1.
    pub confidence: f64,
    /// Complaints needed before a template's complaint rate is judged.
    pub min_complaints: u64,
    /// Delivered receipts needed before its read rate is judged.
    pub min_deliveries: u64,
    /// Prior mean of a template's complaint rate.
    pub prior_rate: f64,
    /// Prior weight, in messages.
    pub prior_strength: f64,
    /// How long each pause lasts, in hours: the first, the second, ...; a template that turns red
    /// once more than there are pauses is disabled.
    pub pause_hours: Vec<u64>,
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

/// The policy's `[signals]` settings, one field per signal of the table
/// ([`signal_table`](crate::signal)), named by its code and typed by its rule.
macro_rules! define_signal_settings {
    ($($(#[$doc:meta])* $variant:ident $code:ident $rule:ident [$($meta:tt)*],)+) => {
        /// Settings of every signal, by code.
        #[derive(Clone, Debug, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Signals {
            $(
                #[doc = concat!("`", stringify!($code), "`.")]
                pub $code: $rule,
            )+
        }

        impl Signals {
            /// The rule of `signal`: its weight and action, as the decision needs them.
            pub fn rule(&self, signal: Signal) -> Rule<'_> {
                match signal {
                    $(Signal::$variant => self.$code.kind(),)+
                }
            }

            /// Checks every signal's settings, in the table's order.
            fn validate(&self) -> Result<(), PolicyError> {
                $(self.$code.validate(concat!("signals.", stringify!($code)))?;)+
                Ok(())
            }
        }
    };
}

crate::signal::signal_table!(define_signal_settings);

/// A signal's rule in the policy, as far as combining readings needs it.
#[derive(Clone, Copy, Debug)]
pub enum Rule<'a> {
    /// A rate judged on its posterior: its action depends on how sure the reading is.
    Rate(&'a RateRule),
    /// Another business-level signal.
    Business {
        /// Weight in the score.
        weight: f64,
        /// What a hit does to the business.
        action: BusinessAction,
    },
    /// A message-level signal.
    Message {
        /// Weight in the score.
        weight: f64,
        /// What a hit does to the message.
        action: MessageAction,
    },
}

impl Rule<'_> {
    /// The signal's weight in the score.
    pub fn weight(self) -> f64 {
        match self {
            Rule::Rate(r) => r.weight,
            Rule::Business { weight, .. } | Rule::Message { weight, .. } => weight,
        }
    }

    /// What a hit does to its message (nothing, for business-level signals: they act through the
    /// business's status).
    pub fn message_action(self) -> MessageAction {
        match self {
            Rule::Message { action, .. } => action,
            _ => MessageAction::None,
        }
    }

    /// What a business-level hit does to its business, escalation included; `probability` is the
    /// hit's posterior probability, for rates.
    pub fn business_action(self, probability: Option<f64>) -> BusinessAction {
        match self {
            Rule::Rate(r) => r.action_at(probability.unwrap_or(0.0)),
            Rule::Business { action, .. } => action,
            Rule::Message { .. } => BusinessAction::None,
        }
    }
}

/// What every kind of signal rule does: say what it weighs and does, and check its own settings.
/// A new kind of rule implements it; a new signal with an existing kind of rule needs nothing here.
trait SignalRule {
    /// Its weight and action.
    fn kind(&self) -> Rule<'_>;
    /// Checks its values; `path` is its key (`signals.<code>`), for errors.
    fn validate(&self, path: &str) -> Result<(), PolicyError>;
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

impl SignalRule for RateRule {
    fn kind(&self) -> Rule<'_> {
        Rule::Rate(self)
    }

    fn validate(&self, path: &str) -> Result<(), PolicyError> {
        let p = |k: &str| format!("{path}.{k}");
        unit_open(&p("threshold"), self.threshold)?;
        unit_open(&p("prior_rate"), self.prior_rate)?;
        if !(0.5..1.0).contains(&self.confidence) {
            return Err(PolicyError::at(
                p("confidence"),
                format!("must be in [0.5, 1), got {}", self.confidence),
            ));
        }
        positive(&p("prior_strength"), self.prior_strength)?;
        unit_closed(&p("weight"), self.weight)?;
        match (self.escalate_confidence, self.escalate_action) {
            (None, None) => Ok(()),
            (Some(c), Some(a)) => {
                if !(c > self.confidence && c < 1.0) {
                    return Err(PolicyError::at(
                        p("escalate_confidence"),
                        format!(
                            "must be above confidence ({}) and below 1, got {c}",
                            self.confidence
                        ),
                    ));
                }
                if a < self.action {
                    return Err(PolicyError::at(
                        p("escalate_action"),
                        "must not be less severe than action (set it equal to turn escalation off)",
                    ));
                }
                Ok(())
            }
            (Some(_), None) => Err(PolicyError::at(
                p("escalate_action"),
                "missing: escalate_confidence needs it",
            )),
            (None, Some(_)) => Err(PolicyError::at(
                p("escalate_confidence"),
                "missing: escalate_action needs it",
            )),
        }
    }
}

impl SignalRule for BurstRule {
    fn kind(&self) -> Rule<'_> {
        Rule::Business {
            weight: self.weight,
            action: self.action,
        }
    }

    fn validate(&self, path: &str) -> Result<(), PolicyError> {
        let p = |k: &str| format!("{path}.{k}");
        unit_open(&p("p_value"), self.p_value)?;
        if !(self.min_ratio >= 1.0 && self.min_ratio.is_finite()) {
            return Err(PolicyError::at(
                p("min_ratio"),
                format!("must be at least 1, got {}", self.min_ratio),
            ));
        }
        unit_open(&p("ewma_alpha"), self.ewma_alpha)?;
        positive(&p("peak_half_life_hours"), self.peak_half_life_hours)?;
        unit_closed(&p("peak_share"), self.peak_share)?;
        unit_closed(&p("weight"), self.weight)
    }
}

impl SignalRule for FrequencyRule {
    fn kind(&self) -> Rule<'_> {
        Rule::Business {
            weight: self.weight,
            action: self.action,
        }
    }

    fn validate(&self, path: &str) -> Result<(), PolicyError> {
        positive(&format!("{path}.threshold"), self.threshold)?;
        unit_closed(&format!("{path}.weight"), self.weight)
    }
}

/// A message-level rule: its weight and action, and what else it checks.
macro_rules! message_rule {
    ($rule:ty, |$r:ident, $path:ident| $check:expr) => {
        impl SignalRule for $rule {
            fn kind(&self) -> Rule<'_> {
                Rule::Message {
                    weight: self.weight,
                    action: self.action,
                }
            }

            fn validate(&self, path: &str) -> Result<(), PolicyError> {
                unit_closed(&format!("{path}.weight"), self.weight)?;
                let ($r, $path) = (self, path);
                $check
            }
        }
    };
}

message_rule!(MessageRule, |_r, _path| Ok(()));
message_rule!(NewDomainRule, |_r, _path| Ok(()));
message_rule!(RampRule, |r, path| at_least(
    &format!("{path}.per_hour"),
    r.per_hour,
    1
));
message_rule!(FatigueRule, |r, path| at_least(
    &format!("{path}.cap"),
    r.cap,
    1
));
message_rule!(ClassifierRule, |r, path| unit_closed(
    &format!("{path}.min_probability"),
    r.min_probability
));
message_rule!(ScoreRule, |r, path| unit_open(
    &format!("{path}.threshold"),
    r.threshold
));
message_rule!(CampaignRule, |r, path| {
    unit_closed(
        &format!("{path}.min_spam_probability"),
        r.min_spam_probability,
    )?;
    at_least(
        &format!("{path}.min_businesses"),
        u64::from(r.min_businesses),
        2,
    )
});

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
        unit_open("score.hold", self.score.hold)?;
        unit_closed("score.block", self.score.block)?;
        if self.score.block < self.score.hold {
            return Err(PolicyError::at(
                "score.block",
                "must not be below score.hold",
            ));
        }
        self.signals.validate()?;
        unit_closed("tiers.upgrade_usage", self.tiers.upgrade_usage)?;
        if self.tiers.service_window_hours == 0 || self.tiers.service_window_hours > 24 * 7 {
            return Err(PolicyError::at(
                "tiers.service_window_hours",
                "must be between 1 and 168",
            ));
        }
        unit_open("status.interval_level", self.status.interval_level)?;
        self.templates.validate()?;
        if !(self.trust.young_prior_scale > 0.0 && self.trust.young_prior_scale <= 1.0) {
            return Err(PolicyError::at(
                "trust.young_prior_scale",
                format!("must be in (0, 1], got {}", self.trust.young_prior_scale),
            ));
        }
        Ok(())
    }
}

impl TemplateConfig {
    fn validate(&self) -> Result<(), PolicyError> {
        unit_open("templates.red_complaint_rate", self.red_complaint_rate)?;
        unit_open(
            "templates.yellow_complaint_rate",
            self.yellow_complaint_rate,
        )?;
        if self.yellow_complaint_rate > self.red_complaint_rate {
            return Err(PolicyError::at(
                "templates.yellow_complaint_rate",
                "must not be above templates.red_complaint_rate",
            ));
        }
        unit_open("templates.low_read_rate", self.low_read_rate)?;
        if !(0.5..1.0).contains(&self.confidence) {
            return Err(PolicyError::at(
                "templates.confidence",
                format!("must be in [0.5, 1), got {}", self.confidence),
            ));
        }
        at_least("templates.min_complaints", self.min_complaints, 1)?;
        at_least("templates.min_deliveries", self.min_deliveries, 1)?;
        unit_open("templates.prior_rate", self.prior_rate)?;
        positive("templates.prior_strength", self.prior_strength)?;
        if let Some(i) = self
            .pause_hours
            .iter()
            .position(|&h| h == 0 || h > 24 * 365)
        {
            return Err(PolicyError::at(
                format!("templates.pause_hours[{i}]"),
                "must be between 1 and 8760",
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

fn at_least(path: &str, v: u64, min: u64) -> Result<(), PolicyError> {
    if v >= min {
        Ok(())
    } else {
        Err(PolicyError::at(path, format!("must be at least {min}")))
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

    #[test]
    fn a_young_business_s_prior_weighs_its_scale() {
        let r = &Policy::default().signals.complaint_rate_7d;
        assert_eq!(r.prior(1.0).strength, r.prior_strength);
        assert_eq!(r.prior(0.25).strength, r.prior_strength / 4.0);
        assert_eq!(r.prior(0.25).rate, r.prior_rate);
    }

    /// Values at the edges of their ranges: each is accepted or refused, with the key named.
    #[test]
    fn ranges_hold_at_their_edges() {
        let ok = [
            "[score]\nhold = 0.6\nblock = 0.6\n",
            "[tiers]\nservice_window_hours = 168\n",
            "[tiers]\nservice_window_hours = 1\n",
            "[signals.complaint_rate_7d]\nescalate_confidence = 0.999\n",
            "[signals.volume_burst_1h]\nmin_ratio = 1.0\npeak_share = 1.0\n",
            "[signals.new_business_ramp_1h]\nper_hour = 1\n",
            "[signals.campaign_24h]\nmin_businesses = 2\n",
        ];
        for text in ok {
            assert!(Policy::from_toml_overlay(text).is_ok(), "{text}");
        }
        let refused = [
            (
                "[tiers]\nservice_window_hours = 169\n",
                "tiers.service_window_hours",
            ),
            (
                "[signals.complaint_rate_7d]\nescalate_confidence = 0.95\n",
                "signals.complaint_rate_7d.escalate_confidence",
            ),
            (
                "[signals.complaint_rate_7d]\nescalate_confidence = 1.0\n",
                "signals.complaint_rate_7d.escalate_confidence",
            ),
            (
                "[signals.volume_burst_1h]\np_value = 0.0\n",
                "signals.volume_burst_1h.p_value",
            ),
            (
                "[signals.volume_burst_1h]\np_value = 1.0\n",
                "signals.volume_burst_1h.p_value",
            ),
            (
                "[signals.volume_burst_1h]\nmin_ratio = 0.5\n",
                "signals.volume_burst_1h.min_ratio",
            ),
            (
                "[signals.volume_burst_1h]\nmin_ratio = inf\n",
                "signals.volume_burst_1h.min_ratio",
            ),
            (
                "[signals.volume_burst_1h]\npeak_half_life_hours = 0.0\n",
                "signals.volume_burst_1h.peak_half_life_hours",
            ),
            (
                "[signals.volume_burst_1h]\npeak_half_life_hours = inf\n",
                "signals.volume_burst_1h.peak_half_life_hours",
            ),
            (
                "[signals.volume_burst_1h]\npeak_share = 1.5\n",
                "signals.volume_burst_1h.peak_share",
            ),
            (
                "[signals.recipient_frequency_24h]\nthreshold = 0.0\n",
                "signals.recipient_frequency_24h.threshold",
            ),
            (
                "[signals.recipient_frequency_24h]\nweight = 1.5\n",
                "signals.recipient_frequency_24h.weight",
            ),
            (
                "[signals.new_business_ramp_1h]\nper_hour = 0\n",
                "signals.new_business_ramp_1h.per_hour",
            ),
            (
                "[signals.campaign_24h]\nmin_businesses = 1\n",
                "signals.campaign_24h.min_businesses",
            ),
        ];
        for (text, path) in refused {
            let err = Policy::from_toml_overlay(text).unwrap_err();
            assert_eq!(err.path(), path, "{text}: {err}");
        }
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
