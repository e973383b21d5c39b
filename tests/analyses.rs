//! `replay --analyses FILE`: kept content analyses give exactly the verdicts of analysing again,
//! under any policy; a file of other logs, other rule packs, a damaged or unfinished file is never
//! trusted, and a file that is not an analyses file is never overwritten.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{ok, p, small_world, spamward, stderr};

/// What a replay wrote: verdicts, report, stdout (the summary); and its stderr.
struct Replayed {
    outputs: (Vec<u8>, Vec<u8>, Vec<u8>),
    stderr: String,
}

fn replay(dir: &Path, events: &Path, extra: &[&str]) -> Replayed {
    let v = dir.join("v.jsonl");
    let r = dir.join("r.json");
    let out = ok_with(
        &[
            "replay",
            p(events),
            "--verdicts",
            p(&v),
            "--report",
            p(&r),
            "-q",
        ],
        extra,
    );
    Replayed {
        outputs: (
            fs::read(&v).unwrap(),
            fs::read(&r).unwrap(),
            out.stdout.clone(),
        ),
        stderr: stderr(&out),
    }
}

/// Runs `spamward` with `args` and then `extra`, insisting on success.
fn ok_with(args: &[&str], extra: &[&str]) -> std::process::Output {
    ok(&[args, extra].concat())
}

fn partial(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Rewards content evidence more than the default policy: the content signals act alone.
const CONTENT_STRICT: &str = "[signals.content_rules]\nthreshold = 0.3\naction = \"hold\"\n\
                              [signals.content_classifier]\nmin_probability = 0.6\n";

#[test]
fn kept_analyses_give_the_verdicts_of_analysing_again_under_any_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let events = small_world(d, 41);
    let kept = d.join("world.analyses");
    let strict = d.join("strict.toml");
    fs::write(&strict, CONTENT_STRICT).unwrap();

    let plain = replay(d, &events, &[]);
    let first = replay(d, &events, &["--analyses", p(&kept)]);
    assert!(
        first.stderr.contains("computed and written to"),
        "{}",
        first.stderr
    );
    assert!(kept.exists() && !partial(&kept).exists());
    assert!(plain.outputs == first.outputs, "writing changed the output");

    let second = replay(d, &events, &["--analyses", p(&kept)]);
    assert!(second.stderr.contains("read from"), "{}", second.stderr);
    assert!(!second.stderr.contains("computed"), "{}", second.stderr);
    assert!(
        plain.outputs == second.outputs,
        "kept analyses changed the output"
    );

    // Another policy, same analyses: the verdicts of that policy analysing afresh.
    let strict_plain = replay(d, &events, &["--policy", p(&strict)]);
    assert!(
        strict_plain.outputs.0 != plain.outputs.0,
        "the content-strict policy changes verdicts, so the facts matter"
    );
    let strict_kept = replay(
        d,
        &events,
        &[
            "--policy",
            p(&strict),
            "--analyses",
            p(&kept),
            "--threads",
            "1",
        ],
    );
    assert!(
        strict_kept.stderr.contains("read from"),
        "{}",
        strict_kept.stderr
    );
    assert!(strict_plain.outputs == strict_kept.outputs);
}

#[test]
fn analyses_of_other_rule_packs_or_other_logs_are_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let events = small_world(d, 42);
    let kept = d.join("world.analyses");
    replay(d, &events, &["--analyses", p(&kept)]);
    let written = fs::read(&kept).unwrap();

    // Other rule packs: one shipped pack only. The file is written afresh for them.
    let rules = d.join("rules");
    fs::create_dir(&rules).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::copy(
        repo.join("data/rules/delivery.toml"),
        rules.join("delivery.toml"),
    )
    .unwrap();
    let own = replay(d, &events, &["--rules", p(&rules)]);
    let other = replay(d, &events, &["--rules", p(&rules), "--analyses", p(&kept)]);
    assert!(
        other.stderr.contains("other rule packs"),
        "{}",
        other.stderr
    );
    assert!(own.outputs == other.outputs);
    assert_ne!(
        fs::read(&kept).unwrap(),
        written,
        "rewritten for the new packs"
    );
    // And back to the shipped packs: written again, then read.
    replay(d, &events, &["--analyses", p(&kept)]);
    assert_eq!(
        fs::read(&kept).unwrap(),
        written,
        "same heuristics, same bytes"
    );

    // Other logs: every record is checked against its message's text.
    let elsewhere = tempfile::tempdir().unwrap();
    let others = small_world(elsewhere.path(), 43);
    let own = replay(d, &others, &[]);
    let mixed = replay(d, &others, &["--analyses", p(&kept)]);
    assert!(
        mixed.stderr.contains("of another text") && mixed.stderr.contains("left as it was"),
        "{}",
        mixed.stderr
    );
    assert!(
        own.outputs == mixed.outputs,
        "another log's analyses were used"
    );
    assert_eq!(fs::read(&kept).unwrap(), written, "left as it was");
}

