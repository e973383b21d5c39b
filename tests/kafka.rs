//! `spamward kafka` end to end against a real Kafka-protocol broker on 127.0.0.1: Tansu, pinned
//! at 0.6.0 and installed by `.ci/run` into `target/tools` (or named by `SPAMWARD_TANSU`).
//!
//! A generated world is loaded into a four-partition topic with `kafka-produce`, then scored by
//! `spamward kafka` members; the verdicts topic is audited against the core
//! (`spamward_kafka::audit`): one verdict per message id (the latest wins), each the core's for
//! its business's events in log order with the cross-business inputs it carries, no recipient
//! count above what the log holds.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spamward_content::ContentEngine;
use spamward_core::{Event, Policy};
use spamward_kafka::audit::{Audit, audit, read_verdicts};
use spamward_log::LogReader;

use crate::util::{ok, p};

/// Where Tansu is.
fn tansu() -> PathBuf {
    let path = std::env::var_os("SPAMWARD_TANSU").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin/tansu"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "the Kafka end-to-end tests need the Tansu broker at {}: \
         `cargo install --locked --root target/tools tansu@0.6.0 --features dynostore` \
         (.ci/run does this), or set SPAMWARD_TANSU",
        path.display()
    );
    path
}

/// A Tansu broker on a free loopback port, in memory; stopped when dropped.
struct Broker {
    child: Child,
    address: String,
}

