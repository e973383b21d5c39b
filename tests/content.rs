//! The content classifier end to end: the shipped model is what `spamward train` makes, it meets
//! its targets on the test side of the SMS collection and on the held-out business and spam texts,
//! and obfuscating test-side spam does not buy a lower score.

use std::path::PathBuf;

use spamward_content::{ContentEngine, Scratch};
use spamward_core::corpus::{Split, parse_sms_tsv, split_key, split_of};

use crate::util::{ok, p};

#[path = "../crates/content/tests/disguise.rs"]
mod disguise;
use disguise::{Obfuscator, homoglyphs, zero_width};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sms() -> PathBuf {
    root().join("data/sms/SMSSpamCollection")
}

/// `data/model.bin` is exactly what the documented command writes: nobody shipped a hand-tuned or
/// stale model.
#[test]
fn shipped_model_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.bin");
    let run = ok(&[
        "train",
        "--dataset",
        p(&sms()),
        "--format",
        "sms-tsv",
        "--out",
        p(&out),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("threshold"), "{stdout}");
    let trained = std::fs::read(&out).unwrap();
    let shipped = std::fs::read(root().join("data/model.bin")).unwrap();
    assert!(
        trained == shipped,
        "data/model.bin differs from a fresh `spamward train` ({} vs {} bytes); retrain it with \
         `cargo run --release -- train --dataset data/sms/SMSSpamCollection --format sms-tsv --out data/model.bin`",
        shipped.len(),
        trained.len()
    );
}

fn eval(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["eval-content", "--json"];
    all.extend_from_slice(args);
    let out = ok(&all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    assert!(last.starts_with("content F1: "), "last line: {last:?}");
    let json = &stdout[..stdout.rfind("content F1: ").unwrap()];
    serde_json::from_str(json).unwrap()
}

/// The shipped model on the test side: F1 at least 0.96 with at most 0.3% of ham flagged.
#[test]
fn shipped_model_meets_its_targets_on_the_test_side() {
    let e = eval(&[
        "--dataset",
        p(&sms()),
        "--format",
        "sms-tsv",
        "--split",
        "test",
    ]);
    let f1 = e["f1"].as_f64().unwrap();
    let fpr = e["false_positive_rate"].as_f64().unwrap();
    let auc = e["roc_auc"].as_f64().unwrap();
    assert!(e["texts"].as_u64().unwrap() > 1_400, "{e}");
    assert!(f1 >= 0.96, "F1 {f1}");
    assert!(fpr <= 0.003, "ham FPR {fpr}");
    assert!(auc >= 0.98, "ROC AUC {auc}");
    assert!(e["rules"].as_object().is_some_and(|r| !r.is_empty()));
}

/// Held-out legitimate business traffic is (almost) never flagged, and most current spam is.
#[test]
fn business_ham_passes_and_fresh_spam_is_caught() {
    let testdata = root().join("crates/content/testdata");
    let ham = eval(&[
        "--dataset",
        p(&testdata.join("business_ham.txt")),
        "--format",
        "lines",
        "--label",
        "ham",
    ]);
    assert!(ham["ham"].as_u64().unwrap() >= 150, "{ham}");
    // The shipped model flags 3 of the 156 (renewal, quote and delivery notices scoring just over
    // the threshold); more is a regression.
    let flagged = ham["false_positives"].as_u64().unwrap();
    assert!(flagged <= 3, "{flagged} business texts flagged");

    let spam = eval(&[
        "--dataset",
        p(&testdata.join("fresh_spam.txt")),
        "--format",
        "lines",
        "--label",
        "spam",
    ]);
    assert!(spam["spam"].as_u64().unwrap() >= 60, "{spam}");
    let recall = spam["recall"].as_f64().unwrap();
    assert!(recall >= 0.75, "fresh spam recall {recall}");
}

/// One leet digit per plain word: the first o, e or a with a letter on both sides.
fn leet(s: &str) -> String {
    let mut out = String::new();
    for (i, word) in s.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let chars: Vec<char> = word.chars().collect();
        let mut done = !chars.iter().all(|c| c.is_ascii_alphabetic());
        for (j, &c) in chars.iter().enumerate() {
            let inner = j > 0 && j + 1 < chars.len();
            let sub = match c {
                'o' => '0',
                'e' => '3',
                'a' => '4',
                _ => c,
            };
            if !done && inner && sub != c {
                out.push(sub);
                done = true;
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// The longest plain word of four or more letters spelled out, `f r e e`.
fn spaced(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let longest = words
        .iter()
        .enumerate()
        .filter(|(_, w)| w.len() >= 4 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .max_by_key(|(i, w)| (w.len(), usize::MAX - i))
        .map(|(i, _)| i);
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if Some(i) == longest {
                w.chars().map(String::from).collect::<Vec<_>>().join(" ")
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Obfuscated variants of test-side spam score within a small margin of the originals: the
/// classifier reads the normal form, and what normalising undid only adds to the score.
#[test]
fn obfuscated_test_spam_scores_like_the_original() {
    let data = std::fs::read_to_string(sms()).unwrap();
    let mut seen = std::collections::HashSet::new();
    let spam: Vec<String> = parse_sms_tsv(&data)
        .unwrap()
        .into_iter()
        .filter(|l| l.spam && split_of(&l.text) == Split::Test && seen.insert(split_key(&l.text)))
        .map(|l| l.text)
        .collect();
    assert!(spam.len() > 150);
    let engine = ContentEngine::default();
    let threshold = engine.model().expect("the shipped model loads").threshold();
    let mut scratch = Scratch::new();
    let mut score = |t: &str| {
        engine
            .analyze_with(t, &mut scratch)
            .spam_probability
            .unwrap()
    };
    let kinds: [(&str, Obfuscator); 4] = [
        ("zero-width", zero_width),
        ("homoglyphs", homoglyphs),
        ("leet", leet),
        ("spaced", spaced),
    ];
    for (name, obfuscate) in kinds {
        let (mut drop, mut worst, mut lost, mut caught) = (0.0, 0.0f64, 0, 0);
        for m in &spam {
            let original = score(m);
            let variant = score(&obfuscate(m));
            let d = (original - variant).max(0.0);
            drop += d;
            worst = worst.max(d);
            if original >= threshold {
                caught += 1;
                lost += usize::from(variant < threshold);
            }
        }
        let mean = drop / spam.len() as f64;
        eprintln!(
            "{name}: mean drop {mean:.4}, worst {worst:.3}, {lost} of {caught} caught spam lost"
        );
        assert!(mean <= 0.02, "{name}: mean drop {mean}");
        assert!(lost * 50 <= caught, "{name}: {lost} of {caught} lost");
    }
}

/// A file that is not a model is refused with the reason, not a panic.
#[test]
fn eval_content_refuses_a_file_that_is_not_a_model() {
    let out = crate::util::spamward(&[
        "eval-content",
        "--dataset",
        p(&sms()),
        "--model",
        p(&root().join("Cargo.toml")),
    ]);
    assert!(!out.status.success());
    let err = crate::util::stderr(&out);
    assert!(err.contains("not a spamward model file"), "{err}");
}
