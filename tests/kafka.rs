//! `spamward kafka` end to end against Apache Kafka itself: a one-node KRaft broker (combined
//! broker and controller) started from the jars `scripts/kafka-broker` resolves from Maven
//! Central, on loopback ports, one broker per test. Part of the end-to-end suite
//! (`--features e2e`, run by `scripts/e2e`).
//!
//! A generated world is loaded into a four-partition topic with `kafka-produce`, then scored by
//! `spamward kafka` members; the verdicts topic is audited against the core
//! (`spamward_kafka::audit`): one verdict per message id (the latest wins), each the core's for
//! its business's events in log order with the cross-business inputs it carries, no recipient
//! count above what the log holds and none below what its own partition holds before it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use spamward_content::ContentEngine;
use spamward_core::{Event, Policy};
use spamward_kafka::audit::{Audit, audit, read_verdicts};
use spamward_kafka::topics;
use spamward_log::LogReader;

use crate::util::{ok, p};

/// The pinned Apache Kafka's jars: `SPAMWARD_KAFKA_LIBS`, else where `scripts/kafka-broker`
/// puts them.
fn kafka_libs() -> PathBuf {
    let path = std::env::var_os("SPAMWARD_KAFKA_LIBS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/kafka-4.1.1/libs"),
        PathBuf::from,
    );
    assert!(
        path.join("kafka_2.13-4.1.1.jar").exists(),
        "the Kafka end-to-end tests need Apache Kafka 4.1.1's jars at {}: run scripts/kafka-broker \
         (Java 17+ and Maven; scripts/e2e does this), or set SPAMWARD_KAFKA_LIBS",
        path.display()
    );
    path
}

/// The cluster id the test brokers are formatted with (any base64 UUID will do).
const CLUSTER_ID: &str = "F4vPb8PvQZSDXe6ZWumnYg";

/// An Apache Kafka broker on loopback, its data in a temporary folder; stopped when dropped.
struct Broker {
    child: Child,
    address: String,
    /// The broker's configuration, data and log; removed after the broker is stopped.
    _dir: tempfile::TempDir,
}

impl Broker {
    /// Starts a broker and waits until it creates a topic. Its ports are found free by binding
    /// them first; another process may take one between that and the broker's own bind, so a
    /// broker that exits saying its address is in use is started again on other ports.
    fn start() -> Broker {
        for _ in 0..5 {
            if let Some(broker) = Broker::try_start() {
                return broker;
            }
        }
        panic!("five brokers in a row found their ports taken");
    }

