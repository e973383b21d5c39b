//! Helpers: run the binary, make worlds and logs in temporary folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `spamward` with `args`; returns its output whatever the exit code.
pub fn spamward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spamward"))
        .args(args)
        .output()
        .expect("spamward runs")
}

/// Runs `spamward` and insists on success.
pub fn ok(args: &[&str]) -> Output {
    let out = spamward(args);
    assert!(
        out.status.success(),
        "spamward {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Generates a small world (every archetype present) into `dir`; returns the events path.
pub fn small_world(dir: &Path, seed: u64) -> PathBuf {
    ok(&[
        "generate",
        "--businesses",
        "40",
        "--recipients",
        "20000",
        "--days",
        "2",
        "--seed",
        &seed.to_string(),
        "--out",
        p(dir),
    ]);
    dir.join("events.jsonl")
}

/// Whether a verdict's reason `code` is one of the content signals (by the core's own list of
/// signals and their families).
pub fn is_content_signal(code: &str) -> bool {
    use spamward_core::signal::{Family, Signal};
    Signal::ALL
        .iter()
        .any(|s| s.code() == code && s.family() == Family::Content)
}
