//! `spamward kafka`: one consumer-group member.
//!
//! The loop: poll a batch of input records; read the signals topic up to the end offsets it had
//! when the batch began (and once a second while there is nothing to score); analyse the batch's
//! texts in parallel; score its events in order, each through its partition's business states
//! and the cross-business view; produce one verdict
//! per message and one observation per cross-business count. Every `commit_every`, and when
//! partitions are revoked or the worker stops, checkpoint: wait for the broker to acknowledge
//! everything produced so far, write the changed business states, wait again, write the
//! markers, wait again, and only then commit the offsets (see [`crate::state`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, DeliveryResult, Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext, Message as _, Offset, TopicPartitionList};
use spamward_content::ContentEngine;
use spamward_core::{ContentFacts, Event, MessageContext, Millis, Policy, Timestamp, apply};

use crate::Error;
use crate::cross::{CrossView, Observation};
use crate::state::{PartitionState, Restore};
use crate::topics::{self, MAX_RECORD_BYTES, TIMEOUT};

/// How often a member whose partitions are quiet reads the signals topic.
const IDLE_SIGNALS: Duration = Duration::from_secs(1);

/// Header of a verdict record: the input partition of its message.
pub const HEADER_PARTITION: &str = "spamward.partition";
/// Header of a verdict record: the input offset of its message.
pub const HEADER_OFFSET: &str = "spamward.offset";
/// Header of a verdict record: the cross-business input `recipient_marketing_24h` it was scored
/// with.
pub const HEADER_FATIGUE: &str = "spamward.recipient_marketing_24h";
/// Header of a verdict record: the cross-business input `campaign_businesses` it was scored with.
pub const HEADER_CAMPAIGN: &str = "spamward.campaign_businesses";

/// What a worker is told.
#[derive(Clone, Debug)]
pub struct Options {
    /// Bootstrap brokers, `host:port[,host:port...]`.
    pub brokers: String,
    /// The topic of message and feedback events (JSON, key = business id).
    pub input: String,
    /// The topic verdicts go to (JSON, key = business id); created if missing.
    pub verdicts: String,
    /// The consumer group; its internal topics are `<group>.checkpoints` and `<group>.signals`.
    pub group: String,
    /// The policy.
    pub policy: Policy,
    /// Content heuristics (`None`: content signals off).
    pub content: Option<ContentEngine>,
    /// A partition with no checkpoint starts at its earliest offset (else at its end: new
    /// records only).
    pub from_beginning: bool,
    /// Stop once every assigned partition has reached the end offset it had when assigned.
    pub until_end: bool,
    /// How often to checkpoint and commit.
    pub commit_every: Duration,
    /// Most records scored per batch.
    pub batch: usize,
    /// How long the group waits for a silent member before moving its partitions.
    pub session_timeout: Duration,
    /// Cross-business entries are kept this much longer than 24 h.
    pub lateness: Millis,
    /// Extra librdkafka properties for every client.
    pub extra: Vec<(String, String)>,
}

impl Options {
    /// The changelog topic of the group's business states.
    pub fn checkpoints_topic(&self) -> String {
        format!("{}.checkpoints", self.group)
    }

    /// The topic of the group's cross-business observations.
    pub fn signals_topic(&self) -> String {
        format!("{}.signals", self.group)
    }
}

/// What a worker did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Input records read.
    pub records: u64,
    /// Events applied.
    pub events: u64,
    /// Verdicts produced.
    pub verdicts: u64,
    /// Input records that could not be read as events (each reported on stderr).
    pub skipped: u64,
    /// Input records whose event a restored state already held.
    pub already_applied: u64,
    /// Observations read from other instances and counted.
    pub remote_observations: u64,
    /// Partitions restored from the changelog.
    pub restored: u64,
    /// Checkpoints written (one per partition each time).
    pub checkpoints: u64,
}

/// Counts delivery failures of the producer.
struct Deliveries {
    failed: AtomicU64,
    first: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            lock(&self.first).get_or_insert_with(|| format!("to topic {:?}: {e}", m.topic()));
        }
    }
}

