//! The command line's contracts: formats round-trip, bad input is named, exit codes tell.

use std::fs;

use crate::util::{ok, p, small_world, spamward, stderr};

#[test]
fn jsonl_to_binary_and_back_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 3);
    for (mid, back) in [
        ("a.bin", "a.jsonl"),
        ("b.bin.zst", "b.jsonl.zst"),
        ("c.jsonl.zst", "c.jsonl"),
    ] {
        let mid = dir.path().join(mid);
        let back = dir.path().join(back);
        ok(&["convert", p(&events), p(&mid)]);
        ok(&["convert", p(&mid), p(&back)]);
        let plain = dir.path().join("plain.jsonl");
        ok(&["convert", p(&back), p(&plain)]);
        assert_eq!(
            fs::read(&events).unwrap(),
            fs::read(&plain).unwrap(),
            "via {}",
            mid.display()
        );
    }
}

/// Each class of bad line, and what the error must name.
#[test]
fn bad_lines_are_named_by_file_line_and_field() {
    let good = r#"{"type":"feedback","ts":1764000060000,"business":"b-1","recipient":"r-1","kind":"read"}"#;
    let cases = [
        ("not json at all", None, "malformed JSON"),
        (
            r#"{"type":"telegram","ts":1764000060000}"#,
            Some("type"),
            "unknown event type",
        ),
        (
            r#"{"type":"feedback","ts":1764000060000,"recipient":"r-1","kind":"read"}"#,
            Some("business"),
            "missing",
        ),
        (
            r#"{"type":"feedback","ts":"noon","business":"b-1","recipient":"r-1","kind":"read"}"#,
            Some("ts"),
            "bad timestamp",
        ),
        (
            r#"{"type":"feedback","ts":1764000060,"business":"b-1","recipient":"r-1","kind":"read"}"#,
            Some("ts"),
            "bad timestamp",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (bad, field, needle)) in cases.iter().enumerate() {
        let log = dir.path().join(format!("bad{i}.jsonl"));
        fs::write(&log, format!("{good}\n{good}\n{bad}\n{good}\n")).unwrap();
        // convert is strict by default: stops, names the place, exits non-zero, keeps what it had.
        let out_path = dir.path().join(format!("out{i}.jsonl"));
        let out = spamward(&["convert", p(&log), p(&out_path)]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains(&format!("bad{i}.jsonl:3")), "{err}");
        assert!(err.contains(needle), "{err}");
        if let Some(f) = field {
            assert!(err.contains(&format!("field `{f}`")), "{err}");
        }
        assert_eq!(
            fs::read_to_string(&out_path).unwrap().lines().count(),
            2,
            "accepted lines kept"
        );
        // replay counts, reports and skips.
        let out = ok(&["replay", p(&log)]);
        assert!(stderr(&out).contains(&format!("bad{i}.jsonl:3")));
        assert!(String::from_utf8_lossy(&out.stdout).contains("bad lines 1"));
        // ... unless told to tolerate none.
        let out = spamward(&["replay", p(&log), "--max-errors", "0"]);
        assert!(!out.status.success());
    }
}

#[test]
fn a_truncated_binary_log_yields_every_complete_record_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 5);
    let bin = dir.path().join("full.bin");
    ok(&["convert", p(&events), p(&bin)]);
    let bytes = fs::read(&bin).unwrap();
    let cut = dir.path().join("cut.bin");
    fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let back = dir.path().join("back.jsonl");
    let out = spamward(&["convert", p(&cut), p(&back)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("truncated"), "{}", stderr(&out));
    let written = fs::read_to_string(&back).unwrap();
    let original = fs::read_to_string(&events).unwrap();
    assert!(!written.is_empty());
    assert!(
        original.starts_with(&written),
        "the records before the cut, exactly"
    );
    // replay reads them all too, writes its outputs and exits non-zero.
    let report = dir.path().join("r.json");
    let out = spamward(&["replay", p(&cut), "--report", p(&report)]);
    assert!(!out.status.success());
    assert!(fs::metadata(&report).unwrap().len() > 0);
}

