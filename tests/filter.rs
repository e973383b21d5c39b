//! `spamward filter` against `spamward replay`: the same verdicts, in the same bytes, live.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::util::{is_content_signal, ok, p, small_world};

/// Runs `spamward filter` with `input` on its standard input.
fn filter(input: Stdio) -> Output {
    filter_with(&[], input)
}

/// [`filter`] with more arguments.
pub(crate) fn filter_with(args: &[&str], input: Stdio) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_spamward"))
        .arg("filter")
        .args(args)
        .stdin(input)
        .output()
        .expect("spamward runs");
    assert!(
        out.status.success(),
        "spamward filter failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_streamed_world_gets_replays_verdicts_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 13);
    let verdicts = dir.path().join("verdicts.jsonl");
    ok(&["replay", p(&events), "--verdicts", p(&verdicts)]);
    let expected = fs::read(&verdicts).unwrap();
    assert!(!expected.is_empty());

    let out = filter(File::open(&events).unwrap().into());
    assert!(out.stdout == expected, "filter and replay disagree");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0 bad lines"), "{err}");
}

/// With content signals off (`--no-content`), where message text may not be read: replay and
/// the filter still agree byte for byte, no verdict gives a content reason, and the other signals
/// still act (the same world with content on gives content reasons, so the flag is not ignored).
#[test]
fn with_content_off_replay_and_filter_agree_and_no_reason_is_about_content() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 13);
    let reasons = |verdicts: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(verdicts)
            .lines()
            .flat_map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                v["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["signal"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    };

    let with = dir.path().join("with.jsonl");
    ok(&["replay", p(&events), "--verdicts", p(&with), "-q"]);
    let with = reasons(&fs::read(&with).unwrap());
    assert!(
        with.iter().any(|r| is_content_signal(r)),
        "the world has content reasons with content on"
    );

    let without = dir.path().join("without.jsonl");
    ok(&[
        "replay",
        p(&events),
        "--no-content",
        "--verdicts",
        p(&without),
        "-q",
    ]);
    let expected = fs::read(&without).unwrap();
    let out = filter_with(&["--no-content"], File::open(&events).unwrap().into());
    assert!(out.stdout == expected, "filter and replay disagree");

    let without = reasons(&expected);
    assert!(!without.is_empty(), "other signals still give reasons");
    let content: Vec<&String> = without.iter().filter(|r| is_content_signal(r)).collect();
    assert!(
        content.is_empty(),
        "content reasons with content off: {content:?}"
    );
}

