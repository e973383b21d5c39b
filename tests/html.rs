//! The HTML report in a real browser: headless Chromium loads the file with no network, the page
//! script runs without an error and draws a chart for every flagged business.

use std::fs;
use std::process::Command;

use serde_json::Value;

use crate::util::{ok, p, small_world};

/// Debian's Chromium (`SPAMWARD_CHROMIUM`, else /usr/bin/chromium); `scripts/e2e` installs it.
/// This test is in the end-to-end suite, so a missing browser is a failure.
fn chromium() -> String {
    let path = std::env::var("SPAMWARD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&path).exists(),
        "the HTML report test needs Chromium at {path}: scripts/e2e installs Debian's chromium \
         (apt-get install chromium), or set SPAMWARD_CHROMIUM"
    );
    path
}

fn headless(chromium: &str, profile: &std::path::Path) -> Command {
    let mut c = Command::new("timeout");
    c.args([
        "120",
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
    ])
    .args([
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn the_html_report_loads_cleanly_in_chromium_and_shows_the_charts() {
    let chromium = chromium();
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 51);
    let (html, report) = (dir.path().join("page.html"), dir.path().join("r.json"));
    ok(&[
        "replay",
        p(&events),
        "--html",
        p(&html),
        "--report",
        p(&report),
    ]);
    let page = fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("<script src") && !page.contains("<link "),
        "no outside resources"
    );

    let report: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let flagged = report["businesses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| !b["first_flagged"].is_null())
        .count();
    assert!(flagged > 0);

    let profile = tempfile::tempdir().unwrap();
    let out = headless(&chromium, profile.path())
        .args(["--virtual-time-budget=10000", "--dump-dom"])
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let body = dom
        .split("<body")
        .nth(1)
        .and_then(|b| b.split('>').next())
        .unwrap_or_default()
        .to_owned();
    assert!(
        body.contains(r#"data-ready="yes""#),
        "the page script did not finish: <body{body}>"
    );
    assert!(!body.contains("data-error"), "a script error: <body{body}>");
    // One status chart, then a volume and a complaint chart per flagged business.
    assert!(
        body.contains(&format!(r#"data-charts="{}""#, 1 + 2 * flagged.min(200))),
        "<body{body}> for {flagged} flagged"
    );
    assert_eq!(
        dom.matches("<tr><td><a href=").count(),
        flagged,
        "one table row per flagged business"
    );

    let shot = dir.path().join("page.png");
    let out = headless(&chromium, profile.path())
        .args([
            "--window-size=1300,2000",
            &format!("--screenshot={}", shot.display()),
        ])
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let png = fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
}
