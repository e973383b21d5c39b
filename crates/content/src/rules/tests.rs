//! Tests of rule sets: loading, gates and split regexes, keywords, and agreement of the set with
//! each regex alone on the shipped packs.

use regex::Regex;

use super::builder::compile_one;
use super::gaps::{ascii_word_boundaries, split_at_gaps, widen_gaps};
use super::set::Gate;
use super::*;
use crate::normalize::Normalizer;

fn set(pack: &str) -> RuleSet {
    RuleSet::builder()
        .pack("t.toml", pack)
        .unwrap()
        .build()
        .unwrap()
}

/// A set of one delivery-scam rule, `d.fee`, with this regex.
fn fee_rule(regex: &str) -> RuleSet {
    set(&format!(
        "[[rule]]\nid = 'd.fee'\ndescription = 'd'\ncategory = 'delivery_scam'\n\
             regex = '''{regex}'''\nweight = 0.5\n"
    ))
}

#[test]
fn gaps_are_widened_outside_classes_and_escapes_only() {
    assert_eq!(widen_gaps(r"a.{0,60}b"), "a.*b");
    assert_eq!(widen_gaps(r"a.{3,}b.{5}?c"), "a.*b.*?c");
    assert_eq!(widen_gaps(r"a\.{2,3}b"), r"a\.{2,3}b");
    assert_eq!(widen_gaps(r"a[.]{0,9}b"), r"a[.]{0,9}b");
    assert_eq!(widen_gaps(r"a[].]{0,9}b.{1,2}"), r"a[].]{0,9}b.*");
    assert_eq!(widen_gaps(r"a.{x}b.+c"), r"a.{x}b.+c");
    assert_eq!(widen_gaps(r"£.{0,4}€"), "£.*€");
}

#[test]
fn a_gated_rule_fires_exactly_when_its_regex_matches() {
    let rs = fee_rule(r"\b(parcel|package)\b.{0,20}\bfee\b");
    let fires = |t: &str| rs.scan_text(t).len() == 1;
    assert!(fires("your parcel has a fee"));
    // The gate (`.*`) matches these; the rule must not.
    assert!(!fires("your parcel is on its way. there is no extra fee"));
    assert!(!fires("parcelfee"));
}

#[test]
fn regexes_split_at_top_level_gaps_only() {
    let split = split_at_gaps;
    let v = |b: &[&[&str]]| -> Option<Vec<Vec<String>>> {
        Some(
            b.iter()
                .map(|p| p.iter().map(|s| s.to_string()).collect())
                .collect(),
        )
    };
    assert_eq!(split(r"\ba\b.{0,60}\bfee\b"), v(&[&[r"\ba\b", r"\bfee\b"]]));
    assert_eq!(split(r"a.{3,}?b.{5}c"), v(&[&["a", "b", "c"]]));
    assert_eq!(
        split(r"a.{0,9}b|c.{0,4}d|e"),
        v(&[&["a", "b"], &["c", "d"], &["e"]])
    );
    // Gaps inside a group or a class, escaped dots, and other counted repetitions stay.
    assert_eq!(split(r"(a.{0,9}b)c"), None);
    assert_eq!(split(r"a\.{2,3}b"), None);
    assert_eq!(split(r"a[.]{0,9}b"), None);
    assert_eq!(split(r"a[].]{0,9}b.{1,2}c"), v(&[&["a[].]{0,9}b", "c"]]));
    assert_eq!(split(r"a[^]|]b.{0,2}c"), v(&[&["a[^]|]b", "c"]]));
    assert_eq!(split(r"a(b|c).{0,2}d"), v(&[&["a(b|c)", "d"]]));
    assert_eq!(split(r"\£.{0,4}€"), v(&[&[r"\£", "€"]]));
    // A branch left without a piece, flags for the rest of the pattern, no gap: not split.
    assert_eq!(split(r".{0,5}|a.{0,5}b"), None);
    assert_eq!(split(r"(?i)a.{0,5}b"), None);
    assert_eq!(split(r"(?i:a).{0,5}b"), v(&[&["(?i:a)", "b"]]));
    assert_eq!(split(r"a.*b"), None);
    assert_eq!(
        split(&ascii_word_boundaries(r"\bparcel\b.{0,60}\bfee")),
        v(&[&[r"(?-u:\b)parcel(?-u:\b)", r"(?-u:\b)fee"]])
    );
}

