//! The worker against librdkafka's in-process mock cluster: a generated world loaded into a
//! four-partition topic, scored by one member, by two at once, and by one that dies mid-stream
//! and a second that takes over. In every case each message of the log has a verdict, and each
//! verdict is the one the core gives its business's events in log order with the
//! cross-business inputs the verdict carries.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};
use spamward_content::ContentEngine;
use spamward_core::{BusinessState, Category, ContentFacts, Event, MessageContext, Policy, apply};
use spamward_kafka::worker::{
    HEADER_CAMPAIGN, HEADER_FATIGUE, HEADER_OFFSET, HEADER_PARTITION, header_number,
};
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

/// One verdict record.
struct Record {
    business: String,
    json: String,
    ctx: MessageContext,
}

/// Every verdict record, per message id in topic order.
fn verdicts(brokers: &str) -> HashMap<String, Vec<Record>> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "verdict-reader")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in 0..PARTITIONS {
        let (_, high) = c
            .fetch_watermarks("verdicts", p, Duration::from_secs(10))
            .unwrap();
        ends.insert(p, high);
        tpl.add_partition_offset("verdicts", p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut next: BTreeMap<i32, i64> = ends.keys().map(|&p| (p, 0)).collect();
    let mut out: HashMap<String, Vec<Record>> = HashMap::new();
    while next.iter().any(|(p, n)| *n < ends[p]) {
        let Some(m) = c.poll(Duration::from_secs(10)) else {
            panic!("verdicts topic: stalled at {next:?} of {ends:?}");
        };
        let m = m.unwrap();
        next.insert(m.partition(), m.offset() + 1);
        let json = std::str::from_utf8(m.payload().unwrap())
            .unwrap()
            .to_owned();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let headers = m.headers();
        assert!(header_number(headers, HEADER_PARTITION).is_some());
        assert!(header_number(headers, HEADER_OFFSET).is_some());
        let ctx = MessageContext {
            recipient_marketing_24h: header_number(headers, HEADER_FATIGUE).unwrap() as u64,
            campaign_businesses: header_number(headers, HEADER_CAMPAIGN).unwrap() as u32,
        };
        let business = v["business"].as_str().unwrap().to_owned();
        assert_eq!(m.key().unwrap(), business.as_bytes(), "keyed by business");
        out.entry(v["message"].as_str().unwrap().to_owned())
            .or_default()
            .push(Record {
                business,
                json,
                ctx,
            });
    }
    out
}

/// Checks the verdicts against the core run over the log (see the file's documentation);
/// returns how many messages got more than one verdict.
fn check(events: &[Event], verdicts: &HashMap<String, Vec<Record>>) -> usize {
    let policy = Policy::default();
    let content = ContentEngine::default();
    let mut states: HashMap<&str, BusinessState> = HashMap::new();
    let mut marketing: HashMap<&str, Vec<u64>> = HashMap::new();
    let mut messages = 0;
    let mut twice = 0;
    let mut fatigue_seen = 0;
    for ev in events {
        let state = states
            .entry(ev.business())
            .or_insert_with(|| BusinessState::new(ev.ts()));
        let Event::Message(m) = ev else {
            assert!(apply(state, ev, MessageContext::default(), None, &policy).is_none());
            continue;
        };
        messages += 1;
        let got = verdicts
            .get(&m.id)
            .unwrap_or_else(|| panic!("message {} has no verdict", m.id));
        twice += usize::from(got.len() > 1);
        // The latest verdict of a message wins.
        let last = got.last().unwrap();
        assert_eq!(last.business, m.business);
        let facts = ContentFacts::analyze(&content, &m.text);
        let v = apply(state, ev, last.ctx, Some(&facts), &policy).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            last.json,
            "message {}",
            m.id
        );
        // Cross-business inputs never count a message twice: at most what the whole log holds.
        if m.category == Category::Marketing {
            let times = marketing.entry(m.recipient.as_str()).or_default();
            times.push(m.ts);
            let day = 86_400_000;
            let whole_log = events
                .iter()
                .filter(|e| match e {
                    Event::Message(o) => {
                        o.recipient == m.recipient
                            && o.category == Category::Marketing
                            && o.ts <= m.ts
                            && o.ts + day > m.ts
                    }
                    _ => false,
                })
                .count() as u64;
            let cap = policy.signals.recipient_fatigue_24h.cap;
            assert!(last.ctx.recipient_marketing_24h >= 1);
            assert!(
                last.ctx.recipient_marketing_24h <= whole_log.min(cap + 1),
                "message {}: fatigue {} > {whole_log} in the log",
                m.id,
                last.ctx.recipient_marketing_24h
            );
            fatigue_seen += usize::from(last.ctx.recipient_marketing_24h > 1);
        }
    }
    assert_eq!(
        verdicts.len(),
        messages,
        "no verdict for anything but the log's messages"
    );
    assert!(fatigue_seen > 0, "some recipients got repeated marketing");
    twice
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
    assert_eq!(check(&events, &verdicts(&c.brokers)), 0, "no duplicates");
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
    check(&events, &verdicts(&c.brokers));
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
    let all = verdicts(&c.brokers);
    let twice = check(&events, &all);
    eprintln!("messages scored twice: {twice}");
}
