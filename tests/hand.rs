//! Hand-computed cases (`tests/hand/`): small logs whose every verdict and status change was
//! worked out from the README's definitions and the default policy, outside spamward's code
//! (`tests/hand/make.py`, with its own Beta tail from mpmath), checked byte for byte against
//! replay, the pipe filter and the HTTP service (and Kafka, in `tests/kafka.rs`). Unlike the
//! tests that compare one front-end with another, these fail when all of them share a mistake.
//!
//! Content signals are off in every case (`--no-content`): the cases are about the other
//! signals, and a trained model's probabilities cannot be worked out by hand.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::filter::filter_with;
use crate::serve::{Service, post_log};
use crate::util::{ok, p};

/// The cases, by the name of their files in `tests/hand/`.
pub(crate) const CASES: [&str; 12] = [
    "ramp",
    "tier_limit",
    "opt_out",
    "fatigue",
    "complaints",
    "burst",
    "invalid_numbers",
    "low_read_rate",
    "tier_upgrade",
    "failed_deliveries",
    "service_window",
    "delayed_status",
];

pub(crate) fn file(case: &str, suffix: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hand")
        .join(format!("{case}{suffix}"))
}

/// The case's expected verdict lines.
pub(crate) fn expected(case: &str) -> String {
    fs::read_to_string(file(case, ".verdicts.jsonl")).unwrap()
}

/// The case's expected status changes: (business, ts, from, to, trigger), in order.
fn changes(case: &str) -> Vec<(String, u64, String, String, String)> {
    fs::read_to_string(file(case, ".changes.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let c: Value = serde_json::from_str(l).unwrap();
            change(&c["business"], &c)
        })
        .collect()
}

fn change(business: &Value, c: &Value) -> (String, u64, String, String, String) {
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    (
        s(business),
        c["ts"].as_u64().unwrap(),
        s(&c["from"]),
        s(&c["to"]),
        s(&c["trigger"]),
    )
}

/// Every case has verdicts to check, and together they reach every action and a status change.
#[test]
fn the_cases_reach_every_action_and_a_status_change() {
    let all: String = CASES.iter().map(|c| expected(c)).collect();
    for action in ["allow", "throttle", "hold", "block"] {
        assert!(
            all.contains(&format!(r#""action":"{action}""#)),
            "no case has a verdict {action}"
        );
    }
    assert!(CASES.iter().any(|c| !changes(c).is_empty()));
}

#[test]
fn replay_gives_the_hand_computed_verdicts_and_status_changes() {
    let dir = tempfile::tempdir().unwrap();
    for case in CASES {
        let (verdicts, report) = (dir.path().join("v.jsonl"), dir.path().join("r.json"));
        ok(&[
            "replay",
            p(&file(case, ".jsonl")),
            "--no-content",
            "--verdicts",
            p(&verdicts),
            "--report",
            p(&report),
        ]);
        assert_eq!(
            fs::read_to_string(&verdicts).unwrap(),
            expected(case),
            "{case}: replay's verdicts"
        );
        let report: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
        let got: Vec<_> = report["businesses"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| {
                b["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| change(&b["business"], c))
            })
            .collect();
        assert_eq!(got, changes(case), "{case}: replay's status changes");
    }
}

#[test]
fn the_pipe_filter_gives_the_hand_computed_verdicts() {
    for case in CASES {
        let input = fs::File::open(file(case, ".jsonl")).unwrap();
        let out = filter_with(&["--no-content"], input.into());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            expected(case),
            "{case}: the pipe filter's verdicts"
        );
    }
}

#[test]
fn the_service_gives_the_hand_computed_verdicts_and_status_changes() {
    for case in CASES {
        let service = Service::start(&["--no-content"]);
        let log = fs::read_to_string(file(case, ".jsonl")).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        let want = expected(case);
        let mut want = want.lines();
        post_log(&service, &lines, &mut want);
        assert_eq!(want.next(), None, "{case}: every verdict answered");
        for c in changes(case) {
            let a = service.get(&format!("/v1/businesses/{}", c.0));
            assert_eq!(a.status, 200);
            let standing = a.json();
            let got: Vec<_> = standing["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| change(&standing["business"], x))
                .collect();
            assert!(got.contains(&c), "{case}: {c:?} not among {got:?}");
        }
    }
}
