//! Normalisation scenarios (`testdata/normalize.toml`) and the legitimate corpus's obfuscation.

use serde::Deserialize;
use spamward_content::Normalizer;

use crate::util;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    input: String,
    text: String,
    #[serde(default)]
    min_score: Option<f64>,
    #[serde(default)]
    max_score: Option<f64>,
    #[serde(default)]
    zero_width: Option<u32>,
    #[serde(default)]
    bidi: Option<u32>,
    #[serde(default)]
    confusables: Option<u32>,
    #[serde(default)]
    leet: Option<u32>,
    #[serde(default)]
    repeats_squeezed: Option<u32>,
    #[serde(default)]
    fullwidth_or_compat: Option<u32>,
    #[serde(default)]
    stacked_marks: Option<u32>,
    #[serde(default)]
    spaced_letters: Option<u32>,
}

#[derive(Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[test]
fn scenarios() {
    let cases: Cases = util::table("normalize.toml", include_str!("../testdata/normalize.toml"));
    let mut nz = Normalizer::new();
    let mut failures = Vec::new();
    for c in &cases.case {
        let n = nz.normalize(&c.input);
        let o = &n.obfuscation;
        let mut problems = Vec::new();
        if n.text != c.text {
            problems.push(format!("text {:?}, want {:?}", n.text, c.text));
        }
        if c.min_score.is_some_and(|m| o.score < m) {
            problems.push(format!("score {} below {}", o.score, c.min_score.unwrap()));
        }
        if c.max_score.is_some_and(|m| o.score > m) {
            problems.push(format!("score {} above {}", o.score, c.max_score.unwrap()));
        }
        let counts = [
            ("zero_width", c.zero_width, o.zero_width),
            ("bidi", c.bidi, o.bidi),
            ("confusables", c.confusables, o.confusables),
            ("leet", c.leet, o.leet),
            ("repeats_squeezed", c.repeats_squeezed, o.repeats_squeezed),
            (
                "fullwidth_or_compat",
                c.fullwidth_or_compat,
                o.fullwidth_or_compat,
            ),
            ("stacked_marks", c.stacked_marks, o.stacked_marks),
            ("spaced_letters", c.spaced_letters, o.spaced_letters),
        ];
        for (what, want, got) in counts {
            if let Some(want) = want
                && want != got
            {
                problems.push(format!("{what} {got}, want {want}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", c.name, problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.case.len(),
        failures.join("\n")
    );
}

#[test]
fn legit_messages_need_almost_no_normalising() {
    let mut nz = Normalizer::new();
    for m in util::legit() {
        let n = nz.normalize(&m);
        assert!(n.obfuscation.score < 0.25, "{m:?}: {:?}", n.obfuscation);
    }
}

#[test]
fn obfuscated_spam_scores_higher_than_legit() {
    let mut nz = Normalizer::new();
    let legit_max = util::legit()
        .iter()
        .map(|m| nz.normalize(m).obfuscation.score)
        .fold(0.0, f64::max);
    for m in [
        "FR€E entry",
        "P4yP@l",
        "fr\u{200b}ee m\u{200b}oney",
        "\u{03a1}ay\u{03a1}al",
        "ｆｒｅｅ ｍｏｎｅｙ",
        "C L A I M  N O W",
    ] {
        let s = nz.normalize(m).obfuscation.score;
        assert!(s > legit_max, "{m:?} scores {s}, legit up to {legit_max}");
    }
}