#[test]
fn wrong_files_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.bin");
    fs::write(&fake, b"{\"type\":\"message\"}\n").unwrap();
    let out = spamward(&["replay", p(&fake)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bad magic"), "{}", stderr(&out));
    let missing = dir.path().join("missing.jsonl");
    let out = spamward(&["replay", p(&missing)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.jsonl"));
    let policy = dir.path().join("p.toml");
    fs::write(&policy, "[signals.complaint_rate_7d]\nthreshold = 7\n").unwrap();
    let out = spamward(&["replay", p(&missing), "--policy", p(&policy)]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("signals.complaint_rate_7d.threshold"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn generation_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ea = small_world(a.path(), 11);
    let eb = small_world(b.path(), 11);
    assert_eq!(fs::read(&ea).unwrap(), fs::read(&eb).unwrap());
    assert_eq!(
        fs::read(a.path().join("truth.json")).unwrap(),
        fs::read(b.path().join("truth.json")).unwrap()
    );
    let c = tempfile::tempdir().unwrap();
    let ec = small_world(c.path(), 12);
    assert_ne!(fs::read(&ea).unwrap(), fs::read(&ec).unwrap());
}

#[test]
fn replay_output_is_identical_for_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 13);
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let v = dir.path().join(format!("v{threads}.jsonl"));
        let r = dir.path().join(format!("r{threads}.json"));
        let out = ok(&[
            "replay",
            p(&events),
            "--threads",
            threads,
            "--verdicts",
            p(&v),
            "--report",
            p(&r),
        ]);
        outputs.push((fs::read(&v).unwrap(), fs::read(&r).unwrap(), out.stdout));
    }
    assert!(!outputs[0].0.is_empty());
    assert!(
        outputs[0] == outputs[1],
        "verdicts, report and summary differ between 1 and 2 threads"
    );
    // One verdict per message, in log order.
    let messages: Vec<String> = fs::read_to_string(&events)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(r#"{"type":"message""#))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let verdicts: Vec<String> = String::from_utf8(outputs[0].0.clone())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(messages, verdicts);
}

/// `data/sample` is exactly what its documented command generates, so the README's figures on
/// it can be reproduced and the generator cannot drift from the data it ships.
#[test]
fn the_shipped_sample_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    ok(&[
        "generate",
        "--businesses",
        "50",
        "--recipients",
        "25000",
        "--days",
        "7",
        "--scale",
        "0.5",
        "--seed",
        "7",
        "--out",
        p(dir.path()),
    ]);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let shipped = dir.path().join("shipped.jsonl");
    ok(&["convert", p(&root.join("events.jsonl.zst")), p(&shipped)]);
    assert!(
        fs::read(dir.path().join("events.jsonl")).unwrap() == fs::read(&shipped).unwrap(),
        "data/sample/events.jsonl.zst differs from what the generator makes now: regenerate it"
    );
    assert_eq!(
        fs::read(dir.path().join("truth.json")).unwrap(),
        fs::read(root.join("truth.json")).unwrap()
    );
}

#[test]
fn bench_measures_and_reports_json() {
    let out = ok(&["bench", "--events", "20000", "--runs", "1", "--json"]);
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(f["messages"].as_u64().unwrap() > 1000, "{f}");
    for key in [
        "replay_messages_per_second",
        "replay_mb_per_second",
        "replay_peak_rss_mb",
        "replay_kept_messages_per_second",
        "filter_pipe_messages_per_second",
    ] {
        assert!(f[key].as_f64().unwrap() > 0.0, "{key}: {f}");
    }
    for (cpu, rate) in [
        ("replay_cpu_us_per_message", "replay_messages_per_second"),
        (
            "replay_kept_cpu_us_per_message",
            "replay_kept_messages_per_second",
        ),
        (
            "filter_pipe_cpu_us_per_message",
            "filter_pipe_messages_per_second",
        ),
    ] {
        assert_some_cores_busy(cpu, &f[cpu], &f[rate], &f);
    }
    let (p50, p99, p999) = (
        f["check_p50_us"].as_f64().unwrap(),
        f["check_p99_us"].as_f64().unwrap(),
        f["check_p999_us"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= p999, "{f}");
    // The two parts of check: each ordered, each no slower at its median than the whole.
    for part in ["check_content", "check_engine"] {
        let q = |k: &str| f[part][k].as_f64().unwrap();
        let (p50_part, p99_part, p999_part) = (q("p50_us"), q("p99_us"), q("p999_us"));
        assert!(
            0.0 < p50_part && p50_part <= p99_part && p99_part <= p999_part && p50_part <= p50,
            "{part}: {f}"
        );
    }
    // The same over the log's second half, once warm: ordered.
    let q = |k: &str| f["check_second_half"][k].as_f64().unwrap();
    assert!(
        0.0 < q("p50_us") && q("p50_us") <= q("p99_us") && q("p99_us") <= q("p999_us"),
        "{f}"
    );
}

/// A process `spamward bench` measured at `cpu` µs a message and `rate` messages/s kept some of
/// this machine's cores busy and not more than all of them. The bounds are loose (other tests
/// share the cores, and the service's start-up is counted), but a unit slip, a factor of a
/// thousand, falls outside them.
fn assert_some_cores_busy(
    what: &str,
    cpu: &serde_json::Value,
    rate: &serde_json::Value,
    f: &serde_json::Value,
) {
    let cores = std::thread::available_parallelism().unwrap().get() as f64;
    let busy = cpu.as_f64().unwrap() * rate.as_f64().unwrap() / 1e6;
    assert!(
        0.01 < busy && busy <= cores * 2.0,
        "{what}: {busy} cores: {f}"
    );
}

/// `bench --no-content` measures every command with content signals off, says so, and has no
/// kept analyses to measure; `--no-content` is refused beside what needs content.
#[test]
fn bench_with_content_off_measures_the_rest_of_the_pipeline() {
    let out = ok(&[
        "bench",
        "--events",
        "20000",
        "--runs",
        "1",
        "--http-seconds",
        "1",
        "--no-content",
        "--json",
    ]);
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["content_signals"], false, "{f}");
    assert!(f["replay_kept_messages_per_second"].is_null(), "{f}");
    assert!(f["replay_kept_cpu_us_per_message"].is_null(), "{f}");
    assert!(f["check_content"].is_null(), "{f}");
    for key in [
        "replay_messages_per_second",
        "replay_cpu_us_per_message",
        "filter_pipe_messages_per_second",
        "filter_pipe_cpu_us_per_message",
        "check_p99_us",
    ] {
        assert!(f[key].as_f64().unwrap() > 0.0, "{key}: {f}");
    }
    assert!(
        f["http"]["messages_per_second"].as_f64().unwrap() > 0.0,
        "{f}"
    );
    assert_some_cores_busy(
        "the service",
        &f["http"]["server_cpu_us_per_message"],
        &f["http"]["messages_per_second"],
        &f,
    );

    let dir = tempfile::tempdir().unwrap();
    let log = small_world(dir.path(), 3);
    for args in [
        vec!["replay", p(&log), "--no-content", "--analyses", "x.facts"],
        vec!["replay", p(&log), "--no-content", "--rules", "data/rules"],
        vec!["filter", "--no-content", "--rules", "data/rules"],
    ] {
        let out = spamward(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("cannot be used with"),
            "{}",
            stderr(&out)
        );
    }
}

/// Content signals earn their cost: on a small world, the same replay with `--no-content` lets
/// many more abusive messages through and acts on abusers later, and content signals stop no
/// more than a sliver of legitimate messages beyond what the other signals stop.
#[test]
fn content_signals_stop_abuse_sooner_than_the_other_signals_alone() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_world(dir.path(), 5);
    let truth = dir.path().join("truth.json");
    let eval = |extra: &[&str]| -> serde_json::Value {
        let report = dir.path().join("report.json");
        let mut args = vec!["replay", p(&log), "--report", p(&report), "-q"];
        args.extend(extra);
        ok(&args);
        // A report made without content signals says so; one made with them is as it was.
        let written: serde_json::Value =
            serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
        let says = &written["summary"]["content_signals"];
        assert_eq!(says.is_null(), extra.is_empty(), "{says}");
        let out = ok(&[
            "eval",
            "--truth",
            p(&truth),
            "--report",
            p(&report),
            "--json",
        ]);
        // The figures, then the closing `business F1:` line.
        serde_json::Deserializer::from_slice(&out.stdout)
            .into_iter()
            .next()
            .unwrap()
            .unwrap()
    };
    let (on, off) = (eval(&[]), eval(&["--no-content"]));
    let n = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap();
    assert_eq!(n(&on, "abusive_messages"), n(&off, "abusive_messages"));
    assert!(
        n(&on, "abusive_messages_allowed") * 3 < n(&off, "abusive_messages_allowed"),
        "on {on}\noff {off}"
    );
    assert!(
        on["median_messages_before_action"].as_f64().unwrap()
            < off["median_messages_before_action"].as_f64().unwrap(),
        "on {on}\noff {off}"
    );
    assert!(
        n(&on, "legitimate_messages_not_allowed")
            <= n(&off, "legitimate_messages_not_allowed") + n(&on, "legitimate_messages") / 200,
        "on {on}\noff {off}"
    );
}

/// The log a bench generates can be Parquet, the data lakes' format; it is read like the others.
#[test]
fn bench_runs_on_a_generated_parquet_log() {
    let out = ok(&[
        "bench",
        "--events",
        "20000",
        "--format",
        "parquet",
        "--runs",
        "1",
        "--http-seconds",
        "0",
        "--json",
    ]);
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        f["input"].as_str().unwrap().ends_with("events.parquet"),
        "{f}"
    );
    assert!(f["messages"].as_u64().unwrap() > 1000, "{f}");
    assert!(
        f["replay_messages_per_second"].as_f64().unwrap() > 0.0,
        "{f}"
    );
    assert!(
        f["filter_pipe_messages_per_second"].as_f64().unwrap() > 0.0,
        "{f}"
    );
}

