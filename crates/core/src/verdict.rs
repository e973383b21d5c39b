//! Verdicts: what happens to a message, and where a business stands.

use std::fmt;

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::event::Timestamp;
use crate::signal::Hit;

/// What to do with one message, least severe first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Deliver.
    Allow,
    /// Defer: over a rate or limit, to be sent later, not lost.
    Throttle,
    /// Keep back for review or until early feedback arrives.
    Hold,
    /// Do not deliver.
    Block,
}

impl Action {
    /// Every action, least severe first.
    pub const ALL: [Action; 4] = [Action::Allow, Action::Throttle, Action::Hold, Action::Block];

    /// The name used in verdicts.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Throttle => "throttle",
            Action::Hold => "hold",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A business's standing, least severe first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Sending normally.
    Active,
    /// Its messages are deferred.
    Throttled,
    /// Its messages are blocked.
    Suspended,
}

impl Status {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Throttled => "throttled",
            Status::Suspended => "suspended",
        }
    }

    /// What the status does to each message of the business.
    pub fn action(self) -> Action {
        match self {
            Status::Active => Action::Allow,
            Status::Throttled => Action::Throttle,
            Status::Suspended => Action::Block,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The quality rating a business is shown, best first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// No concerns.
    High,
    /// Warning signs: complaints near the warn line, low reads, opt-outs.
    Medium,
    /// Complaints or invalid numbers past the act line.
    Low,
}

impl Quality {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::High => "high",
            Quality::Medium => "medium",
            Quality::Low => "low",
        }
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The message id.
    pub message: String,
    /// The sending business.
    pub business: String,
    /// What to do with it.
    pub action: Action,
    /// How bad it looks, 0 to 1: the noisy-or of the weights of every reason.
    pub score: f64,
    /// Every signal that fired, in [`crate::Signal::ALL`] order.
    pub reasons: Vec<Hit>,
}

impl Verdict {
    /// Appends the verdict as one JSON line (no newline) to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(out, self).expect("verdict serialises to JSON");
    }
}

/// A change of a business's status, with the reasons at that moment.
#[derive(Clone, Debug, PartialEq, Serialize, Encode, Decode)]
pub struct StatusChange {
    /// Event time of the change.
    pub ts: Timestamp,
    /// The status before.
    pub from: Status,
    /// The status after.
    pub to: Status,
    /// Id of the message or kind of event that tipped it.
    pub trigger: String,
    /// Signals that fired at that moment.
    pub reasons: Vec<Hit>,
}
