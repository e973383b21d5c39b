//! The world's knobs and their validation.
//!
//! A world is fully determined by its [`WorldConfig`]: the same config always yields the same
//! businesses, the same ground truth and the same event sequence. Values are checked once, in
//! [`WorldConfig::validate`], and every error names the field it is about.

use std::fmt;

use serde::{Deserialize, Serialize};
use spamward_core::Timestamp;
use spamward_core::event::{MAX_TS, MIN_TS};
use spamward_core::time::DAY;

/// Most businesses a world may hold.
pub const MAX_BUSINESSES: usize = 1_000_000;
/// Most recipients a world may hold (the run keeps 8 bytes per recipient).
pub const MAX_RECIPIENTS: usize = 50_000_000;
/// Largest volume multiplier accepted.
pub const MAX_SCALE: f64 = 1_000.0;

/// What world to generate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldConfig {
    /// Number of businesses (default 500; about 80% legitimate, 20% abusive).
    pub businesses: usize,
    /// Number of distinct real recipients, shared by all businesses (default 200,000).
    pub recipients: usize,
    /// Length of the simulated period in days (default 7, at most 366).
    pub days: u32,
    /// Seed of every random draw (default 7).
    pub seed: u64,
    /// Start of the period in ms since the Unix epoch (default 2026-11-02T00:00:00Z, a Monday).
    pub start: Timestamp,
    /// Multiplies every business's volume and audience (default 1.0). New businesses stay
    /// within the 250-recipient tier whatever the scale.
    pub scale: f64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            businesses: 500,
            recipients: 200_000,
            days: 7,
            seed: 7,
            start: Timestamp::from_millis(1_793_577_600_000),
            scale: 1.0,
        }
    }
}

impl WorldConfig {
    /// The fewest recipients a world of `businesses` needs: customer bases must be able to
    /// overlap without every business messaging everyone.
    pub fn min_recipients(businesses: usize) -> usize {
        businesses.saturating_mul(20).max(1_000)
    }

    /// End of the period (exclusive).
    pub fn end(&self) -> Timestamp {
        self.start + u64::from(self.days) * DAY
    }

    /// Checks every value; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.businesses == 0 {
            return Err(ConfigError::new(
                "businesses",
                ConfigErrorKind::NoBusinesses,
            ));
        }
        if self.businesses > MAX_BUSINESSES {
            return Err(ConfigError::new(
                "businesses",
                ConfigErrorKind::TooManyBusinesses(self.businesses),
            ));
        }
        if self.days == 0 || self.days > 366 {
            return Err(ConfigError::new("days", ConfigErrorKind::Days(self.days)));
        }
        let need = Self::min_recipients(self.businesses);
        if self.recipients < need {
            return Err(ConfigError::new(
                "recipients",
                ConfigErrorKind::TooFewRecipients {
                    recipients: self.recipients,
                    businesses: self.businesses,
                    need,
                },
            ));
        }
        if self.recipients > MAX_RECIPIENTS {
            return Err(ConfigError::new(
                "recipients",
                ConfigErrorKind::TooManyRecipients(self.recipients),
            ));
        }
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= MAX_SCALE) {
            return Err(ConfigError::new(
                "scale",
                ConfigErrorKind::Scale(self.scale),
            ));
        }
        // Established businesses were created up to ~6 years before the start.
        let earliest = MIN_TS + 7 * 366 * DAY;
        if self.start < earliest || self.end() >= MAX_TS {
            return Err(ConfigError::new(
                "start",
                ConfigErrorKind::Start(self.start),
            ));
        }
        Ok(())
    }
}

/// A config value that cannot be used.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    field: &'static str,
    kind: ConfigErrorKind,
}

/// What is wrong with a config value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// `businesses` is zero.
    NoBusinesses,
    /// `businesses` is above [`MAX_BUSINESSES`].
    TooManyBusinesses(usize),
    /// `days` is zero or above 366.
    Days(u32),
    /// `recipients` is below [`WorldConfig::min_recipients`].
    TooFewRecipients {
        /// The value given.
        recipients: usize,
        /// The number of businesses it must serve.
        businesses: usize,
        /// The minimum.
        need: usize,
    },
    /// `recipients` is above [`MAX_RECIPIENTS`].
    TooManyRecipients(usize),
    /// `scale` is not a finite number in (0, [`MAX_SCALE`]].
    Scale(f64),
    /// `start` (or the end it implies) is outside the range event times may take.
    Start(Timestamp),
}

