//! The worker against librdkafka's in-process mock cluster: a generated world loaded into a
//! four-partition topic, scored by one member, by two at once, and by one that dies mid-stream
//! and a second that takes over. In every case each message of the log has a verdict, and each
//! verdict is the one the core gives its business's events in log order with the
//! cross-business inputs the verdict carries.

use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use spamward_content::ContentEngine;
use spamward_core::{Event, Policy};
use spamward_kafka::{Options, Stats};
use spamward_log::LogWriter;
use spamward_sim::{World, WorldConfig};

const PARTITIONS: i32 = 4;

fn world(seed: u64) -> Vec<Event> {
    let config = WorldConfig {
        businesses: 10,
        recipients: 1_500,
        days: 1,
        seed,
        ..WorldConfig::default()
    };
    let mut events = Vec::new();
    World::new(config)
        .unwrap()
        .run(|b| {
            events.extend_from_slice(b);
            Ok::<(), Infallible>(())
        })
        .unwrap();
    events
}

struct Cluster {
    mock: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    brokers: String,
}

/// A mock cluster with the input loaded and the group's topics made (the mock broker does not
/// take CreateTopics requests).
fn cluster(events: &[Event], dir: &Path, group: &str) -> Cluster {
    let mock = MockCluster::new(1).unwrap();
    let brokers = mock.bootstrap_servers();
    for t in [
        "events".to_string(),
        "verdicts".to_string(),
        format!("{group}.checkpoints"),
        format!("{group}.signals"),
    ] {
        mock.create_topic(&t, PARTITIONS, 1).unwrap();
    }
    let path = dir.join("events.jsonl");
    let mut w = LogWriter::create(&path).unwrap();
    for ev in events {
        w.write(ev).unwrap();
    }
    w.finish().unwrap();
    let loaded = spamward_kafka::load(&brokers, &[], "events", PARTITIONS, &path, |e| {
        panic!("{e}")
    })
    .unwrap();
    assert_eq!(loaded.events, events.len() as u64);
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let mut total = 0;
    for p in 0..PARTITIONS {
        let (low, high) = c
            .fetch_watermarks("events", p, Duration::from_secs(10))
            .unwrap();
        total += high - low;
    }
    // The mock broker drops a partition's oldest records past a size: the world must fit.
    assert_eq!(total, events.len() as i64, "every event is in the topic");
    Cluster { mock, brokers }
}

fn options(c: &Cluster, group: &str) -> Options {
    Options {
        brokers: c.brokers.clone(),
        input: "events".into(),
        verdicts: "verdicts".into(),
        group: group.into(),
        policy: Policy::default(),
        content: Some(ContentEngine::default()),
        from_beginning: true,
        until_end: true,
        commit_every: Duration::from_millis(300),
        batch: 500,
        session_timeout: Duration::from_millis(6_000),
        lateness: 3_600_000,
        extra: Vec::new(),
    }
}

/// Audits the verdicts topic against the core over the log; returns how many messages got
/// more than one verdict.
fn check(c: &Cluster, events: &[Event]) -> u64 {
    let verdicts = spamward_kafka::audit::read_verdicts(&c.brokers, &[], "verdicts").unwrap();
    let content = ContentEngine::default();
    let found = spamward_kafka::audit::audit(events, &verdicts, &Policy::default(), Some(&content))
        .unwrap();
    assert!(
        found.fatigue_above_one > 0,
        "some recipients got repeated marketing"
    );
    found.scored_twice
}

fn run(opts: Options) -> Stats {
    spamward_kafka::run(opts, &AtomicBool::new(false), |_| {}).unwrap()
}

#[test]
fn one_member_scores_every_message_like_the_core() {
    let dir = tempfile::tempdir().unwrap();
    let events = world(11);
    let c = cluster(&events, dir.path(), "solo");
    let stats = run(options(&c, "solo"));
    let messages = events
        .iter()
        .filter(|e| matches!(e, Event::Message(_)))
        .count();
    assert_eq!(stats.verdicts, messages as u64);
    assert_eq!(stats.skipped, 0);
    assert_eq!(stats.restored, PARTITIONS as u64);
    assert_eq!(check(&c, &events), 0, "no duplicates");
    drop(c.mock);
}

#[test]
fn two_members_share_the_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let events = world(12);
    let c = cluster(&events, dir.path(), "pair");
    let (oa, ob) = (options(&c, "pair"), options(&c, "pair"));
    let a = std::thread::spawn(move || run(oa));
    let b = std::thread::spawn(move || run(ob));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert!(a.verdicts + b.verdicts >= 1);
    check(&c, &events);
}

#[test]
fn a_member_that_dies_is_replaced_from_its_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let events = world(13);
    let c = cluster(&events, dir.path(), "crash");
    // The first member dies (a panic unwinds out of the loop: no final checkpoint, no clean
    // leave) after a few batches.
    let mut opts = options(&c, "crash");
    opts.batch = 200;
    let first = std::thread::spawn(move || {
        let _ = spamward_kafka::run(opts, &AtomicBool::new(false), |s| {
            if s.verdicts >= 3_000 {
                panic!("simulated crash after {} verdicts", s.verdicts);
            }
        });
    });
    assert!(first.join().is_err(), "the first member died");
    let second = run(options(&c, "crash"));
    assert!(second.restored >= 1);
    let twice = check(&c, &events);
    eprintln!("messages scored twice: {twice}");
}