#[test]
fn damaged_unfinished_and_foreign_files_are_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let events = small_world(d, 44);
    let kept = d.join("world.analyses");
    let plain = replay(d, &events, &[]);
    replay(d, &events, &["--analyses", p(&kept)]);
    let whole = fs::read(&kept).unwrap();

    // Cut short: no trailer, so it is written again.
    fs::write(&kept, &whole[..whole.len() / 2]).unwrap();
    let cut = replay(d, &events, &["--analyses", p(&kept)]);
    assert!(
        cut.stderr.contains("not written to the end"),
        "{}",
        cut.stderr
    );
    assert!(plain.outputs == cut.outputs);
    assert_eq!(fs::read(&kept).unwrap(), whole);

    // Damaged records (trailer intact): the rest is computed, the verdicts are unchanged.
    let mut damaged = whole.clone();
    let mid = damaged.len() / 2;
    for b in &mut damaged[mid..mid + 64] {
        *b = !*b;
    }
    fs::write(&kept, &damaged).unwrap();
    let hurt = replay(d, &events, &["--analyses", p(&kept)]);
    assert!(
        hurt.stderr.contains("could not be read") || hurt.stderr.contains("of another text"),
        "{}",
        hurt.stderr
    );
    assert!(plain.outputs == hurt.outputs);

    // A file that is not an analyses file (here the log itself) is refused and left alone.
    let log = fs::read(&events).unwrap();
    let out = spamward(&["replay", p(&events), "--analyses", p(&events), "-q"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(p(&events)) && err.contains("not a spamward analyses file"),
        "{err}"
    );
    assert_eq!(fs::read(&events).unwrap(), log);

    // A replay stopped by a damaged log writes nothing.
    fs::remove_file(&kept).unwrap();
    let truncated = d.join("truncated.jsonl");
    let text = String::from_utf8(log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut body = lines[..lines.len() / 2].join("\n");
    body.push_str("\n{\"type\":\"message\",\"id\":");
    fs::write(&truncated, body).unwrap();
    let out = spamward(&[
        "replay",
        p(&truncated),
        "--analyses",
        p(&kept),
        "--max-errors",
        "0",
        "-q",
    ]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("not written"), "{}", stderr(&out));
    assert!(!kept.exists() && !partial(&kept).exists());
}

/// `diff` reads the file `replay` wrote (and writes one the same way): its diff is the one of
/// analysing afresh.
#[test]
fn diff_shares_the_analyses_with_replay() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let events = small_world(d, 45);
    let kept = d.join("world.analyses");
    let strict = d.join("strict.toml");
    fs::write(&strict, CONTENT_STRICT).unwrap();
    let empty = d.join("empty.toml");
    fs::write(&empty, "").unwrap();
    let diff = |extra: &[&str]| {
        let out_file = d.join("diff.json");
        let out = ok_with(
            &[
                "diff",
                p(&events),
                "--policy",
                p(&empty),
                "--policy",
                p(&strict),
                "--out",
                p(&out_file),
                "-q",
            ],
            extra,
        );
        (
            fs::read(&out_file).unwrap(),
            out.stdout.clone(),
            stderr(&out),
        )
    };
    let (plain, plain_stdout, _) = diff(&[]);
    replay(d, &events, &["--analyses", p(&kept)]);
    let (read, read_stdout, err) = diff(&["--analyses", p(&kept)]);
    assert!(err.contains("read from"), "{err}");
    assert_eq!(plain, read);
    assert_eq!(plain_stdout, read_stdout);
    let changed: serde_json::Value = serde_json::from_slice(&read).unwrap();
    assert!(changed["changed"].as_u64().unwrap() > 0, "{changed}");

    fs::remove_file(&kept).unwrap();
    let (written, _, err) = diff(&["--analyses", p(&kept)]);
    assert!(err.contains("computed and written"), "{err}");
    assert_eq!(plain, written);
    assert!(
        replay(d, &events, &["--analyses", p(&kept)])
            .stderr
            .contains("read from")
    );
}