impl ConfigError {
    fn new(field: &'static str, kind: ConfigErrorKind) -> Self {
        ConfigError { field, kind }
    }

    /// The config field at fault.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What is wrong with it.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.kind
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config `{}`: ", self.field)?;
        match &self.kind {
            ConfigErrorKind::NoBusinesses => f.write_str("a world needs at least one business"),
            ConfigErrorKind::TooManyBusinesses(n) => {
                write!(
                    f,
                    "{n} businesses is more than the {MAX_BUSINESSES} supported"
                )
            }
            ConfigErrorKind::Days(d) => write!(f, "{d} days: expected 1 to 366"),
            ConfigErrorKind::TooFewRecipients {
                recipients,
                businesses,
                need,
            } => write!(
                f,
                "{recipients} recipients are too few for {businesses} businesses: need at least {need}"
            ),
            ConfigErrorKind::TooManyRecipients(n) => {
                write!(
                    f,
                    "{n} recipients is more than the {MAX_RECIPIENTS} supported"
                )
            }
            ConfigErrorKind::Scale(s) => {
                write!(
                    f,
                    "{s} is not a volume multiplier: expected a number above 0 and at most {MAX_SCALE}"
                )
            }
            ConfigErrorKind::Start(t) => write!(
                f,
                "{t} ms: the period must start after 2007 and end before 2100 (milliseconds since the Unix epoch)"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_a_monday() {
        let c = WorldConfig::default();
        c.validate().unwrap();
        // 1970-01-01 was a Thursday: days since then + 3, mod 7, is 0 on Mondays.
        assert_eq!((c.start.since_epoch() / DAY + 3) % 7, 0);
        assert_eq!(c.end().saturating_since(c.start), 7 * DAY);
    }

    /// Each bad config, the field it must be reported against and a phrase of the message.
    #[test]
    fn errors_name_the_field() {
        let base = WorldConfig::default();
        let cases: Vec<(WorldConfig, &str, &str)> = vec![
            (
                WorldConfig {
                    businesses: 0,
                    ..base.clone()
                },
                "businesses",
                "at least one",
            ),
            (
                WorldConfig {
                    businesses: 2_000_000,
                    ..base.clone()
                },
                "businesses",
                "more than",
            ),
            (
                WorldConfig {
                    days: 0,
                    ..base.clone()
                },
                "days",
                "1 to 366",
            ),
            (
                WorldConfig {
                    days: 367,
                    ..base.clone()
                },
                "days",
                "1 to 366",
            ),
            (
                WorldConfig {
                    recipients: 999,
                    ..base.clone()
                },
                "recipients",
                "need at least 10000",
            ),
            (
                WorldConfig {
                    businesses: 20,
                    recipients: 500,
                    ..base.clone()
                },
                "recipients",
                "need at least 1000",
            ),
            (
                WorldConfig {
                    scale: 0.0,
                    ..base.clone()
                },
                "scale",
                "above 0",
            ),
            (
                WorldConfig {
                    scale: -1.0,
                    ..base.clone()
                },
                "scale",
                "above 0",
            ),
            (
                WorldConfig {
                    scale: f64::NAN,
                    ..base.clone()
                },
                "scale",
                "above 0",
            ),
            (
                WorldConfig {
                    start: Timestamp::from_millis(1_000),
                    ..base.clone()
                },
                "start",
                "milliseconds",
            ),
            (
                WorldConfig {
                    start: Timestamp::from_millis(4_102_444_000_000),
                    ..base.clone()
                },
                "start",
                "before 2100",
            ),
        ];
        for (cfg, field, needle) in cases {
            let err = cfg.validate().unwrap_err();
            assert_eq!(err.field(), field, "{err}");
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn config_round_trips_and_rejects_unknown_fields() {
        let c = WorldConfig {
            seed: 11,
            scale: 2.5,
            ..WorldConfig::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<WorldConfig>(&json).unwrap(), c);
        let partial: WorldConfig = serde_json::from_str(r#"{"businesses":40}"#).unwrap();
        assert_eq!(partial.businesses, 40);
        assert_eq!(partial.days, 7);
        assert!(serde_json::from_str::<WorldConfig>(r#"{"bussinesses":40}"#).is_err());
    }
}
