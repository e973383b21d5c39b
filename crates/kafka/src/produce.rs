//! `spamward kafka-produce`: loads a log into a topic, keyed by business.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message as _};
use spamward_log::LogReader;

use crate::Error;
use crate::topics::{self, TIMEOUT};

/// What a load did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Events produced and acknowledged.
    pub events: u64,
    /// Records of the log that could not be read (each reported to `skipped`).
    pub skipped: u64,
    /// The topic's partition count.
    pub partitions: i32,
}

struct Acks {
    failed: AtomicU64,
    first: Mutex<Option<String>>,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| format!("partition {}: {e}", m.partition()));
        }
    }
}

/// Produces every event of the log at `path` to `topic` (created with `partitions` partitions
/// if missing): value = the event's canonical JSON, key = its business id, timestamp = its
/// event time. Records the log reader skips are passed to `skipped`; a fatal read error stops
/// the load after what was read is acknowledged.
pub fn load(
    brokers: &str,
    extra: &[(String, String)],
    topic: &str,
    partitions: i32,
    path: &Path,
    mut skipped: impl FnMut(&str),
) -> Result<Loaded, Error> {
    let config = topics::config(brokers, extra);
    let partitions = topics::ensure(&config, topic, partitions, &[])?;
    let producer: ThreadedProducer<Acks> = config
        .clone()
        .set("linger.ms", "20")
        .set("enable.idempotence", "true")
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(Acks {
            failed: AtomicU64::new(0),
            first: Mutex::new(None),
        })
        .map_err(|e| Error::client("cannot create a Kafka producer", e))?;
    let mut reader = LogReader::open(path).map_err(|e| Error::Log(e.to_string()))?;
    let mut loaded = Loaded {
        partitions,
        ..Loaded::default()
    };
    let mut value = Vec::with_capacity(512);
    let mut fatal = None;
    for item in &mut reader {
        let record = match item {
            Ok(r) => r,
            Err(e) if e.is_fatal() => {
                fatal = Some(e.to_string());
                break;
            }
            Err(e) => {
                loaded.skipped += 1;
                skipped(&e.to_string());
                continue;
            }
        };
        value.clear();
        record.event.write_json(&mut value);
        let mut rec = BaseRecord::to(topic)
            .key(record.event.business().as_bytes())
            .payload(&value)
            .timestamp(record.event.ts().as_millis() as i64);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(Error::client(format!("producing to {topic:?}"), e)),
            }
        }
        loaded.events += 1;
    }
    flush(&producer)?;
    let acks = producer.context();
    let failed = acks.failed.load(Ordering::Relaxed);
    if failed > 0 {
        let first = acks.first.lock().unwrap_or_else(|p| p.into_inner()).clone();
        return Err(Error::Unacknowledged {
            failed,
            detail: format!(
                "of {} events were not acknowledged by the broker (first: {})",
                loaded.events,
                first.unwrap_or_default()
            ),
        });
    }
    if let Some(e) = fatal {
        return Err(Error::Log(format!(
            "{e} ({} events before it were produced and acknowledged)",
            loaded.events
        )));
    }
    Ok(loaded)
}

/// Waits until every record sent is acknowledged, for as long as acknowledgements keep coming: a
/// large load against a slow broker takes what it takes, and only [`TIMEOUT`] without one more
/// acknowledgement fails it.
fn flush(producer: &ThreadedProducer<Acks>) -> Result<(), Error> {
    let mut waiting = producer.in_flight_count();
    let mut progress = Instant::now();
    loop {
        match producer.flush(Duration::from_secs(1)) {
            Ok(()) => return Ok(()),
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {}
            Err(e) => {
                return Err(Error::client(
                    "waiting for the broker's acknowledgements",
                    e,
                ));
            }
        }
        let left = producer.in_flight_count();
        if left < waiting {
            (waiting, progress) = (left, Instant::now());
        } else if progress.elapsed() >= TIMEOUT {
            return Err(Error::timeout(
                "waiting for the broker's acknowledgements",
                format!(
                    "{left} records unacknowledged, none acknowledged in {} s",
                    TIMEOUT.as_secs()
                ),
            ));
        }
    }
}