/// What the loop and the rebalance callback share.
struct Inner {
    parts: BTreeMap<i32, PartitionState>,
    view: CrossView,
    stats: Stats,
    /// A failure inside the rebalance callback, reported by the loop.
    failed: Option<Error>,
    /// Set by the rebalance callback: records polled before it are dropped, since the consumer
    /// delivers the assigned partitions again from their checkpoints.
    rebalanced: bool,
}

struct Shared {
    /// This member's name in its messages: the group and the process-local member number.
    name: String,
    opts: Options,
    config: ClientConfig,
    producer: ThreadedProducer<Deliveries>,
    inner: Mutex<Inner>,
}

/// The consumer's context: restores assigned partitions and checkpoints revoked ones.
struct Group {
    shared: Arc<Shared>,
}

impl ClientContext for Group {}

impl ConsumerContext for Group {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let s = &self.shared;
        let mut inner = lock(&s.inner);
        inner.rebalanced = true;
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let assigned: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                match s.restore(&assigned) {
                    Ok(states) => {
                        for (p, state) in states {
                            let next = state.next_offset();
                            inner.parts.insert(p, state);
                            inner.stats.restored += 1;
                            let _ =
                                tpl.set_partition_offset(&s.opts.input, p, Offset::Offset(next));
                        }
                    }
                    Err(e) => {
                        inner.failed.get_or_insert(e);
                    }
                }
                if let Err(e) = consumer.assign(tpl) {
                    inner
                        .failed
                        .get_or_insert(Error::client("assigning partitions", e));
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let revoked: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                eprintln!("kafka: {}: partitions {revoked:?} revoked", s.name);
                if let Err(e) = s.checkpoint(&mut inner, consumer, &revoked) {
                    inner.failed.get_or_insert(e);
                }
                for p in &revoked {
                    inner.parts.remove(p);
                }
                let _ = consumer.unassign();
            }
            other => {
                eprintln!("kafka: rebalance error: {}", RDKafkaErrorCode::from(other));
                let _ = consumer.unassign();
            }
        }
    }
}

impl Shared {
    /// Reads the checkpoints of the partitions `ps`, all through one reader; returns their states.
    ///
    /// The changelog is read to each partition's end as the fetch reports it
    /// ([`topics::read_to_end`]). One reader for all of them, because each reader costs a
    /// connection and a fetch wait: one per partition took 0.6 s each on assignment.
    fn restore(&self, ps: &[i32]) -> Result<Vec<(i32, PartitionState)>, Error> {
        let input = &self.opts.input;
        let changelog = self.opts.checkpoints_topic();
        if ps.is_empty() {
            return Ok(Vec::new());
        }
        let group = format!("{}.restore", self.opts.group);
        let reader = topics::reader(&self.config, &group, &changelog, ps.iter().copied())?;
        let mut restores: BTreeMap<i32, Restore> =
            ps.iter().map(|&p| (p, Restore::default())).collect();
        topics::read_to_end(&reader, &changelog, ps.iter().copied(), |m| {
            let p = m.partition();
            let Some(restore) = restores.get_mut(&p) else {
                return Ok(());
            };
            restore
                .add(m.key().unwrap_or_default(), m.payload().unwrap_or_default())
                .map_err(|e| Error::record(format!("{changelog}/{p} offset {}", m.offset()), e))
        })?;
        let mut states = Vec::with_capacity(ps.len());
        for (p, restore) in restores {
            // From the beginning: offset 0, which the consumer moves up to the earliest offset
            // still held.
            let start = if self.opts.from_beginning {
                0
            } else {
                reader
                    .fetch_watermarks(input, p, TIMEOUT)
                    .map_err(|e| Error::client(format!("{input}/{p}: end offsets"), e))?
                    .1
            };
            let records = restore.records();
            let state = restore.finish(start);
            eprintln!(
                "kafka: {}: partition {p} assigned: {} businesses from {records} checkpoint records, reading from offset {}",
                self.name,
                state.businesses(),
                state.next_offset()
            );
            states.push((p, state));
        }
        Ok(states)
    }