#[test]
fn a_split_rule_needs_every_piece_of_one_branch_and_the_exact_regex() {
    let rs = fee_rule(r"\b(parcel|package)\b.{0,20}\bfee\b|\bcustoms\b.{0,10}\bcharge\b");
    assert!(matches!(&rs.gates[0], Gate::Pieces(b) if b.len() == 2));
    let fires = |t: &str| rs.scan_text(t).len() == 1;
    assert!(fires("your parcel has a fee"));
    assert!(fires("customs charge due"));
    // Pieces of two branches, pieces in the wrong order, a gap too long: no.
    assert!(!fires("your parcel has a charge"));
    assert!(!fires("fee for the parcel"));
    assert!(!fires("your parcel is on its way. there is no extra fee"));
    assert!(!fires("customs are done; no charge"));
}

/// The shipped regexes, each compiled alone as the set sees it: what the set must agree with.
fn shipped_regexes_alone(rs: &RuleSet) -> Vec<(usize, Regex)> {
    rs.rules()
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match &r.matcher {
            Matcher::Regex(re) => Some((i, compile_one(re, DEFAULT_REGEX_SIZE_LIMIT).unwrap())),
            Matcher::Keywords(_) => None,
        })
        .collect()
}

/// Asserts that the set's regex rules fire on `t` exactly when the regexes alone match;
/// returns how many rules of any kind fired.
fn assert_agrees(rs: &RuleSet, alone: &[(usize, Regex)], t: &str) -> usize {
    let expected: Vec<usize> = alone
        .iter()
        .filter(|(_, re)| re.is_match(t))
        .map(|(i, _)| *i)
        .collect();
    let hits = rs.scan_text(t);
    let got: Vec<usize> = hits
        .iter()
        .map(|h| h.index)
        .filter(|i| matches!(rs.rules()[*i].matcher, Matcher::Regex(_)))
        .collect();
    assert_eq!(got, expected, "{t}");
    hits.len()
}

/// Every text of the SMS collection, normalised: the set and the regexes alone agree.
#[test]
fn the_shipped_set_agrees_with_each_regex_alone_on_the_sms_collection() {
    let (rs, alone, _) = shipped_words();
    assert!(rs.gates.iter().any(|g| matches!(g, Gate::Pieces(_))));
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/sms/SMSSpamCollection"
    );
    let corpus = std::fs::read_to_string(path).expect("the SMS collection is in data/");
    let mut normalizer = Normalizer::new();
    let mut fired = 0;
    for line in corpus.lines() {
        let text = line.split_once('\t').map_or(line, |(_, t)| t);
        let normal = normalizer.normalize(text);
        fired += usize::from(assert_agrees(rs, alone, &normal.text) > 0);
    }
    assert!(fired > 300, "only {fired} texts fired a rule");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Texts made of the rules' own words, in any order and with fillers of any length
    /// between them, so pieces match in and out of order, near and far.
    #[test]
    fn the_shipped_set_agrees_with_each_regex_alone_on_rule_words(
        picks in proptest::collection::vec((0usize..10_000, 0usize..12), 1..40)
    ) {
        let (rs, alone, words) = shipped_words();
        let mut text = String::new();
        for (w, filler) in picks {
            text.push_str(&words[w % words.len()]);
            text.push_str(&" x".repeat(filler));
            text.push(' ');
        }
        assert_agrees(rs, alone, &text);
    }
}

/// The shipped set, its regexes alone (rule index, regex), and the words of its patterns.
type Shipped = (RuleSet, Vec<(usize, Regex)>, Vec<String>);

/// The shipped set, its regexes alone, and the words of its patterns (plus a few amounts).
fn shipped_words() -> &'static Shipped {
    static SHIPPED: std::sync::OnceLock<Shipped> = std::sync::OnceLock::new();
    SHIPPED.get_or_init(|| {
        let rs = RuleSet::default();
        let alone = shipped_regexes_alone(&rs);
        let mut words: Vec<String> = rs
            .rules()
            .iter()
            .filter_map(|r| match &r.matcher {
                Matcher::Regex(re) => Some(re.as_str()),
                Matcher::Keywords(_) => None,
            })
            .flat_map(|re| re.split(|c: char| !c.is_ascii_alphabetic()))
            .filter(|w| w.len() > 1)
            .map(str::to_owned)
            .collect();
        words.sort();
        words.dedup();
        words.extend(["£500", "$20", "10%", "0906170", "12345", ".", "!"].map(String::from));
        (rs, alone, words)
    })
}

