//! Normalisation and analysis never panic on odd Unicode, and stay fast.

use std::time::{Duration, Instant};

use spamward_content::Normalizer;

use crate::util;

/// xorshift64*: a small seeded generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Ranges of code points to draw from: the ones normalisation has to think about.
const RANGES: &[(u32, u32)] = &[
    (0x20, 0x7E),       // ASCII
    (0x30, 0x39),       // digits
    (0x00, 0x1F),       // C0 controls
    (0x7F, 0x9F),       // DEL and C1 controls
    (0xA0, 0x24F),      // Latin-1, Latin Extended
    (0x300, 0x36F),     // combining marks
    (0x370, 0x52F),     // Greek, Cyrillic
    (0x590, 0x6FF),     // Hebrew, Arabic
    (0x900, 0x97F),     // Devanagari
    (0x1100, 0x11FF),   // Hangul Jamo
    (0x1E00, 0x1EFF),   // Latin Extended Additional
    (0x2000, 0x206F),   // punctuation, zero-width, bidi
    (0x2100, 0x24FF),   // letterlike, numbers, circled
    (0x3000, 0x30FF),   // CJK punctuation, kana
    (0xAC00, 0xD7A3),   // Hangul syllables
    (0xFE00, 0xFE0F),   // variation selectors
    (0xFF00, 0xFFEF),   // fullwidth and halfwidth
    (0xFFF0, 0xFFFF),   // specials, non-characters
    (0x1D400, 0x1D7FF), // mathematical alphanumerics
    (0x1F300, 0x1FAFF), // emoji
    (0xE0000, 0xE007F), // tags
    (0x0, 0x10FFFF),    // anything
];

fn random_text(rng: &mut Rng) -> String {
    let len = rng.below(160) as usize;
    let mut s = String::with_capacity(len * 2);
    while s.chars().count() < len {
        let (lo, hi) = RANGES[rng.below(RANGES.len() as u64) as usize];
        let cp = lo + rng.below(u64::from(hi - lo) + 1) as u32;
        // Surrogates are not characters: `from_u32` refuses them.
        if let Some(c) = char::from_u32(cp) {
            s.push(c);
        }
        // Now and then a burst of one character, a URL-ish or number-ish fragment.
        match rng.below(40) {
            0 => s.push_str("aaaaaa"),
            1 => s.push_str(" http://x.y/"),
            2 => s.push_str("+44 7"),
            3 => s.push_str(".com/"),
            _ => {}
        }
    }
    s
}

#[test]
fn normalisation_never_panics_and_is_fast() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut nz = Normalizer::new();
    let started = Instant::now();
    let n = 4000;
    for _ in 0..n {
        let text = random_text(&mut rng);
        let out = nz.normalize(&text);
        let o = &out.obfuscation;
        assert!(
            (0.0..=1.0).contains(&o.score),
            "{text:?}: score {}",
            o.score
        );
        assert!(
            !out.text.starts_with(' ') && !out.text.ends_with(' ') && !out.text.contains("  "),
            "{text:?}"
        );
        assert!(
            !out.text.contains('\u{200b}') && !out.text.contains('\u{202e}'),
            "{text:?}"
        );
    }
    // Generous, for unoptimised builds on a small machine: about 100 µs a text at worst.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{n} texts took {:?}",
        started.elapsed()
    );
}

#[test]
fn analysis_never_panics() {
    let mut rng = Rng(0xC0FF_EE00_0000_0042);
    let engine = util::engine();
    for _ in 0..1500 {
        let text = random_text(&mut rng);
        let a = engine.analyze(&text);
        for l in &a.links {
            assert!(
                text.get(l.span.clone()).is_some(),
                "{text:?}: link span {:?}",
                l.span
            );
        }
        for p in &a.phones {
            assert!(
                text.get(p.span.clone()).is_some(),
                "{text:?}: phone span {:?}",
                p.span
            );
        }
    }
}

/// A huge message full of links, numbers and obfuscation stays linear and bounded.
#[test]
fn huge_messages_stay_bounded() {
    let unit =
        "Cl\u{200b}aim ｆｒｅｅ P4yP@l bit.ly/x paypa1.com/a +44 7700 900123 text WIN to 87121 ";
    let text = unit.repeat(2_000); // about 180 KB
    let started = Instant::now();
    let a = util::engine().analyze(&text);
    assert_eq!(a.links.len(), spamward_content::links::MAX_PER_MESSAGE);
    assert_eq!(a.phones.len(), spamward_content::links::MAX_PER_MESSAGE);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}
