//! `spamward diff`: the same policy twice changes nothing; one changed threshold changes exactly
//! the verdicts its signal touches; the counts add up.

use std::fs;

use serde_json::Value;

use crate::util::{ok, p, small_world};

fn diff(dir: &std::path::Path, events: &std::path::Path, old: &str, new: &str) -> Value {
    let (a, b) = (dir.join("old.toml"), dir.join("new.toml"));
    fs::write(&a, old).unwrap();
    fs::write(&b, new).unwrap();
    let out = dir.join("diff.json");
    let truth = dir.join("truth.json");
    ok(&[
        "diff",
        p(events),
        "--policy",
        p(&a),
        "--policy",
        p(&b),
        "--truth",
        p(&truth),
        "--out",
        p(&out),
    ]);
    serde_json::from_slice(&fs::read(&out).unwrap()).unwrap()
}

fn counts(v: &Value) -> Vec<u64> {
    ["allow", "throttle", "hold", "block"]
        .iter()
        .map(|k| v[*k].as_u64().unwrap())
        .collect()
}

#[test]
fn the_same_policy_twice_is_an_empty_diff() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 31);
    let d = diff(dir.path(), &events, "", "");
    assert!(d["messages"].as_u64().unwrap() > 1000);
    for key in [
        "changed",
        "newly_stopped",
        "newly_allowed",
        "other_changed",
        "rescored",
    ] {
        assert_eq!(d[key], 0, "{key}");
    }
    for key in [
        "businesses",
        "stopped_sample",
        "allowed_sample",
        "other_sample",
    ] {
        assert_eq!(d[key].as_array().unwrap().len(), 0, "{key}");
    }
    assert_eq!(d["actions"][0], d["actions"][1]);
    assert_eq!(d["truth"][0], d["truth"][1]);
}

#[test]
fn one_threshold_changes_exactly_what_it_touches_and_the_counts_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 32);
    let d = diff(
        dir.path(),
        &events,
        "",
        "[signals.recipient_fatigue_24h]\ncap = 3\n",
    );
    let changed = d["changed"].as_u64().unwrap();
    assert!(
        changed > 0,
        "a lower cap stops something in a world with fatigue offenders"
    );
    // Every listed change is a recipient_fatigue_24h verdict under the new policy.
    for key in ["stopped_sample", "allowed_sample", "other_sample"] {
        for m in d[key].as_array().unwrap() {
            let reasons = m["new"]["reasons"].as_array().unwrap();
            assert!(
                reasons
                    .iter()
                    .any(|r| r["signal"] == "recipient_fatigue_24h"),
                "{m}"
            );
        }
    }
    // The counts add up: both sides count every message; each action's change is the net of the
    // transitions into and out of it.
    let (old, new) = (counts(&d["actions"][0]), counts(&d["actions"][1]));
    let messages = d["messages"].as_u64().unwrap();
    assert_eq!(old.iter().sum::<u64>(), messages);
    assert_eq!(new.iter().sum::<u64>(), messages);
    let mut net = [0i64; 4];
    let index = |a: &str| {
        ["allow", "throttle", "hold", "block"]
            .iter()
            .position(|x| *x == a)
            .unwrap()
    };
    let mut total = 0;
    for (pair, n) in d["transitions"].as_object().unwrap() {
        let (from, to) = pair.split_once(" -> ").unwrap();
        let n = n.as_u64().unwrap();
        net[index(from)] -= n as i64;
        net[index(to)] += n as i64;
        total += n;
    }
    assert_eq!(total, changed);
    for i in 0..4 {
        assert_eq!(new[i] as i64 - old[i] as i64, net[i], "action {i}");
    }
    let split: u64 = ["newly_stopped", "newly_allowed", "other_changed"]
        .iter()
        .map(|k| d[*k].as_u64().unwrap())
        .sum();
    assert_eq!(split, changed);
}
