//! Parquet logs through the command line: the same events and the same verdicts as JSON Lines.

use std::fs;

use crate::util::{ok, p, small_world, spamward, stderr};

#[test]
fn jsonl_to_parquet_and_back_is_byte_identical_and_replays_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = small_world(dir.path(), 5);
    let parquet = dir.path().join("events.parquet");
    let back = dir.path().join("back.jsonl");
    ok(&["convert", p(&jsonl), p(&parquet)]);
    assert!(fs::read(&parquet).unwrap().starts_with(b"PAR1"));
    ok(&["convert", p(&parquet), p(&back)]);
    assert!(
        fs::read(&jsonl).unwrap() == fs::read(&back).unwrap(),
        "JSON Lines -> Parquet -> JSON Lines changed the log"
    );

    let mut runs = Vec::new();
    for (log, name) in [(&jsonl, "jsonl"), (&parquet, "parquet")] {
        let v = dir.path().join(format!("verdicts-{name}.jsonl"));
        let r = dir.path().join(format!("report-{name}.json"));
        ok(&["replay", p(log), "--verdicts", p(&v), "--report", p(&r)]);
        // The report names the log it read; everything else must agree.
        let report = fs::read_to_string(&r).unwrap().replace(p(log), "LOG");
        runs.push((fs::read(&v).unwrap(), report));
    }
    assert!(!runs[0].0.is_empty());
    assert!(
        runs[0].0 == runs[1].0,
        "replay of the Parquet log gives other verdicts than replay of the JSON Lines log"
    );
    assert!(runs[0].1 == runs[1].1, "the reports differ");
}

#[test]
fn files_that_are_not_parquet_logs_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = small_world(dir.path(), 6);
    let parquet = dir.path().join("events.parquet");
    ok(&["convert", p(&jsonl), p(&parquet)]);
    let bytes = fs::read(&parquet).unwrap();

    let fake = dir.path().join("fake.parquet");
    fs::write(&fake, fs::read(&jsonl).unwrap()).unwrap();
    let cut = dir.path().join("cut.parquet");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    for (file, words) in [
        (&fake, "fake.parquet: not a Parquet file (no PAR1 magic)"),
        (&cut, "cut.parquet: unreadable Parquet file"),
    ] {
        for command in ["replay", "convert"] {
            let back = dir.path().join("back.jsonl");
            let out = spamward(&[command, p(file), p(&back)]);
            assert!(!out.status.success(), "{command} {}", file.display());
            assert!(stderr(&out).contains(words), "{}", stderr(&out));
        }
    }
}
