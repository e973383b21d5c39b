//! Client configuration and topics: what every Kafka client here is built from.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};

use crate::Error;

/// How long a metadata request or a flush may take before it is an error.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The largest record the producers here send: business states in checkpoints can be large.
pub const MAX_RECORD_BYTES: &str = "67108864";

/// A client configuration for `brokers`, with `extra` librdkafka properties (`key=value`) on top.
///
/// Fetches wait at most 10 ms for data (librdkafka's default is 500 ms): the worker scores in
/// batches and reads the signals topic before each, so a fetch that waits long stalls it. On
/// a small log through a broker on loopback this was the difference between about 400 and
/// 1,800 verdicts a second.
pub fn config(brokers: &str, extra: &[(String, String)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    c.set("fetch.wait.max.ms", "10");
    overlay(&mut c, extra);
    c
}

/// Lays `extra` properties over `c`, so that they win over the settings a client sets for itself.
pub fn overlay(c: &mut ClientConfig, extra: &[(String, String)]) -> ClientConfig {
    for (k, v) in extra {
        c.set(k, v);
    }
    c.clone()
}

/// A consumer outside any group's assignment reading `partitions` of `topic` from their
/// beginning, reporting each partition's end (`enable.partition.eof`) and committing nothing.
pub fn reader(
    config: &ClientConfig,
    group: &str,
    topic: &str,
    partitions: impl IntoIterator<Item = i32>,
) -> Result<BaseConsumer, Error> {
    let reader: BaseConsumer = config
        .clone()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .map_err(|e| Error::client("cannot create a Kafka client", e))?;
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| Error::client(format!("{topic}/{p}"), e))?;
    }
    reader.assign(&tpl).map_err(|e| Error::client(topic, e))?;
    Ok(reader)
}

/// Hands every record `reader` (see [`reader`]) reads from `partitions` of `topic` to `each`,
/// until the consumer has reported each partition's end after its last record: from the fetch
/// itself, not from a listed end offset, which some Kafka-protocol brokers report stale. Fails
/// when a poll fails, when `each` does, or when [`TIMEOUT`] passes with no record and some
/// partition's end still unreported.
pub fn read_to_end(
    reader: &BaseConsumer,
    topic: &str,
    partitions: impl IntoIterator<Item = i32>,
    mut each: impl FnMut(&BorrowedMessage<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut pending: BTreeSet<i32> = partitions.into_iter().collect();
    let mut deadline = Instant::now() + TIMEOUT;
    while !pending.is_empty() {
        match reader.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                deadline = Instant::now() + TIMEOUT;
                pending.insert(m.partition());
                each(&m)?;
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => return Err(Error::client(format!("reading {topic}"), e)),
            None if Instant::now() > deadline => {
                return Err(Error::timeout(
                    format!("reading {topic}"),
                    format!("no end of partitions {pending:?} reported in {TIMEOUT:?}"),
                ));
            }
            None => {}
        }
    }
    Ok(())
}

/// The partition count of `topic`, or `None` if the broker does not know it.
pub fn partitions(config: &ClientConfig, topic: &str) -> Result<Option<i32>, Error> {
    let client: BaseConsumer = config
        .create()
        .map_err(|e| Error::client("cannot create a Kafka client", e))?;
    let md = client
        .fetch_metadata(Some(topic), TIMEOUT)
        .map_err(|e| Error::client(format!("metadata of topic {topic:?}"), e))?;
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
        return Ok(None);
    };
    match t.error() {
        None if !t.partitions().is_empty() => Ok(Some(t.partitions().len() as i32)),
        None => Ok(None),
        Some(e) if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition => {
            Ok(None)
        }
        Some(e) => Err(Error::topic(topic, RDKafkaErrorCode::from(e).to_string())),
    }
}

/// Makes sure `topic` exists: creates it with `count` partitions and `settings` if it does not;
/// returns its partition count.
pub fn ensure(
    config: &ClientConfig,
    topic: &str,
    count: i32,
    settings: &[(&str, &str)],
) -> Result<i32, Error> {
    if let Some(n) = partitions(config, topic)? {
        return Ok(n);
    }
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .map_err(|e| Error::client("cannot create a Kafka admin client", e))?;
    let mut new = NewTopic::new(topic, count, TopicReplication::Fixed(1));
    for (k, v) in settings {
        new = new.set(k, v);
    }
    let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = futures_executor::block_on(admin.create_topics([&new], &opts))
        .map_err(|e| Error::client(format!("creating topic {topic:?}"), e))?;
    for r in results {
        if let Err((name, code)) = r
            && code != RDKafkaErrorCode::TopicAlreadyExists
        {
            return Err(Error::topic(&name, format!("cannot be created: {code}")));
        }
    }
    // The topic is visible in metadata a moment after it is created.
    for _ in 0..100 {
        if let Some(n) = partitions(config, topic)? {
            return Ok(n);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(Error::timeout(
        format!("creating topic {topic:?}"),
        "it was created but never appeared in the broker's metadata",
    ))
}
