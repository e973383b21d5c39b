//! spamward on Kafka: the scoring core as consumer-group members, partitioned by business.
//!
//! # Topology
//!
//! ```text
//!   input topic (key = business id)            verdicts topic (key = business id)
//!   ─────────────────────────────┐          ┌──────────────────────────────────
//!                                ▼          │
//!            spamward kafka (group G) ×N ───┘
//!              │  ▲          │  ▲
//!              ▼  │          ▼  │
//!     G.checkpoints         G.signals
//!  (compacted changelog:   (cross-business observations,
//!   business states per     key = recipient or fingerprint,
//!   input partition)        read whole by every member)
//! ```
//!
//! Every event of a business is in one input partition, in order, because the record key is
//! the business id. Kafka's consumer-group protocol assigns partitions to members and moves them
//! when members come and go. A member that gains a partition restores the partition's business
//! states from the changelog before scoring it ([`state`]); one that loses a partition
//! checkpoints it first and stops scoring it.
//!
//! # Guarantees
//!
//! * **At least once, deduplicated by message id.** Offsets are committed only after the
//!   broker has acknowledged every verdict they cover and the partition's checkpoint. A member
//!   that dies loses nothing; its partitions resume at their last checkpoint on another member,
//!   and the messages it had scored since get a second verdict. Consumers of the verdicts topic
//!   keep the latest verdict of each message id (a business's verdicts are in one partition, in
//!   order). A clean hand-over (rebalance, stop) checkpoints first and gives no duplicates.
//! * **Per-business signals are those of replay.** A business's state sees its events in log
//!   order, checkpoints restore it exactly, and the core is the one replay runs; given the same
//!   cross-business inputs (carried in each verdict's headers), every verdict equals the one
//!   replay computes.
//! * **Cross-business signals are shared through the signals topic** ([`cross`]): never
//!   counting a message twice, and stale by at most what other members had not yet had
//!   acknowledged when the batch began — before each batch a member reads the signals topic up to
//!   the end offsets the broker lists at that moment and until the fetch reports each
//!   partition's end (some brokers list ends short of them). A member with nothing to score
//!   reads it once a second, so that partitions it takes over start from a current view.
//!   Observations are kept 36 h counted from their publication (the topic's timestamps are the
//!   broker's), whatever their event time.
#![deny(missing_docs)]

pub mod audit;
pub mod cross;
pub mod produce;
pub mod state;
pub mod topics;
pub mod worker;

pub use produce::{Loaded, load};
pub use worker::{Options, Stats, run};

/// Why a Kafka command failed. Each says what spamward was doing, naming the topic, partition or
/// offset involved.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The Kafka client refused or failed an operation.
    Client {
        /// What spamward was doing ("producing to \"events\"", "events/3: end offsets").
        doing: String,
        /// The client's error.
        source: rdkafka::error::KafkaError,
    },
    /// A topic is missing or the broker reports it unusable.
    Topic {
        /// The topic.
        topic: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The broker did not acknowledge records it was sent; nothing after them is committed.
    Unacknowledged {
        /// Records not acknowledged.
        failed: u64,
        /// What was being produced, and the first failure.
        detail: String,
    },
    /// Something the broker should have done did not happen in the time allowed.
    Timeout {
        /// What spamward was waiting for.
        waiting_for: String,
        /// How long it waited, and for what.
        detail: String,
    },
    /// A record on a topic is not one spamward writes.
    Record {
        /// Where: topic, partition and offset.
        at: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An input log could not be read: its file, line and field.
    Log(String),
}

impl Error {
    /// A client error met while `doing` something.
    pub fn client(doing: impl Into<String>, source: rdkafka::error::KafkaError) -> Error {
        Error::Client {
            doing: doing.into(),
            source,
        }
    }

    /// A problem with `topic`.
    pub fn topic(topic: &str, problem: impl Into<String>) -> Error {
        Error::Topic {
            topic: topic.to_owned(),
            problem: problem.into(),
        }
    }

    /// A record at `at` (topic/partition offset) that is not one spamward writes.
    pub fn record(at: impl Into<String>, problem: impl Into<String>) -> Error {
        Error::Record {
            at: at.into(),
            problem: problem.into(),
        }
    }

    /// A wait for `waiting_for` that ran out.
    pub fn timeout(waiting_for: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Timeout {
            waiting_for: waiting_for.into(),
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Client { doing, source } => write!(f, "{doing}: {source}"),
            Error::Topic { topic, problem } => write!(f, "topic {topic:?}: {problem}"),
            Error::Unacknowledged { failed, detail } => {
                write!(f, "{failed} {detail}")
            }
            Error::Timeout {
                waiting_for,
                detail,
            } => write!(f, "{waiting_for}: {detail}"),
            Error::Record { at, problem } => write!(f, "{at}: {problem}"),
            Error::Log(detail) => f.write_str(detail),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Client { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