    /// Waits until the broker has acknowledged everything produced; fails if any delivery failed.
    fn settle(&self) -> Result<(), Error> {
        self.producer
            .flush(TIMEOUT)
            .map_err(|e| Error::client("waiting for the broker's acknowledgements", e))?;
        let ctx = self.producer.context();
        if ctx.failed.load(Ordering::Relaxed) > 0 {
            let first = lock(&ctx.first).clone().unwrap_or_default();
            return Err(Error::Unacknowledged {
                failed: ctx.failed.load(Ordering::Relaxed),
                detail: format!(
                    "records were not acknowledged by the broker (first: {first}); offsets are not \
                     committed"
                ),
            });
        }
        Ok(())
    }

    /// Checkpoints partitions and commits their offsets (see the module documentation).
    fn checkpoint<C: ConsumerContext>(
        &self,
        inner: &mut Inner,
        consumer: &BaseConsumer<C>,
        which: &[i32],
    ) -> Result<(), Error> {
        let changelog = self.opts.checkpoints_topic();
        self.settle()?;
        let mut markers = Vec::new();
        for p in which {
            let Some(part) = inner.parts.get_mut(p) else {
                continue;
            };
            let (states, marker) = part.checkpoint();
            for (key, value) in &states {
                self.send(&changelog, Some(*p), key, value, None, None)?;
            }
            markers.push((*p, marker, part.next_offset()));
        }
        self.settle()?;
        let mut offsets = TopicPartitionList::new();
        for (p, (key, value), next) in &markers {
            self.send(&changelog, Some(*p), key, value, None, None)?;
            offsets
                .add_partition_offset(&self.opts.input, *p, Offset::Offset(*next))
                .map_err(|e| Error::client(format!("{}/{p}", self.opts.input), e))?;
        }
        self.settle()?;
        inner.stats.checkpoints += markers.len() as u64;
        // The markers say where each partition resumes; the group's offsets follow them for
        // lag monitoring, so a commit refused mid-rebalance is reported, not fatal.
        if offsets.count() > 0
            && let Err(e) = consumer.commit(&offsets, CommitMode::Sync)
        {
            eprintln!("kafka: committing offsets: {e} (the checkpoint stands)");
        }
        Ok(())
    }

    /// Produces one record, waiting while the producer's queue is full.
    fn send(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: &[u8],
        value: &[u8],
        ts: Option<Timestamp>,
        headers: Option<OwnedHeaders>,
    ) -> Result<(), Error> {
        let mut record = BaseRecord::to(topic).key(key).payload(value);
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(ts) = ts {
            record = record.timestamp(ts.as_millis() as i64);
        }
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    return Err(Error::client(format!("producing to {topic:?}"), e));
                }
            }
        }
    }
}

/// The signals topic, read whole by every instance.
struct Signals {
    consumer: BaseConsumer,
    topic: String,
    /// Per partition, the next offset to read.
    next: BTreeMap<i32, i64>,
    /// Partitions whose end the consumer reported after their last record read.
    at_end: BTreeSet<i32>,
}

impl Signals {
    fn open(config: &ClientConfig, topic: &str, partitions: i32) -> Result<Signals, Error> {
        let consumer = topics::reader(config, &format!("{topic}.reader"), topic, 0..partitions)?;
        let next = (0..partitions).map(|p| (p, 0)).collect();
        Ok(Signals {
            consumer,
            topic: topic.to_owned(),
            next,
            at_end: BTreeSet::new(),
        })
    }