/// `explain` reads the kept analyses too: the business's explanation and one message's, signal by
/// signal, are those of analysing afresh.
#[test]
fn explain_reads_the_kept_analyses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let events = small_world(d, 46);
    let kept = d.join("world.analyses");
    // A message of the business that sent the most: its explanation has plenty to say.
    let text = fs::read_to_string(&events).unwrap();
    let mut sent: std::collections::HashMap<String, Vec<String>> = Default::default();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "message" {
            sent.entry(v["business"].as_str().unwrap().to_owned())
                .or_default()
                .push(v["id"].as_str().unwrap().to_owned());
        }
    }
    let (business, ids) = sent.iter().max_by_key(|(b, ids)| (ids.len(), *b)).unwrap();
    let message = &ids[ids.len() / 2];
    let explain = |extra: &[&str]| {
        let out = ok_with(
            &[
                "explain",
                p(&events),
                "--business",
                business,
                "--message",
                message,
                "--json",
                "-q",
            ],
            extra,
        );
        (out.stdout.clone(), stderr(&out))
    };
    let (plain, _) = explain(&[]);
    let (written, err) = explain(&["--analyses", p(&kept)]);
    assert!(err.contains("computed and written"), "{err}");
    let (read, err) = explain(&["--analyses", p(&kept)]);
    assert!(err.contains("read from"), "{err}");
    assert_eq!(plain, written);
    assert_eq!(plain, read);
    let v: serde_json::Value = serde_json::from_slice(&read).unwrap();
    assert_eq!(v["explained"]["message"]["id"], message.as_str(), "{v}");
    assert!(
        !v["explained"]["readings"].as_array().unwrap().is_empty(),
        "{v}"
    );
}

/// A disk that fills up under the analyses file (a file size limit, `RLIMIT_FSIZE`) does not stop
/// the replay: the analyses only save time. It says so, leaves no partial file, and its verdicts
/// are all there.
#[test]
fn a_full_disk_under_the_analyses_file_does_not_stop_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let events = small_world(d, 47);
    let kept = d.join("world.analyses");
    let plain = ok(&["replay", p(&events), "--verdicts", "-", "-q"]).stdout;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_spamward"));
    cmd.args([
        "replay",
        p(&events),
        "--verdicts",
        "-",
        "-q",
        "--analyses",
        p(&kept),
    ]);
    crate::load::with_file_size_limit(&mut cmd, 64 << 10);
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("analyses: not written") && err.contains("File too large"),
        "{err}"
    );
    assert!(!kept.exists() && !partial(&kept).exists());
    assert!(
        out.stdout == plain,
        "verdicts differ from a replay without the file"
    );
}

/// Logs that go on past the kept file (another day's log after the same ones) extend it: the
/// known part is read, the rest computed and added, and the file ends up the bytes a replay of
/// all the logs would write afresh.
#[test]
fn a_file_of_the_first_logs_is_extended_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let events = small_world(d, 48);
    let text = fs::read_to_string(&events).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = (d.join("day1.jsonl"), d.join("day2.jsonl"));
    fs::write(&first, lines[..lines.len() / 2].join("\n") + "\n").unwrap();
    fs::write(&second, lines[lines.len() / 2..].join("\n") + "\n").unwrap();
    let kept = d.join("month.analyses");
    let both = |extra: &[&str]| {
        let v = d.join("v.jsonl");
        let out = ok_with(
            &["replay", p(&first), p(&second), "--verdicts", p(&v), "-q"],
            extra,
        );
        ((fs::read(&v).unwrap(), out.stdout.clone()), stderr(&out))
    };
    let (plain, _) = both(&[]);

    ok(&["replay", p(&first), "-q", "--analyses", p(&kept)]);
    let (extended, err) = both(&["--analyses", p(&kept)]);
    assert!(
        err.contains("read from") && err.contains("went on past it") && err.contains("added"),
        "{err}"
    );
    assert!(plain == extended);
    let (read, err) = both(&["--analyses", p(&kept)]);
    assert!(err.contains("read from") && !err.contains("added"), "{err}");
    assert!(plain == read);

    let fresh = d.join("fresh.analyses");
    both(&["--analyses", p(&fresh)]);
    assert_eq!(fs::read(&kept).unwrap(), fs::read(&fresh).unwrap());
}