impl Broker {
    fn start() -> Broker {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let address = format!("127.0.0.1:{port}");
        wait_until(
            Duration::from_secs(30),
            || std::net::TcpStream::connect(&address).is_ok(),
            || format!("tansu did not listen on {address}"),
        );
        Broker { child, address }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A generated world loaded into topic `events` (4 partitions); returns its events. `extra`
/// goes to `kafka-produce`.
fn load(broker: &Broker, dir: &Path, extra: &[&str]) -> Vec<Event> {
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
    let out = ok(&[
        "kafka-produce",
        "--brokers",
        &broker.address,
        "--topic",
        "events",
        "--partitions",
        "4",
        p(&log),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .collect::<Vec<_>>());
    assert!(String::from_utf8_lossy(&out.stderr).contains("(4 partitions)"));
    LogReader::open(&log)
        .unwrap()
        .map(|r| r.unwrap().event)
        .collect()
}

/// `spamward kafka` in group `group`, stderr to `log`.
fn member(broker: &Broker, group: &str, log: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_spamward"))
        .args(["kafka", "--brokers", &broker.address, "--input", "events"])
        .args([
            "--verdicts",
            "verdicts",
            "--group",
            group,
            "--from-beginning",
        ])
        .args(["--commit-every", "0.5", "--batch", "200"])
        .args(["--session-timeout-ms", "6000"])
        .args(extra)
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("spamward kafka starts")
}

fn check(broker: &Broker, events: &[Event]) -> Result<Audit, String> {
    let verdicts = read_verdicts(&broker.address, &[], "verdicts").map_err(|e| e.to_string())?;
    let content = ContentEngine::default();
    audit(events, &verdicts, &Policy::default(), Some(&content))
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
    let events = load(&broker, dir.path(), &[]);
    let log = dir.path().join("member.log");
    let status = member(&broker, "replay", &log, &["--until-end"])
        .wait()
        .unwrap();
    assert!(status.success(), "{}", lines(&log).join("\n"));
    let found = check(&broker, &events).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        found.scored_twice, 0,
        "a clean run scores each message once"
    );
    assert!(found.fatigue_above_one > 0);
}

/// Two members in one group; the first is stopped mid-stream (SIGINT: it checkpoints and leaves
/// the group); the other takes its partitions over from their checkpoints, with no message
/// scored twice.
#[test]
fn a_stopped_member_s_partitions_move_to_the_survivor() {
    let found = takeover("INT");
    assert_eq!(
        found.scored_twice, 0,
        "a clean hand-over scores nothing twice"
    );
}

/// The same with the first member killed (SIGKILL): the group must notice it is gone, and its
/// partitions resume at their last checkpoints on the survivor.
///
/// Ignored: Tansu 0.6.0's group coordinator keeps a member that stopped heartbeating in the
/// group it forms next, so the survivor is never given the dead member's partitions. The same
/// crash is tested against librdkafka's mock cluster (`crates/kafka/tests/mock.rs`,
/// `a_member_that_dies_is_replaced_from_its_checkpoints`). Run with `--ignored` against a
/// broker that evicts dead members.
#[test]
#[ignore = "Tansu 0.6.0 does not evict a killed member from the group"]
fn a_killed_member_s_partitions_move_to_the_survivor() {
    let found = takeover("KILL");
    eprintln!(
        "messages scored twice after the kill: {}",
        found.scored_twice
    );
}

/// Two members; the first gets `signal` once it has partitions and has scored for a moment;
/// the survivor must finish the log, pass the audit and hold all four partitions.
fn takeover(signal: &str) -> Audit {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    // One record per batch: Tansu 0.6.0 answers a fetch from an offset inside a record batch
    // with the batches after it, skipping the rest of that batch, and the survivor resumes each
    // partition at its checkpoint, an offset anywhere.
    let events = load(&broker, dir.path(), &["-X", "batch.num.messages=1"]);
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let mut a = member(&broker, "pair", &log_a, &[]);
    let mut b = member(&broker, "pair", &log_b, &[]);
    // Stop the first member once both have had partitions and it has scored, and the survivor
    // has counted what it published on the signals topic, after a moment more. The last is
    // waited for, not assumed after a fixed pause: on a loaded machine the first publication can
    // come seconds after the first verdicts, and a member stopped before it leaves nothing to
    // count.
    wait_until(
        Duration::from_secs(60),
        || {
            lines(&log_b).iter().any(|l| l.contains("assigned"))
                && reported(&log_a, " verdicts (") > 0
        },
        || "the members never both got partitions".to_owned(),
    );
    wait_until(
        Duration::from_secs(120),
        || reported(&log_b, REMOTE) > 0,
        || {
            format!(
                "the survivor never counted the other member's observations:\n{}",
                lines(&log_b).join("\n")
            )
        },
    );
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Command::new("kill")
        .args(["-s", signal, &a.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    a.wait().unwrap();
    // The survivor finishes the log; it runs until stopped, like a filter in production.
    let deadline = Instant::now() + Duration::from_secs(240);
    let found = loop {
        match check(&broker, &events) {
            Ok(found) => break found,
            Err(e) if Instant::now() > deadline => {
                let _ = b.kill();
                panic!("{e}\n{}", lines(&log_b).join("\n"));
            }
            Err(_) => std::thread::sleep(Duration::from_secs(2)),
        }
    };
    let sent = Command::new("kill")
        .args(["-INT", &b.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = b.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{}", lines(&log_b).join("\n"));
    // The survivor held every partition at some point.
    let held: std::collections::BTreeSet<String> = lines(&log_b)
        .iter()
        .filter_map(|l| {
            let rest = l.split("partition ").nth(1)?;
            rest.contains("assigned")
                .then(|| rest.split(' ').next().unwrap_or("").to_owned())
        })
        .collect();
    assert_eq!(held.len(), 4, "{}", lines(&log_b).join("\n"));
    // What it counted stays counted to its last report.
    assert!(reported(&log_b, REMOTE) > 0, "{}", lines(&log_b).join("\n"));
    found
}

/// What a member's progress line calls the observations it read from the other members.
const REMOTE: &str = " remote observations";

/// The count a member's latest progress line gives before `label` (` verdicts (`, [`REMOTE`]);
/// 0 before any such line. The counts are running totals.
fn reported(log: &Path, label: &str) -> u64 {
    lines(log)
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