    /// Reads every observation the broker holds now into `view`.
    fn catch_up(&mut self, view: &mut CrossView, policy: &Policy) -> Result<u64, Error> {
        let mut ends = BTreeMap::new();
        for &p in self.next.keys() {
            let (_, listed) = self
                .consumer
                .fetch_watermarks(&self.topic, p, TIMEOUT)
                .map_err(|e| Error::client(format!("{}/{p}: end offsets", self.topic), e))?;
            ends.insert(p, listed);
        }
        // Up to the listed end and until the consumer has reported each partition's end after
        // its last record: some Kafka-protocol brokers list a partition's end as the start of
        // its last record batch, short of the end, and the fetch itself knows better.
        let behind = |next: &BTreeMap<i32, i64>, at_end: &BTreeSet<i32>| {
            ends.iter()
                .any(|(p, &end)| next[p] < end || !at_end.contains(p))
        };
        let mut counted = 0;
        let deadline = Instant::now() + TIMEOUT;
        while behind(&self.next, &self.at_end) {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    self.at_end.insert(p);
                }
                Some(Ok(m)) => {
                    self.at_end.remove(&m.partition());
                    self.next.insert(m.partition(), m.offset() + 1);
                    match Observation::decode(m.payload().unwrap_or_default()) {
                        Ok(obs) => counted += u64::from(view.apply(&obs, policy)),
                        Err(e) => eprintln!(
                            "kafka: {}/{} offset {}: {e}; skipped",
                            self.topic,
                            m.partition(),
                            m.offset()
                        ),
                    }
                }
                Some(Err(e)) => {
                    return Err(Error::client(format!("reading {}", self.topic), e));
                }
                None if Instant::now() > deadline => {
                    return Err(Error::timeout(
                        format!("reading {}", self.topic),
                        format!("the broker's end offsets were not reached in {TIMEOUT:?}"),
                    ));
                }
                None => {}
            }
        }
        Ok(counted)
    }
}

/// One input record of a batch.
struct Input {
    partition: i32,
    offset: i64,
    /// `None`: a record that could not be read as an event.
    event: Option<Event>,
}