#[test]
fn the_shipped_set_agrees_with_each_regex_alone() {
    let (rs, alone, _) = shipped_words();
    assert!(
        alone
            .iter()
            .any(|(_, re)| widen_gaps(re.as_str()) != re.as_str())
    );
    let filler = "x ".repeat(60);
    let texts = [
        "your parcel is held, pay the redelivery fee at royalmail-fee.com".to_owned(),
        format!("your parcel {filler} unpaid fee"),
        format!("redelivery {filler} fee"),
        "double your bitcoin today, send 1 btc and receive 2 back".to_owned(),
        format!("send 1 btc {filler} receive"),
        "hot singles in your area want to chat tonight".to_owned(),
        format!("hot singles {filler} chat"),
        "your wallet is locked, verify now".to_owned(),
        "flight ba117 is delayed to 14:35".to_owned(),
    ];
    for t in &texts {
        assert_agrees(rs, alone, t);
    }
}

#[test]
fn keywords_need_word_boundaries() {
    let rs = set(r#"
            [[rule]]
            id = "a.win"
            description = "d"
            category = "lottery"
            keywords = ["won", "you have won"]
            weight = 0.5
            "#);
    let hits = |t: &str| rs.scan_text(t).len();
    assert_eq!(hits("you have won"), 1);
    assert_eq!(hits("wonderful"), 0);
    assert_eq!(hits("we won!"), 1);
}

#[test]
fn hits_come_in_rule_order_once() {
    let rs = set(r#"
            [[rule]]
            id = "b.first"
            description = "d"
            category = "urgency"
            regex = 'act now'
            weight = 0.2
            [[rule]]
            id = "a.second"
            description = "d"
            category = "urgency"
            keywords = ["now", "act"]
            weight = 0.1
            "#);
    let ids: Vec<String> = rs
        .scan_text("act now, act now")
        .iter()
        .map(|h| h.id.to_string())
        .collect();
    assert_eq!(ids, ["b.first", "a.second"]);
}

#[test]
fn a_set_past_its_size_limit_is_refused_with_the_limit() {
    let pack = "[[rule]]\nid = 'd.fee'\ndescription = 'd'\ncategory = 'delivery_scam'\n\
                    regex = '''\\b(parcel|package)\\b.{0,60}\\bfee\\b'''\nweight = 0.5\n";
    let mut builder = RuleSet::builder();
    builder.set_size_limit(64).pack("t.toml", pack).unwrap();
    let err = builder.build().unwrap_err();
    assert!(
        matches!(err.kind(), RuleErrorKind::SetTooBig(m) if m.contains("limit of 64 bytes")),
        "{err}"
    );
    assert!(builder.set_size_limit(1 << 20).build().is_ok());
}

#[test]
fn sets_scanned_in_turn_on_one_thread_keep_their_own_matches() {
    // Each thread keeps one cache for the set it scanned last; another set (or a clone of a
    // rebuilt one) must not read with it. The shipped set has many more patterns than these.
    let shipped = RuleSet::default();
    let fee = fee_rule(r"\bfee\b");
    let clone = fee.clone();
    let text =
        "urgent: your parcel is on hold, pay the fee now. you have won a prize, claim it today";
    let shipped_ids = |rs: &RuleSet| -> Vec<String> {
        rs.scan_text(text)
            .iter()
            .map(|h| h.id.to_string())
            .collect()
    };
    let expected = shipped_ids(&shipped);
    assert!(expected.len() > 1, "{expected:?}");
    for _ in 0..3 {
        assert_eq!(shipped_ids(&fee), ["d.fee"]);
        assert_eq!(shipped_ids(&shipped), expected);
        assert_eq!(shipped_ids(&clone), ["d.fee"]);
        assert!(fee.scan_text("no charge").is_empty());
    }
}

#[test]
fn word_boundaries_become_ascii() {
    assert_eq!(ascii_word_boundaries(r"\bwin\b"), r"(?-u:\b)win(?-u:\b)");
    assert_eq!(ascii_word_boundaries(r"[\b]\\b"), r"[\b]\\b");
    assert_eq!(ascii_word_boundaries(r"[]\b]x\B"), r"[]\b]x(?-u:\B)");
}

#[test]
fn the_shipped_packs_load() {
    let rs = RuleSet::default();
    assert!((60..=150).contains(&rs.len()), "{} rules", rs.len());
}
