//! spamward's scoring core.
//!
//! Events (messages, feedback, delivery receipts, business records) go in; per-business state,
//! signals, a policy decision and an explained verdict come out. The core is pure: it does no I/O
//! and reads no clock — event time is the only time it knows — so batch replay, the streaming
//! filter and tests drive exactly the same code and agree verdict for verdict.
#![deny(missing_docs)]

pub mod corpus;
pub mod event;

pub use event::{
    BusinessInfo, Category, DecodeError, DecodeErrorKind, Delivery, DeliveryStatus, Event,
    Feedback, FeedbackKind, Message, Tier, Timestamp,
};