/// Runs a group member until `stop` is set (then checkpoints and leaves the group) or, with
/// `until_end`, until its partitions are read to their end. `progress` is called after every
/// batch.
pub fn run(
    opts: Options,
    stop: &AtomicBool,
    mut progress: impl FnMut(&Stats),
) -> Result<Stats, Error> {
    let config = topics::config(&opts.brokers, &opts.extra);
    let Some(count) = topics::partitions(&config, &opts.input)? else {
        return Err(Error::topic(
            &opts.input,
            format!("the input topic does not exist on {}", opts.brokers),
        ));
    };
    let day_and_a_half = (36 * spamward_core::time::HOUR).as_millis().to_string();
    topics::ensure(&config, &opts.verdicts, count, &[])?;
    topics::ensure(
        &config,
        &opts.checkpoints_topic(),
        count,
        &[
            ("cleanup.policy", "compact"),
            ("max.message.bytes", MAX_RECORD_BYTES),
        ],
    )?;
    // Retention counts from when the broker appended an observation (its event time is in the
    // value): with the producer's timestamps, which are event times, a member replaying a log
    // older than the retention would see the broker delete what the others publish at its next
    // retention pass, before anyone read it.
    let signals_count = topics::ensure(
        &config,
        &opts.signals_topic(),
        count,
        &[
            ("retention.ms", day_and_a_half.as_str()),
            ("message.timestamp.type", "LogAppendTime"),
        ],
    )?;
    let producer: ThreadedProducer<Deliveries> = topics::overlay(
        config
            .clone()
            .set("linger.ms", "5")
            .set("enable.idempotence", "true")
            .set("message.max.bytes", MAX_RECORD_BYTES)
            .set("queue.buffering.max.messages", "1000000"),
        &opts.extra,
    )
    .create_with_context(Deliveries {
        failed: AtomicU64::new(0),
        first: Mutex::new(None),
    })
    .map_err(|e| Error::client("cannot create a Kafka producer", e))?;
    let mut signals = Signals::open(&config, &opts.signals_topic(), signals_count)?;
    static MEMBERS: AtomicU64 = AtomicU64::new(0);
    let shared = Arc::new(Shared {
        name: format!("{}#{}", opts.group, MEMBERS.fetch_add(1, Ordering::Relaxed)),
        config: config.clone(),
        producer,
        inner: Mutex::new(Inner {
            parts: BTreeMap::new(),
            view: CrossView::new(opts.lateness),
            stats: Stats::default(),
            failed: None,
            rebalanced: false,
        }),
        opts,
    });
    let opts = &shared.opts;
    let mut consumer_config = config.clone();
    consumer_config
        .set("group.id", &opts.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set(
            "session.timeout.ms",
            opts.session_timeout.as_millis().to_string(),
        )
        // A tenth of the session (librdkafka's default is 3 s whatever the session): a member
        // whose rebalance callback restores state must still be heard from in time, and some
        // brokers count the session from the last heartbeat alone, so the default let a busy
        // rebalance look like a dead member and start another.
        .set(
            "heartbeat.interval.ms",
            (opts.session_timeout.as_millis() / 10).max(100).to_string(),
        )
        .set(
            "auto.offset.reset",
            if opts.from_beginning {
                "earliest"
            } else {
                "latest"
            },
        );
    let consumer: BaseConsumer<Group> = topics::overlay(&mut consumer_config, &opts.extra)
        .create_with_context(Group {
            shared: Arc::clone(&shared),
        })
        .map_err(|e| Error::client("cannot create a Kafka consumer", e))?;
    consumer
        .subscribe(&[&opts.input])
        .map_err(|e| Error::client(format!("subscribing to {:?}", opts.input), e))?;

    let mut last_checkpoint = Instant::now();
    let mut last_signals = Instant::now();
    // Partitions whose end the consumer reported with nothing after it (for `until_end`).
    let mut at_end: BTreeSet<i32> = BTreeSet::new();
    let mut batch: Vec<Input> = Vec::with_capacity(opts.batch);
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        batch.clear();
        let mut skipped = 0;
        let mut wait = Duration::from_millis(100);
        while batch.len() < opts.batch {
            let Some(item) = consumer.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            if std::mem::take(&mut lock(&shared.inner).rebalanced) {
                batch.clear();
                at_end.clear();
            }
            if let Ok(m) = &item {
                at_end.remove(&m.partition());
            }
            match item {
                Ok(m) => match decode(&m) {
                    Ok(event) => batch.push(Input {
                        partition: m.partition(),
                        offset: m.offset(),
                        event: Some(event),
                    }),
                    Err(e) => {
                        // Passed over in its place in the batch, so that the records before it
                        // are scored first.
                        eprintln!("kafka: {e}; skipped");
                        skipped += 1;
                        batch.push(Input {
                            partition: m.partition(),
                            offset: m.offset(),
                            event: None,
                        });
                    }
                },
                Err(KafkaError::PartitionEOF(p)) => {
                    at_end.insert(p);
                }
                Err(e) => eprintln!("kafka: consumer: {e}"),
            }
        }
        let mut inner = lock(&shared.inner);
        if let Some(e) = inner.failed.take() {
            return Err(e);
        }
        if std::mem::take(&mut inner.rebalanced) {
            batch.clear();
            at_end.clear();
        }
        inner.stats.skipped += skipped;
        // The signals topic is read before every batch and, while the member's partitions are
        // quiet, once every IDLE_SIGNALS: a member with nothing to score still follows the
        // others, so that partitions it takes over are scored with a view that is current
        // already, and its progress line says what it has counted.
        if !batch.is_empty() || last_signals.elapsed() >= IDLE_SIGNALS {
            let counted = signals.catch_up(&mut inner.view, &opts.policy)?;
            inner.stats.remote_observations += counted;
            last_signals = Instant::now();
        }
        if !batch.is_empty() {
            shared.score(&mut inner, &batch)?;
        }
        let done = opts.until_end
            && !inner.parts.is_empty()
            && inner.parts.keys().all(|p| at_end.contains(p));
        if done || last_checkpoint.elapsed() >= opts.commit_every {
            let all: Vec<i32> = inner.parts.keys().copied().collect();
            shared.checkpoint(&mut inner, &consumer, &all)?;
            last_checkpoint = Instant::now();
        }
        progress(&inner.stats);
        if done {
            eprintln!(
                "kafka: {}: partitions {:?} read to their end",
                shared.name,
                inner.parts.keys().collect::<Vec<_>>()
            );
            break;
        }
    }
    // Stopping: checkpoint what is held, then leave the group.
    let mut inner = lock(&shared.inner);
    let all: Vec<i32> = inner.parts.keys().copied().collect();
    shared.checkpoint(&mut inner, &consumer, &all)?;
    let stats = inner.stats;
    drop(inner);
    consumer.unsubscribe();
    Ok(stats)
}

