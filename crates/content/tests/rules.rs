//! Rules against the corpora (`testdata/legit.toml`, `testdata/spam.toml`) and bad packs
//! (`testdata/bad_packs.toml`).

use serde::Deserialize;
use spamward_content::{RuleError, RuleErrorKind, RuleSet};

use crate::util;

/// No rule of weight 0.5 or more may fire on legitimate business traffic.
#[test]
fn strong_rules_stay_silent_on_legit_traffic() {
    let engine = util::engine();
    let legit = util::legit();
    assert!(
        legit.len() >= 40,
        "the legit corpus has {} messages",
        legit.len()
    );
    let mut failures = Vec::new();
    for m in &legit {
        let a = engine.analyze(m);
        let strong: Vec<String> = a
            .rule_hits
            .iter()
            .filter(|h| h.weight >= 0.5)
            .map(|h| h.id.to_string())
            .collect();
        if !strong.is_empty() {
            failures.push(format!(
                "{m:?}\n    normal form {:?}\n    fired {strong:?}",
                a.normalized.text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "strong rules fired on legit traffic:\n{}",
        failures.join("\n")
    );
}

/// At least 90% of the spam corpus fires a rule of weight 0.5 or more, and every message fires some
/// rule.
#[test]
fn rules_catch_spam() {
    let engine = util::engine();
    let spam = util::spam();
    assert!(
        spam.len() >= 40,
        "the spam corpus has {} messages",
        spam.len()
    );
    let mut weak = Vec::new();
    let mut silent = Vec::new();
    for m in &spam {
        let a = engine.analyze(m);
        if a.rule_hits.is_empty() {
            silent.push(format!("{m:?} (normal form {:?})", a.normalized.text));
        } else if !a.rule_hits.iter().any(|h| h.weight >= 0.5) {
            let ids: Vec<&str> = a.rule_hits.iter().map(|h| &*h.id).collect();
            weak.push(format!(
                "{m:?} (normal form {:?}) fired only {ids:?}",
                a.normalized.text
            ));
        }
    }
    let caught = spam.len() - weak.len() - silent.len();
    let share = caught as f64 / spam.len() as f64;
    assert!(
        silent.is_empty(),
        "no rule fired on:\n{}",
        silent.join("\n")
    );
    assert!(
        share >= 0.9,
        "strong rules caught {caught} of {}:\n{}",
        spam.len(),
        weak.join("\n")
    );
}

/// The noisy-or score of the rules separates the corpora: every spam message outscores the most
/// spam-like legit message, but for a small margin of overlap.
#[test]
fn rule_scores_separate_the_corpora() {
    let engine = util::engine();
    let legit_max = util::legit()
        .iter()
        .map(|m| engine.analyze(m).rule_score())
        .fold(0.0, f64::max);
    let spam: Vec<f64> = util::spam()
        .iter()
        .map(|m| engine.analyze(m).rule_score())
        .collect();
    let above = spam.iter().filter(|&&s| s > legit_max).count();
    assert!(
        above as f64 >= 0.9 * spam.len() as f64,
        "only {above} of {} spam messages score above the top legit score {legit_max}",
        spam.len()
    );
}

/// Every shipped rule is reachable: its regex or keywords can match something (checked by the
/// corpora or by its own description being well-formed).
#[test]
fn shipped_rules_are_well_formed() {
    let rules = RuleSet::default();
    for r in rules.rules() {
        assert!(!r.description.is_empty(), "{}", r.id);
        assert!(r.id.contains('.'), "{}: ids are `family.name`", r.id);
        assert!((0.0..=1.0).contains(&r.weight));
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BadPack {
    name: String,
    pack: String,
    /// The rule the error must name (absent: a pack-level error).
    #[serde(default)]
    rule: Option<String>,
    /// The error class.
    kind: String,
    /// Text the message must contain.
    contains: String,
    /// Another pack loaded first (for duplicate ids across packs).
    #[serde(default)]
    before: Option<String>,
    /// A limit on the number of rules.
    #[serde(default)]
    max_rules: Option<usize>,
    /// A limit on one regex's compiled size.
    #[serde(default)]
    regex_size_limit: Option<usize>,
}

#[derive(Deserialize)]
struct BadPacks {
    case: Vec<BadPack>,
}

fn kind_name(k: &RuleErrorKind) -> &'static str {
    match k {
        RuleErrorKind::Toml(_) => "toml",
        RuleErrorKind::UnknownTopLevelKey(_) => "unknown_top_level_key",
        RuleErrorKind::Schema(_) => "schema",
        RuleErrorKind::BadId => "bad_id",
        RuleErrorKind::DuplicateId { .. } => "duplicate_id",
        RuleErrorKind::NoMatcher => "no_matcher",
        RuleErrorKind::BothMatchers => "both_matchers",
        RuleErrorKind::WeightOutOfRange(_) => "weight_out_of_range",
        RuleErrorKind::KeywordCount(_) => "keyword_count",
        RuleErrorKind::EmptyKeyword(_) => "empty_keyword",
        RuleErrorKind::BadRegex(_) => "bad_regex",
        RuleErrorKind::RegexTooBig { .. } => "regex_too_big",
        RuleErrorKind::TooManyRules { .. } => "too_many_rules",
        RuleErrorKind::SetTooBig(_) => "set_too_big",
        _ => "other",
    }
}

#[test]
fn bad_packs_are_refused_with_pack_rule_and_cause() {
    let cases: BadPacks = util::table("bad_packs.toml", include_str!("../testdata/bad_packs.toml"));
    let mut failures = Vec::new();
    for c in &cases.case {
        let mut b = RuleSet::builder();
        if let Some(n) = c.max_rules {
            b.max_rules(n);
        }
        if let Some(n) = c.regex_size_limit {
            b.regex_size_limit(n);
        }
        if let Some(first) = &c.before {
            b.pack("first.toml", first)
                .expect("the `before` pack loads");
        }
        let before = b.build().expect("builds").len();
        let err: RuleError = match b.pack("bad.toml", &c.pack) {
            Ok(_) => {
                failures.push(format!("{}: accepted", c.name));
                continue;
            }
            Err(e) => e,
        };
        let msg = err.to_string();
        let mut problems = Vec::new();
        if err.pack() != "bad.toml" || !msg.starts_with("bad.toml: ") {
            problems.push("does not name the pack".to_string());
        }
        if err.rule() != c.rule.as_deref() {
            problems.push(format!("names rule {:?}, want {:?}", err.rule(), c.rule));
        }
        if let Some(rule) = &c.rule
            && !msg.contains(&format!("rule `{rule}`"))
        {
            problems.push("message does not name the rule".to_string());
        }
        if kind_name(err.kind()) != c.kind {
            problems.push(format!("kind {}, want {}", kind_name(err.kind()), c.kind));
        }
        if !msg.contains(&c.contains) {
            problems.push(format!("message lacks {:?}", c.contains));
        }
        // The builder is left as it was: a bad pack adds nothing.
        if b.build().expect("still builds").len() != before {
            problems.push("the bad pack left rules behind".to_string());
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}\n    {msg}", c.name, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `set_rules` puts a new rule set in force and hands back the old one. A pack with a mistake
/// never gets this far (`RuleSet::builder().pack` refuses it, tested above with every kind of
/// mistake), so that a failed reload keeps the rules in force is the caller's to hold: the
/// service's reload is tested end to end in `tests/serve.rs`
/// (`rule_packs_reload_with_the_policy`: a bad pack is refused by name and the old rule still
/// fires).
#[test]
fn set_rules_replaces_the_rules_and_returns_the_old_ones() {
    let mut engine = util::engine().clone();
    assert!(
        !engine
            .analyze("You have won a guaranteed prize")
            .rule_hits
            .is_empty()
    );
    let rules = RuleSet::builder()
        .pack("one.toml", "[[rule]]\nid = 'only.one'\ndescription = 'd'\ncategory = 'other'\nkeywords = ['prize']\nweight = 0.1\n")
        .unwrap()
        .build()
        .unwrap();
    let old = engine.set_rules(rules);
    assert_eq!(old.len(), util::engine().rules().len());
    let ids: Vec<String> = engine
        .analyze("You have won a guaranteed prize")
        .rule_hits
        .iter()
        .map(|h| h.id.to_string())
        .collect();
    assert_eq!(ids, ["only.one"]);
}
