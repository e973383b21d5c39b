//! spamward's scoring core.
//!
//! Events (messages, feedback, delivery receipts, business records) go in; per-business state,
//! signals, a policy decision and an explained verdict come out:
//!
//! ```text
//! Event → BusinessState (windows, counters, baselines) → signals (Hit: code, value, threshold,
//!       window) → Policy (weights, actions) → Verdict { action, score, reasons }
//! ```
//!
//! The core is pure: it does no I/O and reads no clock — event time is the only time it knows —
//! so batch replay, the streaming filter and tests drive exactly the same code and agree verdict
//! for verdict. State is keyed by business id; [`Engine`] runs businesses in parallel.
#![deny(missing_docs)]

pub mod business;
pub mod content;
pub mod corpus;
pub mod cross;
mod decide;
pub mod engine;
pub mod event;
pub mod policy;
pub mod signal;
pub mod signals;
pub mod stats;
pub mod time;
pub mod verdict;
pub mod window;

pub use business::{BusinessState, MessageContext, Standing};
pub use content::{Campaigns, ContentFacts};
pub use cross::{CrossState, CrossStore, RecipientLoad, Sweep};
pub use engine::{Analyzed, Analyzer, BusinessPass, CrossPass, Engine, Prepared, apply};
pub use event::{
    BusinessInfo, Category, DecodeError, DecodeErrorKind, Delivery, DeliveryStatus, Event,
    Feedback, FeedbackKind, Message, Tier, Timestamp,
};
pub use policy::{Policy, PolicyError};
pub use signal::{Hit, Signal};
pub use signals::Reading;
pub use signals::templates::{TemplateQuality, TemplateStanding};
pub use time::Millis;
pub use verdict::{Action, Quality, Status, StatusChange, Trigger, Verdict};
