//! Ctrl-C stops a long run cleanly: what is complete is written, and the exit code says so.

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{ok, p, small_world};

#[test]
fn an_interrupted_replay_writes_a_prefix_of_the_full_verdicts_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 61);
    let full = dir.path().join("full.jsonl");
    ok(&["replay", p(&events), "--verdicts", p(&full)]);
    let lines: Vec<String> = fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        lines.len() > 60_000,
        "enough events to interrupt mid-way: {}",
        lines.len()
    );

    // The log arrives through a FIFO the test controls, so the interrupt lands mid-stream.
    let fifo = dir.path().join("stream.jsonl");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (verdicts, report) = (dir.path().join("v.jsonl"), dir.path().join("r.json"));
    let child = Command::new(env!("CARGO_BIN_EXE_spamward"))
        .args([
            "replay",
            p(&fifo),
            "--verdicts",
            p(&verdicts),
            "--report",
            p(&report),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let half = lines.len() / 2;
    for l in &lines[..half] {
        writeln!(w, "{l}").unwrap();
    }
    w.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(100));
    // More input: the reader notices the stop within a few thousand records and closes.
    for l in &lines[half..] {
        if writeln!(w, "{l}").is_err() {
            break;
        }
    }
    drop(w);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let got = fs::read_to_string(&verdicts).unwrap();
    let all = fs::read_to_string(&full).unwrap();
    assert!(!got.is_empty(), "verdicts before the stop are written");
    assert!(got.len() < all.len(), "the run stopped before the end");
    assert!(
        all.starts_with(&got),
        "the verdicts written are exactly the full run's first ones"
    );
    let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["summary"]["complete"], false);
}
