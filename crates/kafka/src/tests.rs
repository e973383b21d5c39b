//! What the tests of every module share.

use spamward_core::Event;
use spamward_sim::{World, WorldConfig};

/// The log of a generated world of this size.
pub(crate) fn world(businesses: usize, recipients: usize, days: u32, seed: u64) -> Vec<Event> {
    let config = WorldConfig {
        businesses,
        recipients,
        days,
        seed,
        ..WorldConfig::default()
    };
    World::new(config).expect("valid world").events()
}

/// Every kind of error reads as one sentence naming what was involved.
#[test]
fn errors_say_what_was_being_done() {
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;
    let cases = [
        (
            crate::Error::client(
                "producing to \"events\"",
                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
            ),
            "producing to \"events\": Message production error: QueueFull (Local: Queue full)",
        ),
        (
            crate::Error::topic("events", "does not exist"),
            "topic \"events\": does not exist",
        ),
        (
            crate::Error::record("events/3 offset 17", "no message id"),
            "events/3 offset 17: no message id",
        ),
        (
            crate::Error::timeout(
                "reading signals",
                "no end of partitions [1] reported in 30s",
            ),
            "reading signals: no end of partitions [1] reported in 30s",
        ),
        (
            crate::Error::Unacknowledged {
                failed: 3,
                detail: "of 10 events were not acknowledged by the broker (first: x)".into(),
            },
            "3 of 10 events were not acknowledged by the broker (first: x)",
        ),
    ];
    for (error, want) in cases {
        assert_eq!(error.to_string(), want);
    }
    let client = crate::Error::client("x", KafkaError::Canceled);
    assert!(std::error::Error::source(&client).is_some());
}
