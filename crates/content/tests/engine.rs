//! The assembled engine: obfuscated spam scores like the original, custom lists, threads.

use spamward_content::{
    Analysis, Brands, ContentEngine, DomainList, LookalikeKind, RuleSet, Scratch, Trainer,
};

use crate::disguise::{Obfuscator, homoglyphs, zero_width};
use crate::util;

/// Fullwidth forms of every printable ASCII character, ideographic spaces.
fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

/// One leet digit per word: the first o, e or a that has a letter on both sides.
fn leet(s: &str) -> String {
    let mut out = String::new();
    for (i, word) in s.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let chars: Vec<char> = word.chars().collect();
        let plain = chars
            .iter()
            .all(|c| c.is_ascii_alphabetic() || ".,!?:".contains(*c));
        let mut done = !plain;
        for (j, &c) in chars.iter().enumerate() {
            let inner = j > 0
                && j + 1 < chars.len()
                && chars[j - 1].is_ascii_alphabetic()
                && chars[j + 1].is_ascii_alphabetic();
            let sub = match c.to_ascii_lowercase() {
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

/// Obfuscated variants of the spam corpus fire the same rules, and score within a small margin.
#[test]
fn obfuscated_spam_scores_like_the_original() {
    let engine = util::engine();
    let spam = util::spam();
    let kinds: [(&str, Obfuscator); 4] = [
        ("zero-width", zero_width),
        ("homoglyphs", homoglyphs),
        ("fullwidth", fullwidth),
        ("leet", leet),
    ];
    for (name, obfuscate) in kinds {
        let mut same = 0;
        let mut drop = 0.0;
        let mut report = Vec::new();
        for m in &spam {
            let original = engine.analyze(m);
            let variant_text = obfuscate(m);
            let variant = engine.analyze(&variant_text);
            let ids = |a: &spamward_content::Analysis| {
                a.rule_hits
                    .iter()
                    .map(|h| h.id.to_string())
                    .collect::<Vec<_>>()
            };
            if ids(&original) == ids(&variant) {
                same += 1;
            } else {
                report.push(format!(
                    "{variant_text:?}\n    normal {:?}\n    vs     {:?}",
                    variant.normalized.text, original.normalized.text
                ));
            }
            drop += (original.rule_score() - variant.rule_score()).max(0.0);
            assert!(
                variant.normalized.obfuscation.score >= original.normalized.obfuscation.score,
                "{name}: {variant_text:?} looks less obfuscated than the original"
            );
        }
        let mean_drop = drop / spam.len() as f64;
        eprintln!(
            "{name}: {same} of {} fire the same rules, mean score drop {mean_drop:.4}",
            spam.len()
        );
        assert!(
            same == spam.len(),
            "{name}: {same} of {} fire the same rules, mean score drop {mean_drop:.3}:\n{}",
            spam.len(),
            report.join("\n")
        );
    }
}

#[test]
fn analyze_with_scratch_matches_analyze() {
    let engine = util::engine();
    let mut scratch = Scratch::new();
    for m in util::spam().iter().chain(util::legit().iter()) {
        assert_eq!(engine.analyze_with(m, &mut scratch), engine.analyze(m));
    }
}

/// Copies of a few templates with other codes, amounts and links (which the memo of masked texts
/// serves from its first copy), runs of one text byte for byte (which the memo of texts serves
/// from its third copy), other texts, and one too long to remember.
fn template_copies() -> Vec<String> {
    let templates = [
        "Your Vale Bank code is {n}. Do not share it with anyone.",
        "Flight BA{n} to JFK moved to gate B{n}. Details: https://air.example/t/{n}",
        "Congratulations! You have won £{n}. Claim now at bit.ly/{n}x or call 0906170{n}",
        "Pay the unpaid fee of €{n}.50 at http://royalmail-redelivery.com/{n} today",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut texts = Vec::new();
    for i in 0..400 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let t = templates[i % templates.len()];
        let text = t.replace("{n}", &(state % 100_000).to_string());
        for _ in 0..1 + (i % 5 == 0) as usize * (i % 4) {
            texts.push(text.clone());
        }
        if i % 7 == 0 {
            texts.push(format!("Hi {i}, a different text number {}", i * 31));
        }
    }
    texts.push("A very long message, over and over. ".repeat(40));
    texts.push("A very long message, over and over. ".repeat(40));
    texts
}

/// The memos in a long-lived scratch never change an analysis: the same as with fresh working
/// memory, for engines with different models, without a model, and with other rules, alternating
/// on one scratch (so a memo must not serve one engine's results to another).
#[test]
fn a_long_lived_scratch_analyses_like_a_fresh_one() {
    let shipped = util::engine();
    let examples = util::training_examples();
    let options = util::small_training_options();
    let (small, _) = Trainer::new(options)
        .train(shipped, &examples)
        .expect("trains");
    let other = ContentEngine::builder().model(small).build();
    let none = ContentEngine::builder().without_model().build();
    // A clone of the shipped engine whose rules were changed afterwards.
    let mut reruled = shipped.clone();
    let rules = RuleSet::builder()
        .pack("mine.toml", "[[rule]]\nid = 'mine.code'\ndescription = 'd'\ncategory = 'phishing'\nkeywords = ['code', 'claim']\nweight = 0.9\n")
        .expect("parses")
        .build()
        .expect("builds");
    reruled.set_rules(rules);
    let engines = [shipped, &other, &none, &reruled];
    let texts = template_copies();
    let mut scratch = Scratch::new();
    for (i, text) in texts.iter().enumerate() {
        // Runs of one engine, then a switch: both hits and switches happen.
        let engine = engines[(i / 5 + i / 11) % engines.len()];
        // Lent and owned analyses alternate on the one scratch, so each finds the other's
        // leftovers in it (lists kept by a lent one, emptied by an owned one).
        let remembered = if i % 3 == 0 {
            engine.analyze_with(text, &mut scratch)
        } else {
            engine.analyze_with_then(text, &mut scratch, Analysis::clone)
        };
        let fresh = engine.analyze_with(text, &mut Scratch::new());
        assert_eq!(remembered, fresh, "text {i}: {text}");
        assert_eq!(engine.analyze(text), fresh, "text {i}: {text}");
        assert_eq!(
            engine.analyze_then(text, Analysis::clone),
            fresh,
            "text {i}: {text}"
        );
    }
    // The two models disagree on these texts, and the two rule sets, so serving one's results
    // for the other would show.
    let differ = texts
        .iter()
        .filter(|t| shipped.analyze(t).spam_probability != other.analyze(t).spam_probability)
        .count();
    assert!(differ > texts.len() / 2, "{differ} of {}", texts.len());
    let differ = texts
        .iter()
        .filter(|t| shipped.analyze(t).rule_hits != reruled.analyze(t).rule_hits)
        .count();
    assert!(differ > texts.len() / 4, "{differ} of {}", texts.len());
}

#[test]
fn clones_on_threads_agree() {
    let engine = util::engine();
    let messages: Vec<String> = util::spam().into_iter().chain(util::legit()).collect();
    let expected: Vec<_> = messages.iter().map(|m| engine.analyze(m)).collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let engine = engine.clone();
            let (messages, expected) = (&messages, &expected);
            s.spawn(move || {
                for (m, e) in messages.iter().zip(expected) {
                    assert_eq!(&engine.analyze(m), e);
                }
            });
        }
    });
}

