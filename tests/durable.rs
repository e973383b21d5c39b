//! `spamward filter --state-dir`: killed with SIGKILL mid-stream and restarted, it gives every
//! message exactly one verdict, the same as an uninterrupted run.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::{self, JoinHandle};

use crate::util::{ok, p, small_world};

/// Starts `spamward filter --state-dir DIR` with `extra` arguments, all three streams piped.
fn start(state: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_spamward"))
        .args(["filter", "--state-dir", p(state)])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spamward runs")
}

/// Writes `lines` to the filter in small pieces from another thread; closes the input at the end
/// if asked, or else keeps it open (a live stream that has not ended). Write errors (the process
/// was killed) end the thread.
fn feed(mut stdin: ChildStdin, lines: Vec<String>, close: bool) -> JoinHandle<Option<ChildStdin>> {
    thread::spawn(move || {
        for chunk in lines.chunks(64) {
            let piece: String = chunk.iter().map(|l| format!("{l}\n")).collect();
            if stdin
                .write_all(piece.as_bytes())
                .and_then(|()| stdin.flush())
                .is_err()
            {
                return None;
            }
        }
        (!close).then_some(stdin)
    })
}

/// Runs the scenario: first half of the log in, `received` verdicts read, SIGKILL, restart with
/// `--resume-after`, the rest of the log from the event the filter names. Returns the restart's
/// standard error.
fn kill_and_resume(seed: u64, extra: &[&str], received: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), seed);
    let verdicts = dir.path().join("verdicts.jsonl");
    ok(&["replay", p(&events), "--verdicts", p(&verdicts)]);
    let expected: Vec<String> = fs::read_to_string(&verdicts)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let lines: Vec<String> = fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(expected.len() > received * 2, "{} verdicts", expected.len());
    let state = dir.path().join("state");

    // Run 1: half the log, a live stream that never ends; the client reads `received` verdicts.
    let mut first = start(&state, extra);
    let writer = feed(
        first.stdin.take().unwrap(),
        lines[..lines.len() / 2].to_vec(),
        false,
    );
    let mut out = BufReader::new(first.stdout.take().unwrap());
    let mut got = Vec::new();
    while got.len() < received {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "run 1 ended early");
        got.push(line.trim_end().to_owned());
    }
    let pid = first.id().to_string();
    let killed = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    assert!(killed.success());
    first.wait().unwrap();
    drop(writer.join().unwrap());
    let last_id =
        serde_json::from_str::<serde_json::Value>(got.last().unwrap()).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();

    // Run 2: resume after the last verdict received, read where to continue from stderr.
    let mut second = start(&state, &[extra, &["--resume-after", &last_id]].concat());
    let mut err = BufReader::new(second.stderr.take().unwrap());
    let mut stderr = String::new();
    let n: usize = loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "no restore line: {stderr}"
        );
        stderr.push_str(&line);
        if let Some(n) = line
            .trim_end()
            .split("continue the input after event ")
            .nth(1)
        {
            break n.parse().unwrap();
        }
    };
    assert!(
        n >= received && n <= lines.len() / 2,
        "restored {n} of {} fed",
        lines.len() / 2
    );
    let writer = feed(second.stdin.take().unwrap(), lines[n..].to_vec(), true);
    let rest: Vec<String> = BufReader::new(second.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    writer.join().unwrap();
    let status = second.wait().unwrap();
    let mut tail = String::new();
    std::io::Read::read_to_string(&mut err, &mut tail).unwrap();
    stderr.push_str(&tail);
    assert!(status.success(), "run 2 failed: {stderr}");

    // The verdicts journaled in run 1 that its client never read came first in run 2.
    let journaled = lines[..n]
        .iter()
        .filter(|l| l.contains(r#""type":"message""#))
        .count();
    eprintln!(
        "killed after {received} verdicts read; {n} events durable; {} verdicts owed",
        journaled - received
    );

    // Every message exactly once, as replay gives it.
    let union: Vec<String> = got.into_iter().chain(rest).collect();
    assert_eq!(union.len(), expected.len(), "{stderr}");
    let first_diff = union.iter().zip(&expected).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "verdicts differ from replay's");
    stderr
}

#[test]
fn a_filter_killed_mid_stream_resumes_with_exactly_the_uninterrupted_verdicts() {
    let stderr = kill_and_resume(21, &[], 300);
    assert!(stderr.contains("(no snapshot, journal 0.."), "{stderr}");
}

#[test]
fn a_kill_after_snapshots_and_journal_rotation_resumes_from_the_snapshot() {
    let stderr = kill_and_resume(22, &["--snapshot-every", "5000"], 6_000);
    let snapshot: u64 = stderr
        .split("(snapshot at ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no snapshot restored: {stderr}"));
    assert!(snapshot >= 5_000, "{stderr}");
}