/// `--rules DIR` puts an operator's rule packs in place of the shipped ones: their rules fire by
/// id in the verdicts, and a pack with a mistake stops the start naming its file and rule.
#[test]
fn operators_rule_packs_replace_the_shipped_ones_and_bad_packs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    fs::create_dir(&rules).unwrap();
    fs::write(
        rules.join("house.toml"),
        r#"
[[rule]]
id = "house.parcel_fee"
description = "Our customers get parcel-fee lures."
category = "phishing"
regex = '''parcel .{0,40}(fee|charge)'''
weight = 0.9
"#,
    )
    .unwrap();
    let log = dir.path().join("log.jsonl");
    fs::write(
        &log,
        r#"{"type":"message","id":"m-1","ts":1764000000000,"business":"b-1","recipient":"r-1","category":"utility","text":"Your parcel is waiting: a small customs fee is due today"}
"#,
    )
    .unwrap();
    let verdicts = dir.path().join("v.jsonl");
    ok(&[
        "replay",
        p(&log),
        "--rules",
        p(&rules),
        "--verdicts",
        p(&verdicts),
        "-q",
    ]);
    let v: serde_json::Value =
        serde_json::from_str(fs::read_to_string(&verdicts).unwrap().trim()).unwrap();
    let hit = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["signal"] == "content_rules")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(hit["detail"], "house.parcel_fee");

    fs::write(
        rules.join("zz_bad.toml"),
        "[[rule]]\nid = \"bad.one\"\ndescription = \"x\"\ncategory = \"phishing\"\nregex = '''(unclosed'''\nweight = 0.5\n",
    )
    .unwrap();
    for cmd in ["replay", "explain"] {
        let mut args = vec![cmd, p(&log), "--rules", p(&rules)];
        if cmd == "explain" {
            args.extend(["--business", "b-1"]);
        }
        let out = spamward(&args);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("zz_bad.toml") && err.contains("bad.one"),
            "{err}"
        );
    }
}