#[test]
fn custom_lists_replace_the_shipped_ones() {
    let brands = Brands::parse("mybrands.txt", "acmebank acmebank.example.com\n").unwrap();
    let blocklist = DomainList::parse("feed.txt", "evil.com\n").unwrap();
    let shorteners = DomainList::parse("short.txt", "sho.rt\n").unwrap();
    let rules = RuleSet::builder()
        .pack("mine.toml", "[[rule]]\nid = 'mine.acme'\ndescription = 'd'\ncategory = 'phishing'\nkeywords = ['acme bank']\nweight = 0.9\n")
        .unwrap()
        .build()
        .unwrap();
    let engine = ContentEngine::builder()
        .brands(brands)
        .blocklist(blocklist)
        .shorteners(shorteners)
        .rules(rules)
        .build();
    let a = engine.analyze("Acme Bank: verify at acmebank-login.com or evil.com/x, bit.ly/y");
    let ids: Vec<&str> = a.rule_hits.iter().map(|h| &*h.id).collect();
    assert_eq!(ids, ["mine.acme"]);
    assert_eq!(a.links.len(), 3);
    let look = a.links[0].lookalike.as_ref().expect("lookalike");
    assert_eq!(
        (&*look.brand, look.how),
        ("acmebank", LookalikeKind::BrandInDomain)
    );
    assert!(a.links[1].blocklisted);
    assert!(!a.links[2].shortener, "bit.ly is not on the custom list");
}