/// Bad lines in the middle: an error record in place of each, with its line number, and every
/// message still gets its one verdict — the same as replay gives the log without them.
#[test]
fn bad_lines_are_answered_in_place_and_every_message_still_gets_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 17);
    let clean = fs::read_to_string(&events).unwrap();
    let clean: Vec<&str> = clean.lines().take(5_000).collect();
    let log = dir.path().join("clean.jsonl");
    fs::write(&log, clean.join("\n") + "\n").unwrap();
    let verdicts = dir.path().join("verdicts.jsonl");
    ok(&["replay", p(&log), "--verdicts", p(&verdicts)]);
    let expected = fs::read_to_string(&verdicts).unwrap();
    let mut expected = expected.lines();

    // (bad line, the field its error must name, words of the error)
    let bad: [(&[u8], Option<&str>, &str); 5] = [
        (b"{\"type\":\"message\"", None, "malformed JSON"),
        (
            br#"{"type":"feedback","ts":1764000060,"business":"b-1","recipient":"r-1","kind":"read"}"#,
            Some("ts"),
            "bad timestamp",
        ),
        (
            br#"{"type":"message","id":"m-x","ts":1764000060000,"recipient":"r-1","category":"marketing","text":"hi"}"#,
            Some("business"),
            "missing",
        ),
        (
            br#"{"type":"telegram","ts":1764000060000}"#,
            Some("type"),
            "unknown event type",
        ),
        (b"{\"type\":\"feedback\",\"business\":\"\xff\"}", None, "invalid UTF-8"),
    ];
    let too_long = vec![b'x'; (1 << 20) + 1];
    let mut input = Vec::new();
    // Per input line: Some(true) a message, Some(false) a bad line, None silent.
    let mut want: Vec<Option<bool>> = Vec::new();
    for (i, line) in clean.iter().enumerate() {
        if i % 1000 == 500 {
            let (b, _, _) = bad[i / 1000];
            input.extend_from_slice(b);
            input.push(b'\n');
            want.push(Some(false));
            input.extend_from_slice(b"\n");
            want.push(None);
        }
        if i == 2_222 {
            input.extend_from_slice(&too_long);
            input.push(b'\n');
            want.push(Some(false));
        }
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
        want.push(line.starts_with(r#"{"type":"message""#).then_some(true));
    }
    let dirty = dir.path().join("dirty.jsonl");
    fs::write(&dirty, &input).unwrap();

    let out = filter(File::open(&dirty).unwrap().into());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut got = stdout.lines();
    let mut bad_seen = 0;
    for (n, want) in want.iter().enumerate() {
        let n = n as u64 + 1;
        match want {
            None => {}
            Some(true) => assert_eq!(got.next(), expected.next(), "line {n}"),
            Some(false) => {
                let record: serde_json::Value =
                    serde_json::from_str(got.next().expect("an error record")).unwrap();
                assert_eq!(record["type"], "error");
                assert_eq!(record["line"], n, "{record}");
                let error = record["error"].as_str().unwrap();
                let (needle, field) = if error.starts_with("line of") {
                    ("longer than the limit of 1048576 bytes", None)
                } else {
                    let (_, field, needle) = bad[bad_seen];
                    bad_seen += 1;
                    (needle, field)
                };
                assert!(error.contains(needle), "line {n}: {error}");
                if let Some(f) = field {
                    assert!(error.starts_with(&format!("field `{f}`: ")), "{error}");
                }
            }
        }
    }
    assert_eq!(bad_seen, bad.len());
    assert_eq!(got.next(), None, "nothing more");
    assert_eq!(expected.next(), None, "every message answered");
}

/// A delivery process writes one message and waits: its verdict must come back without the
/// input being closed.
#[test]
fn a_live_message_is_answered_before_the_input_ends() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spamward"))
        .arg("filter")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spamward runs");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in stdout.lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let message = |id: &str| {
        format!(
            r#"{{"type":"message","id":"{id}","ts":1764000000000,"business":"b-1","recipient":"r-1","category":"utility","text":"Your order has shipped"}}"#
        )
    };
    for id in ["m-1", "m-2"] {
        writeln!(stdin, "{}", message(id)).unwrap();
        stdin.flush().unwrap();
        let verdict = rx.recv_timeout(Duration::from_secs(10));
        let Ok(verdict) = verdict else {
            let _ = child.kill();
            panic!("no verdict for {id} within 10 s: {verdict:?}");
        };
        let v: serde_json::Value = serde_json::from_str(&verdict).unwrap();
        assert_eq!(
            (v["message"].as_str(), v["action"].as_str()),
            (Some(id), Some("allow"))
        );
    }
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    reader.join().unwrap();
    assert!(rx.try_recv().is_err(), "one verdict per message");
}

/// Two instances, each owning half the businesses: every message gets exactly one verdict between
/// them, each refuses the other's events with a clear error, and businesses whose verdicts never
/// involved cross-business fatigue (which each instance sees only in part) get replay's verdicts.
#[test]
fn two_partitions_share_a_log_without_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 71);
    let replayed = dir.path().join("v.jsonl");
    ok(&["replay", p(&events), "--verdicts", p(&replayed)]);
    let log = std::fs::read(&events).unwrap();
    let mut mine: Vec<serde_json::Value> = Vec::new();
    for part in ["0/2", "1/2"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_spamward"))
            .args(["filter", "--partition", part])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feed = log.clone();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(&feed).unwrap();
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success());
        let mut errors = 0;
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["type"] == "error" {
                errors += 1;
                assert!(
                    v["error"]
                        .as_str()
                        .unwrap()
                        .contains("belongs to partition"),
                    "{v}"
                );
            } else {
                mine.push(v);
            }
        }
        assert!(errors > 0, "partition {part} refused the other half");
    }
    let replay: Vec<serde_json::Value> = std::fs::read_to_string(&replayed)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        mine.len(),
        replay.len(),
        "exactly one verdict per message across the instances"
    );
    let by_id: std::collections::HashMap<&str, &serde_json::Value> = mine
        .iter()
        .map(|v| (v["message"].as_str().unwrap(), v))
        .collect();
    assert_eq!(by_id.len(), replay.len(), "no message answered twice");
    // Cross-business signals see only the instance's own businesses.
    let touched = |v: &serde_json::Value| {
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["signal"] == "recipient_fatigue_24h" || r["signal"] == "campaign_24h")
    };
    let fatigued: std::collections::HashSet<&str> = replay
        .iter()
        .chain(mine.iter())
        .filter(|v| touched(v))
        .map(|v| v["business"].as_str().unwrap())
        .collect();
    let mut compared = 0;
    for v in &replay {
        if !fatigued.contains(v["business"].as_str().unwrap()) {
            assert_eq!(&v, by_id.get(v["message"].as_str().unwrap()).unwrap());
            compared += 1;
        }
    }
    assert!(
        compared > replay.len() / 5,
        "enough compared: {compared} of {}",
        replay.len()
    );
}
