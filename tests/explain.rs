//! `spamward explain`: its numbers are the report's, and a message's explanation is replay's
//! verdict with every signal's reading behind it.

use std::fs;

use serde_json::Value;

use crate::util::{ok, p, small_world};

#[test]
fn explain_matches_the_report_and_the_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 41);
    let (report, verdicts) = (dir.path().join("r.json"), dir.path().join("v.jsonl"));
    ok(&[
        "replay",
        p(&events),
        "--report",
        p(&report),
        "--verdicts",
        p(&verdicts),
    ]);
    let report: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let flagged: Vec<&Value> = report["businesses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| !b["first_flagged"].is_null() && !b["first_action"].is_null())
        .collect();
    assert!(!flagged.is_empty(), "the world has flagged businesses");
    let verdict_lines = fs::read_to_string(&verdicts).unwrap();

    for b in flagged.iter().take(3) {
        let id = b["business"].as_str().unwrap();
        let message = b["first_action"]["message"].as_str().unwrap();
        let out = ok(&[
            "explain",
            p(&events),
            "--business",
            id,
            "--message",
            message,
            "--json",
        ]);
        let e: Value = serde_json::from_slice(&out.stdout).unwrap();
        for key in [
            "status",
            "status_since",
            "first_flagged",
            "quality",
            "tier",
            "totals",
            "ratios",
            "reasons",
            "changes",
            "history",
            "first_action",
        ] {
            assert_eq!(e[key], b[key], "{id}: {key}");
        }
        // Each status change tipped by a message shows that message.
        for c in e["status_changes"].as_array().unwrap() {
            if let Some(m) = c["trigger"].as_str().unwrap().strip_prefix("message ") {
                assert_eq!(c["message"]["id"], m);
            }
        }
        // The explained message's verdict is the one replay wrote, and every reason is a reading
        // that fired with the same value.
        let replayed: Value = verdict_lines
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v["message"] == message)
            .unwrap();
        let x = &e["explained"];
        assert_eq!(x["verdict"], replayed, "{id} {message}");
        assert_ne!(
            x["verdict"]["action"], "allow",
            "the first message not allowed"
        );
        let readings = x["readings"].as_array().unwrap();
        assert_eq!(readings.len(), spamward_core::Signal::ALL.len());
        for reason in replayed["reasons"].as_array().unwrap() {
            let r = readings
                .iter()
                .find(|r| r["signal"] == reason["signal"])
                .unwrap();
            assert_eq!(r["fired"], true, "{id} {message}: {reason} from {r}");
            for field in ["value", "threshold", "window", "probability", "detail"] {
                assert_eq!(
                    r[field], reason[field],
                    "{id} {message}: {field} of {reason} and {r}"
                );
            }
        }
        // The text form runs too.
        let text = ok(&["explain", p(&events), "--business", id]);
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(text.contains(&format!("business {id}:")) && text.contains("status changes:"));
    }
}

#[test]
fn unknown_business_or_message_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 42);
    let out = crate::util::spamward(&["explain", p(&events), "--business", "b-nope"]);
    assert!(!out.status.success());
    assert!(crate::util::stderr(&out).contains("b-nope"));
    let out = crate::util::spamward(&[
        "explain",
        p(&events),
        "--business",
        "b-1",
        "--message",
        "m-nope",
    ]);
    assert!(!out.status.success());
    assert!(crate::util::stderr(&out).contains("m-nope"));
}
