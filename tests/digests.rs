//! The output digests (`tests/digests/expected.txt`, written by `scripts/digests`): what replay,
//! diff and explain write for the shipped sample, content on and off, must not change unless a
//! commit says why. `scripts/digests --check` also holds the default generated world's (too large
//! for a debug build); this test holds the sample's lines of the same file.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::util::{ok, p};

const SAMPLE: &str = "data/sample/events.jsonl.zst";

fn sha256(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The sample's lines of the expected file: (name, digest), e.g. ("content=on verdicts", "34f0…").
fn expected() -> Vec<(String, String)> {
    let text = fs::read_to_string("tests/digests/expected.txt").unwrap();
    let lines: Vec<_> = text
        .lines()
        .filter_map(|l| l.strip_prefix("sample "))
        .map(|l| {
            let (name, digest) = l.rsplit_once(' ').unwrap();
            (name.to_string(), digest.to_string())
        })
        .collect();
    assert!(lines.len() >= 12, "the sample's digests are listed");
    lines
}

#[test]
fn the_samples_outputs_are_the_recorded_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let expected = expected();
    let mut got = Vec::new();
    for content in ["on", "off"] {
        let out = dir.path().join(content);
        fs::create_dir(&out).unwrap();
        let mut flags = vec!["--quiet"];
        if content == "off" {
            flags.push("--no-content");
        }
        let (verdicts, report, html, diff) = (
            out.join("verdicts.jsonl"),
            out.join("report.json"),
            out.join("report.html"),
            out.join("diff.json"),
        );
        let mut args = vec!["replay", SAMPLE, "--verdicts", p(&verdicts), "--report"];
        args.extend([p(&report), "--html", p(&html)]);
        args.extend(&flags);
        ok(&args);
        let mut args = vec!["diff", SAMPLE, "--policy", "data/policy.toml", "--policy"];
        args.extend(["tests/digests/candidate.toml", "--out", p(&diff)]);
        args.extend(&flags);
        ok(&args);
        let tag = format!("content={content}");
        for (kind, path) in [
            ("verdicts", &verdicts),
            ("report", &report),
            ("html", &html),
            ("diff", &diff),
        ] {
            got.push((format!("{tag} {kind}"), sha256(path)));
        }
        // The explained targets are the ones the file lists.
        for (name, _) in &expected {
            let Some(target) = name
                .strip_prefix(&format!("{tag} explain:"))
                .map(str::to_string)
            else {
                continue;
            };
            let mut args = vec!["explain", SAMPLE, "--json"];
            let business;
            if let Some(rest) = target.strip_prefix("m-") {
                business = format!("b-{}", rest.rsplit_once('-').unwrap().0);
                args.extend(["--business", &business, "--message", &target]);
            } else {
                args.extend(["--business", &target]);
            }
            args.extend(&flags);
            let printed = ok(&args).stdout;
            let file = out.join(format!("explain-{target}.json"));
            fs::write(&file, printed).unwrap();
            got.push((format!("{tag} explain:{target}"), sha256(&file)));
        }
    }
    assert_eq!(got, expected);
}
