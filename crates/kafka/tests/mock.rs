//! The worker against librdkafka's in-process mock cluster: a generated world loaded into a
//! four-partition topic, scored by one member, by two at once, and by one that dies mid-stream
//! and a second that takes over. In every case each message of the log has a verdict, and each
//! verdict is the one the core gives its business's events in log order with the
//! cross-business inputs the verdict carries.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use spamward_content::ContentEngine;
use spamward_core::time::HOUR;
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
    World::new(config).unwrap().events()
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
        lateness: HOUR,
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
/// How many messages `events` holds.
fn messages(events: &[Event]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(e, Event::Message(_)))
        .count() as u64
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
    assert_eq!(stats.verdicts, messages(&events));
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
    // Hand-overs between them are clean (a revoked partition is checkpointed first), so each
    // message is scored once, by one of the two.
    assert_eq!(check(&c, &events), 0, "no message scored twice");
    assert_eq!(a.verdicts + b.verdicts, messages(&events), "{a:?}\n{b:?}");
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
    // What the first member had scored when it died, and when it last checkpointed (the
    // progress call after a batch comes after that batch's checkpoint, if it had one).
    let died = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let seen = Arc::clone(&died);
    let first = std::thread::spawn(move || {
        let mut checkpoints = 0;
        let _ = spamward_kafka::run(opts, &AtomicBool::new(false), |s| {
            seen.0.store(s.verdicts, Ordering::Relaxed);
            if s.checkpoints > checkpoints {
                checkpoints = s.checkpoints;
                seen.1.store(s.verdicts, Ordering::Relaxed);
            }
            if s.verdicts >= 3_000 {
                panic!("simulated crash after {} verdicts", s.verdicts);
            }
        });
    });
    assert!(first.join().is_err(), "the first member died");
    let (scored, checkpointed) = (
        died.0.load(Ordering::Relaxed),
        died.1.load(Ordering::Relaxed),
    );
    assert!(
        checkpointed > 0,
        "the first member checkpointed before it died"
    );
    let second = run(options(&c, "crash"));
    assert!(second.restored >= 1);
    let twice = check(&c, &events);
    let total = messages(&events);
    // The second member resumes every partition at its last checkpoint: what the first had
    // checkpointed is not scored again, and only what it scored after may be.
    assert!(
        twice <= scored - checkpointed,
        "{twice} messages scored twice, but the first member scored only {} after its last \
         checkpoint",
        scored - checkpointed
    );
    assert!(
        second.verdicts <= total - checkpointed,
        "the second member scored {} of {total} messages; {checkpointed} were checkpointed",
        second.verdicts
    );
    eprintln!(
        "messages scored twice: {twice} (the first member scored {scored}, {checkpointed} checkpointed)"
    );
}