    fn try_start() -> Option<Broker> {
        let libs = kafka_libs();
        let classpath = format!("{}/*", libs.display());
        let dir = tempfile::tempdir().unwrap();
        let (port, controller) = {
            let a = TcpListener::bind("127.0.0.1:0").unwrap();
            let b = TcpListener::bind("127.0.0.1:0").unwrap();
            (
                a.local_addr().unwrap().port(),
                b.local_addr().unwrap().port(),
            )
        };
        let config = dir.path().join("server.properties");
        let mut f = std::fs::File::create(&config).unwrap();
        writeln!(
            f,
            "process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.bootstrap.servers=127.0.0.1:{controller}\n\
             listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
             controller.listener.names=CONTROLLER\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             log.dirs={}\n\
             offsets.topic.replication.factor=1\n\
             offsets.topic.num.partitions=4\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             share.coordinator.state.topic.replication.factor=1\n\
             group.initial.rebalance.delay.ms=0",
            dir.path().join("data").display()
        )
        .unwrap();
        drop(f);
        let java = |class: &str| {
            let mut c = Command::new("java");
            // A small heap and the quick compiler: the tests' load is light, and the machine's
            // two cores are for the members under test.
            c.args([
                "-Xms128m",
                "-Xmx768m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
            ])
            .args(["-cp", &classpath, class]);
            c
        };
        let format = java("kafka.tools.StorageTool")
            .args(["format", "--standalone", "-t", CLUSTER_ID, "-c"])
            .arg(&config)
            .output()
            .expect("java runs (the Kafka end-to-end tests need Java 17+ on PATH)");
        assert!(
            format.status.success(),
            "formatting the broker's storage failed: {}",
            String::from_utf8_lossy(&format.stderr)
        );
        let log = dir.path().join("broker.log");
        let child = java("kafka.Kafka")
            .arg(&config)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::File::options().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .expect("java runs");
        let mut broker = Broker {
            child,
            address: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        // Ready once it has created a topic: the controller is elected and the broker serves.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = broker.child.try_wait().unwrap() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                if said.contains("Address already in use") {
                    return None;
                }
                panic!("the Kafka broker exited ({status}) before it served:\n{said}");
            }
            if std::net::TcpStream::connect(&broker.address).is_ok()
                && topics::ensure(&topics::config(&broker.address, &[]), "ready", 1, &[]).is_ok()
            {
                return Some(broker);
            }
            assert!(
                Instant::now() < deadline,
                "the Kafka broker did not serve within 90 s:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Creates `names` with `partitions` partitions each, kept whole. Their records'
    /// timestamps are event times, weeks before today in a generated world, and the broker's
    /// default retention (7 days, counted on those timestamps) would delete them at its first
    /// retention pass, half a minute after it starts.
    fn topics(&self, names: &[&str], partitions: i32) {
        let config = topics::config(&self.address, &[]);
        for topic in names {
            topics::ensure(&config, topic, partitions, &[("retention.ms", "-1")])
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A generated world (two days, 16 businesses) in `dir`; returns its log and its events.
fn world(dir: &Path) -> (PathBuf, Vec<Event>) {
    ok(&[
        "generate",
        "--businesses",
        "16",
        "--recipients",
        "3000",
        "--days",
        "2",
        "--seed",
        "21",
        "--out",
        p(dir),
    ]);
    let log = dir.join("events.jsonl");
    let events = LogReader::open(&log)
        .unwrap()
        .map(|r| r.unwrap().event)
        .collect();
    (log, events)
}

/// Loads `log` into topic `events` (4 partitions, keyed by business).
fn produce(broker: &Broker, log: &Path) {
    let out = ok(&[
        "kafka-produce",
        "--brokers",
        &broker.address,
        "--topic",
        "events",
        "--partitions",
        "4",
        p(log),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("(4 partitions)"));
}

/// Members replay a two-day log from its beginning, each at its own pace, so their event times
/// can be up to the log's span apart: cross-business entries are kept that long (three days),
/// or one member would drop as too late what a slower one publishes.
const LATENESS_MS: &str = "259200000";

/// `spamward kafka` in group `group` on topics `events` and `verdicts`, stderr to `log`.
fn member(broker: &Broker, group: &str, log: &Path, extra: &[&str]) -> Child {
    member_on(broker, ("events", "verdicts"), group, log, extra)
}

/// `spamward kafka` in group `group` from topic `input` to topic `verdicts`, stderr to `log`.
fn member_on(
    broker: &Broker,
    (input, verdicts): (&str, &str),
    group: &str,
    log: &Path,
    extra: &[&str],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_spamward"))
        .args(["kafka", "--brokers", &broker.address, "--input", input])
        .args(["--verdicts", verdicts, "--group", group, "--from-beginning"])
        .args(["--commit-every", "0.5", "--batch", "200"])
        .args(["--session-timeout-ms", "10000"])
        .args(["--allowed-lateness-ms", LATENESS_MS])
        .args(extra)
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("spamward kafka starts")
}

/// Waits for `child` to exit, for at most `limit`; kills it and fails after that.
fn exits(child: &mut Child, limit: Duration, log: &Path) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "a member did not exit within {limit:?}:\n{}",
                lines(log).join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn check(broker: &Broker, events: &[Event]) -> Result<Audit, String> {
    let verdicts = read_verdicts(&broker.address, &[], "verdicts").map_err(|e| e.to_string())?;
    let content = ContentEngine::default();
    audit(events, &verdicts, &Policy::default(), Some(&content))
}
/// How many messages `events` holds.
fn messages(events: &[Event]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(e, Event::Message(_)))
        .count() as u64
}

fn lines(path: &Path) -> Vec<String> {
    BufReader::new(std::fs::File::open(path).unwrap())
        .lines()
        .map_while(Result::ok)
        .collect()
}

/// Replay at scale: one member reads the topic from its earliest offsets to its end and exits;
/// the verdicts topic passes the audit with no duplicates.
#[test]
fn replay_through_a_broker_reads_to_the_end_and_agrees_with_the_core() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let (log, events) = world(dir.path());
    broker.topics(&["events", "verdicts"], 4);
    produce(&broker, &log);
    let member_log = dir.path().join("member.log");
    let mut one = member(&broker, "replay", &member_log, &["--until-end"]);
    let status = exits(&mut one, Duration::from_secs(300), &member_log);
    assert!(status.success(), "{}", lines(&member_log).join("\n"));
    let found = check(&broker, &events).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        found.scored_twice, 0,
        "a clean run scores each message once"
    );
    assert!(found.fatigue_above_one > 0);
    assert_eq!(found.messages, messages(&events));
}

/// The hand-computed cases (`tests/hand`, see `tests/hand.rs`) through a member, content off:
/// each case in a topic of one partition, so that the member reads it in log order, as the
/// cross-business counts of the hand computation assume. Every message has one verdict, the
/// hand-computed line.
#[test]
fn a_member_gives_the_hand_computed_verdicts() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    for case in crate::hand::CASES {
        let (input, verdicts) = (format!("hand-{case}"), format!("hand-{case}-verdicts"));
        broker.topics(&[&input, &verdicts], 1);
        ok(&[
            "kafka-produce",
            "--brokers",
            &broker.address,
            "--topic",
            &input,
            p(&crate::hand::file(case, ".jsonl")),
        ]);
        let log = dir.path().join(format!("{case}.log"));
        let mut one = member_on(
            &broker,
            (&input, &verdicts),
            &format!("hand-{case}"),
            &log,
            &["--until-end", "--no-content"],
        );
        let status = exits(&mut one, Duration::from_secs(120), &log);
        assert!(status.success(), "{case}: {}", lines(&log).join("\n"));
        let got = read_verdicts(&broker.address, &[], &verdicts).unwrap_or_else(|e| panic!("{e}"));
        let expected = crate::hand::expected(case);
        for line in expected.lines() {
            let id = serde_json::from_str::<serde_json::Value>(line).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned();
            let records = got.get(&id).map(Vec::as_slice).unwrap_or_default();
            assert_eq!(
                records.len(),
                1,
                "{case}: message {id}: {} verdicts",
                records.len()
            );
            assert_eq!(records[0].json, line, "{case}: message {id}");
        }
        assert_eq!(
            got.len(),
            expected.lines().count(),
            "{case}: verdicts of other ids"
        );
    }
}

/// Two members in one group score the first day; the first is stopped (SIGINT: it checkpoints
/// and leaves the group); then the second day is produced, and the survivor scores all of it,
/// the stopped member's partitions from their checkpoints, with no message scored twice.
#[test]
fn a_stopped_member_s_partitions_move_to_the_survivor() {
    let found = takeover("INT");
    assert_eq!(
        found.scored_twice, 0,
        "a clean hand-over scores nothing twice"
    );
}

/// The same with the first member killed (SIGKILL) just after the second day is produced: the
/// group must notice it is gone (its session times out), and its partitions resume at their last
/// checkpoints on the survivor. What it scored after its last checkpoint is scored again there.
#[test]
fn a_killed_member_s_partitions_move_to_the_survivor() {
    let found = takeover("KILL");
    eprintln!(
        "messages scored twice after the kill: {}",
        found.scored_twice
    );
}

/// The hand-over, in two halves of the log, so that the survivor is sure to have records of the
/// other member's partitions to score after it takes them over:
///
/// 1. The members join, and get two partitions each, before anything is produced.
/// 2. The first half of the log is produced; both score it and count each other's observations.
/// 3. For SIGINT, the first member is stopped and the second half produced; for SIGKILL, the
///    second half is produced and the first member killed.
/// 4. The survivor scores the rest; the verdicts pass the audit; it held all four partitions.
fn takeover(signal: &str) -> Audit {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let (log, events) = world(dir.path());
    let text = std::fs::read_to_string(&log).unwrap();
    let all: Vec<&str> = text.lines().collect();
    let half = all.len() / 2;
    let (first, second) = (
        dir.path().join("first.jsonl"),
        dir.path().join("second.jsonl"),
    );
    std::fs::write(&first, all[..half].join("\n") + "\n").unwrap();
    std::fs::write(&second, all[half..].join("\n") + "\n").unwrap();
    let first_messages = messages(&events[..half]);

    broker.topics(&["events", "verdicts"], 4);
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let mut a = member(&broker, "pair", &log_a, &[]);
    let mut b = member(&broker, "pair", &log_b, &[]);
    wait_until(
        Duration::from_secs(60),
        || holding(&log_a).len() == 2 && holding(&log_b).len() == 2,
        || "the members never got two partitions each".to_owned(),
    );
    produce(&broker, &first);
    // Both score the first half and count what the other published: a member whose partitions
    // are quiet still reads the signals topic, so this does not depend on who finishes first.
    wait_until(
        Duration::from_secs(120),
        || {
            let (a, b) = (lines(&log_a), lines(&log_b));
            reported(&a, VERDICTS) + reported(&b, VERDICTS) >= first_messages
                && reported(&a, REMOTE) > 0
                && reported(&b, REMOTE) > 0
        },
        || {
            format!(
                "the members did not score the first half ({first_messages} messages) and count \
                 each other's observations:\n{}\n---\n{}",
                lines(&log_a).join("\n"),
                lines(&log_b).join("\n")
            )
        },
    );
    let stop = |child: &Child| {
        let sent = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    if signal == "INT" {
        stop(&a);
        let status = exits(&mut a, Duration::from_secs(60), &log_a);
        assert_eq!(status.code(), Some(130), "{}", lines(&log_a).join("\n"));
        produce(&broker, &second);
    } else {
        produce(&broker, &second);
        stop(&a);
        exits(&mut a, Duration::from_secs(10), &log_a);
    }
    // The survivor finishes the log; it runs until stopped, like a filter in production.
    let deadline = Instant::now() + Duration::from_secs(240);
    let found = loop {
        match check(&broker, &events) {
            Ok(found) => break found,
            Err(e) if Instant::now() > deadline => {
                let _ = b.kill();
                panic!(
                    "{e}\nthe stopped member:\n{}\nthe survivor:\n{}",
                    lines(&log_a).join("\n"),
                    lines(&log_b).join("\n")
                );
            }
            Err(_) => std::thread::sleep(Duration::from_secs(2)),
        }
    };
    Command::new("kill")
        .args(["-INT", &b.id().to_string()])
        .status()
        .unwrap();
    let status = exits(&mut b, Duration::from_secs(60), &log_b);
    assert_eq!(status.code(), Some(130), "{}", lines(&log_b).join("\n"));
    assert_eq!(
        assigned(&log_b).len(),
        4,
        "the survivor held every partition:\n{}",
        lines(&log_b).join("\n")
    );
    found
}

/// The partition a member's log line says was assigned to it, if it says so.
fn assignment(line: &str) -> Option<String> {
    let rest = line.split("partition ").nth(1)?;
    rest.contains(" assigned")
        .then(|| rest.split(' ').next().unwrap_or("").to_owned())
}

/// The partitions a member's log says it was assigned, ever.
fn assigned(log: &Path) -> std::collections::BTreeSet<String> {
    lines(log).iter().filter_map(|l| assignment(l)).collect()
}

/// The partitions a member's log says it holds now: assigned and not revoked since (a
/// revocation takes every partition back).
fn holding(log: &Path) -> std::collections::BTreeSet<String> {
    let mut held = std::collections::BTreeSet::new();
    for l in lines(log) {
        if l.ends_with(" revoked") {
            held.clear();
        } else if let Some(p) = assignment(&l) {
            held.insert(p);
        }
    }
    held
}

/// What a member's progress line calls the verdicts it produced.
const VERDICTS: &str = " verdicts (";
/// What a member's progress line calls the observations it read from the other members.
const REMOTE: &str = " remote observations";

/// The count a member's latest progress line (of its log's `lines`) gives before `label`
/// ([`VERDICTS`], [`REMOTE`]); 0 before any such line. The counts are running totals.
fn reported(lines: &[String], label: &str) -> u64 {
    lines
        .iter()
        .rev()
        .find_map(|l| {
            let before = l.split(label).next()?;
            (before.len() < l.len())
                .then(|| before.rsplit(' ').next()?.replace(',', "").parse().ok())?
        })
        .unwrap_or(0)
}

/// Polls `ready` until it holds, failing with `why` once `limit` has passed.
fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool, why: impl Fn() -> String) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "{}", why());
        std::thread::sleep(Duration::from_millis(100));
    }
}