impl Shared {
    /// Scores one batch: texts in parallel, then events in order.
    fn score(&self, inner: &mut Inner, batch: &[Input]) -> Result<(), Error> {
        let opts = &self.opts;
        let content: Vec<Option<ContentFacts>> = match &opts.content {
            Some(engine) => batch
                .par_iter()
                .with_min_len(64)
                .map(|i| match &i.event {
                    Some(Event::Message(m)) => Some(ContentFacts::analyze(engine, &m.text)),
                    _ => None,
                })
                .collect(),
            None => vec![None; batch.len()],
        };
        let mut observed = Vec::new();
        let mut value = Vec::with_capacity(512);
        let Inner {
            parts, view, stats, ..
        } = inner;
        for (input, facts) in batch.iter().zip(&content) {
            stats.records += 1;
            // A record of a partition revoked since it was polled, or read twice.
            let Some(part) = parts.get_mut(&input.partition) else {
                continue;
            };
            if input.offset < part.next_offset() {
                continue;
            }
            let Some(ev) = &input.event else {
                part.skip(input.offset);
                continue;
            };
            let Some(state) = part.state_for(ev.business(), input.offset, ev.ts()) else {
                stats.already_applied += 1;
                continue;
            };
            stats.events += 1;
            observed.clear();
            let ctx = match ev {
                Event::Message(m) => view.context(m, facts.as_ref(), &opts.policy, &mut observed),
                _ => MessageContext::default(),
            };
            let Some(verdict) = apply(state, ev, ctx, facts.as_ref(), &opts.policy) else {
                continue;
            };
            value.clear();
            verdict.write_json(&mut value);
            let headers = headers(&[
                (HEADER_PARTITION, input.partition.to_string()),
                (HEADER_OFFSET, input.offset.to_string()),
                (HEADER_FATIGUE, ctx.recipient_marketing_24h.to_string()),
                (HEADER_CAMPAIGN, ctx.campaign_businesses.to_string()),
            ]);
            self.send(
                &opts.verdicts,
                None,
                verdict.business.as_bytes(),
                &value,
                Some(ev.ts()),
                Some(headers),
            )?;
            stats.verdicts += 1;
            for obs in &observed {
                self.send(
                    &opts.signals_topic(),
                    None,
                    &obs.key(),
                    &obs.encode(),
                    Some(ev.ts()),
                    None,
                )?;
            }
        }
        Ok(())
    }
}

fn headers(pairs: &[(&str, String)]) -> OwnedHeaders {
    pairs.iter().fold(
        OwnedHeaders::new_with_capacity(pairs.len()),
        |h, (key, v)| {
            h.insert(Header {
                key,
                value: Some(v.as_str()),
            })
        },
    )
}

/// Reads one input record as an event; the error names the topic, partition, offset and field.
fn decode(m: &BorrowedMessage<'_>) -> Result<Event, String> {
    let at = format!("{}/{} offset {}", m.topic(), m.partition(), m.offset());
    let Some(payload) = m.payload() else {
        return Err(format!("{at}: empty record"));
    };
    let ev = Event::from_json(payload).map_err(|e| format!("{at}: {e}"))?;
    if let Some(key) = m.key()
        && key != ev.business().as_bytes()
    {
        return Err(format!(
            "{at}: field business: {:?} is not the record key {:?}; every event must be keyed by its business, or its order is lost",
            ev.business(),
            String::from_utf8_lossy(key)
        ));
    }
    Ok(ev)
}

/// Reads a verdict record's header as a number.
pub fn header_number(
    headers: Option<&rdkafka::message::BorrowedHeaders>,
    key: &str,
) -> Option<i64> {
    let h = headers?;
    h.iter()
        .find(|h| h.key == key)
        .and_then(|h| std::str::from_utf8(h.value?).ok()?.parse().ok())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
