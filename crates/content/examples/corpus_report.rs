//! Prints what the content heuristics find in each line of a text file (one message per line),
//! or in the built-in examples: `cargo run --example corpus_report -- FILE`.

use spamward_content::ContentEngine;

fn main() {
    let engine = ContentEngine::default();
    let text = match std::env::args().nth(1) {
        Some(path) => std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
        None => "You have won a guaranteed £1000 prize! Claim at paypa1-secure.com/win\nYour code is 482913.".to_string(),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let a = engine.analyze(line);
        println!("{line}");
        println!(
            "  normal:  {}  (obfuscation {:.2})",
            a.normalized.text, a.normalized.obfuscation.score
        );
        for h in &a.rule_hits {
            println!("  rule:    {} ({}, {})", h.id, h.category, h.weight);
        }
        for l in &a.links {
            let flags = [
                (l.shortener, "shortener"),
                (l.raw_ip, "raw-ip"),
                (l.punycode_or_idn, "idn"),
                (l.blocklisted, "blocklisted"),
            ];
            let flags: Vec<&str> = flags.iter().filter(|f| f.0).map(|f| f.1).collect();
            let look = l
                .lookalike
                .as_ref()
                .map(|x| format!(" lookalike {} by {}", x.brand, x.how))
                .unwrap_or_default();
            println!(
                "  link:    {} host {} domain {:?} {flags:?}{look}",
                l.text, l.host, l.registrable_domain
            );
        }
        for p in &a.phones {
            println!(
                "  phone:   {} {:?} {}{}",
                p.text,
                p.kind,
                p.number,
                if p.premium_rate { " premium" } else { "" }
            );
        }
        println!("  score:   {:.3}", a.rule_score());
    }
}
