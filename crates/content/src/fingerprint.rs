//! Similarity fingerprints: a 64-bit SimHash that near-identical messages share.
//!
//! One spam run sends one text to thousands of recipients, changing the name, the code or the link
//! in each copy; one business's templates differ only by such slots. A [`Fingerprint`] is built so
//! those copies land within a few bits of each other and unrelated texts do not:
//!
//! - it is computed over the masked tokens of [`crate::tokens`]: links, e-mail addresses, phone
//!   numbers and digit runs are already placeholders, so changing them changes nothing;
//! - words outside a list of common words (`common_words.txt`: words seen at least twice in the
//!   SMS collection and the business training texts, minus those written capitalised mid-sentence
//!   most of the time, i.e. names) become one placeholder, so a changed name or a rare word
//!   changes nothing either;
//! - the shingles are word 3-grams with a start and an end marker (a text of `n` words has `n`
//!   shingles), and the SimHash is the sign of the sum of their 64-bit hashes, bit by bit.
//!
//! SimHash's distance estimates the angle between shingle sets, so one changed shingle in ten moves
//! it by several bits: masking the slots, not the hash, is what makes copies collide. Very short
//! texts have few shingles and collide by chance: [`Fingerprint::tokens`] says how many there were,
//! and callers should ignore fingerprints under [`Fingerprint::MIN_TOKENS`].
//!
//! For lookup, [`Fingerprint::bands`] cuts the hash into four 16-bit bands: two fingerprints within
//! Hamming distance 3 agree on at least one band (pigeonhole), so an index of four exact-match maps
//! finds every near duplicate.

use std::sync::OnceLock;

use crate::Scratch;
use crate::tokens::{Tokens, hash_bytes, mix};

/// The common words, one per line, in normal form.
const COMMON_WORDS: &str = include_str!("common_words.txt");

/// A message's similarity fingerprint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The 64-bit SimHash over the message's shingles.
    pub simhash: u64,
    /// How many shingles went into it (the number of words): under
    /// [`Fingerprint::MIN_TOKENS`] the fingerprint is weak.
    pub tokens: u32,
}

impl Fingerprint {
    /// Fingerprints of fewer shingles than this collide by chance too often to act on.
    pub const MIN_TOKENS: u32 = 6;

    /// The fingerprint of a text already in normal form ([`crate::Normalized::text`]).
    pub fn of_normalized(text: &str, scratch: &mut Scratch) -> Fingerprint {
        scratch.tokens.tokenize(text);
        Fingerprint::of_tokens(&scratch.tokens)
    }

    /// The fingerprint of tokenised text.
    pub(crate) fn of_tokens(tokens: &Tokens) -> Fingerprint {
        let common = common_words();
        let words = tokens.words();
        let n = words.len();
        if n == 0 {
            return Fingerprint::default();
        }
        let word = |i: usize| -> u64 {
            let h = words[i];
            if common.contains(h) { h } else { RARE }
        };
        // Shingle i covers padded positions i-1, i, i+1 over [START, w0, .., wn-1, END]. Each bit
        // of the SimHash is set when more than half the shingle hashes have it set.
        let mut ones = [0u32; 64];
        let (mut a, mut b) = (START, word(0));
        for i in 0..n {
            let c = if i + 1 < n { word(i + 1) } else { END };
            let h = mix(a.rotate_left(42) ^ b.rotate_left(21) ^ c ^ 0x5348_494e_474c_4533);
            for (bit, count) in ones.iter_mut().enumerate() {
                *count += (h >> bit & 1) as u32;
            }
            (a, b) = (b, c);
        }
        let mut simhash = 0u64;
        for (bit, &count) in ones.iter().enumerate() {
            simhash |= u64::from(2 * count > n as u32) << bit;
        }
        Fingerprint {
            simhash,
            tokens: n as u32,
        }
    }

    /// The Hamming distance between two fingerprints' hashes: 0 (alike) to 64.
    pub fn distance(&self, other: &Fingerprint) -> u32 {
        (self.simhash ^ other.simhash).count_ones()
    }

    /// The four 16-bit bands of the hash, low to high. Fingerprints within distance 3 share at
    /// least one band at the same position: index each band in its own map to find them.
    pub fn bands(&self) -> [u16; 4] {
        let h = self.simhash;
        [
            h as u16,
            (h >> 16) as u16,
            (h >> 32) as u16,
            (h >> 48) as u16,
        ]
    }

    /// Whether the fingerprint has enough shingles to act on.
    pub fn is_strong(&self) -> bool {
        self.tokens >= Fingerprint::MIN_TOKENS
    }
}

const START: u64 = 0x7374_6172_7400_0001;
const END: u64 = 0x656e_6400_0000_0002;
const RARE: u64 = 0x7261_7265_0000_0003;

/// The hashes of the common words in an open-addressing table: one probe for most lookups, where a
/// binary search would cost a dozen unpredictable branches per word.
struct WordSet {
    slots: Vec<u64>,
    mask: usize,
}

/// Marks an empty slot. A word whose hash is zero (about one in 2^64) is never in the set: it is
/// left out when the set is built and [`WordSet::contains`] says no to it.
const EMPTY: u64 = 0;

impl WordSet {
    fn new(hashes: impl Iterator<Item = u64>) -> WordSet {
        let hashes: Vec<u64> = hashes.filter(|&h| h != EMPTY).collect();
        let size = (hashes.len() * 4).next_power_of_two().max(16);
        let mut set = WordSet {
            slots: vec![EMPTY; size],
            mask: size - 1,
        };
        for h in hashes {
            let mut i = h as usize & set.mask;
            while set.slots[i] != EMPTY && set.slots[i] != h {
                i = (i + 1) & set.mask;
            }
            set.slots[i] = h;
        }
        set
    }

    #[inline]
    fn contains(&self, h: u64) -> bool {
        let mut i = h as usize & self.mask;
        loop {
            let s = self.slots[i];
            if s == h {
                return h != EMPTY;
            }
            if s == EMPTY {
                return false;
            }
            i = (i + 1) & self.mask;
        }
    }
}

fn common_words() -> &'static WordSet {
    static WORDS: OnceLock<WordSet> = OnceLock::new();
    WORDS.get_or_init(|| {
        WordSet::new(
            COMMON_WORDS
                .lines()
                .map(str::trim)
                .filter(|w| !w.is_empty() && !w.starts_with('#'))
                .map(|w| hash_bytes(w.as_bytes())),
        )
    })
}

/// Whether a word (in normal form) is on the common-word list.
pub fn is_common_word(word: &str) -> bool {
    common_words().contains(hash_bytes(word.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(text: &str) -> Fingerprint {
        Fingerprint::of_normalized(text, &mut Scratch::new())
    }

    #[test]
    fn bands_share_within_three() {
        let a = Fingerprint {
            simhash: 0x0123_4567_89ab_cdef,
            tokens: 10,
        };
        for flips in [0b111u64, 1 | 1 << 20 | 1 << 40, 1 << 15 | 1 << 16 | 1 << 63] {
            let b = Fingerprint {
                simhash: a.simhash ^ flips,
                tokens: 10,
            };
            assert_eq!(a.distance(&b), 3);
            assert!(a.bands().iter().zip(b.bands()).any(|(x, y)| *x == y));
        }
    }

    /// Pinned vectors: the SimHash of fixed normal forms, recorded from this implementation.
    /// Campaign clusters and kept analyses are keyed by these values, so a change of the
    /// tokeniser, the shingles or the hash moves every cluster and invalidates every kept
    /// file; such a change updates these values (and the kept analyses' magic) in a commit
    /// that says why.
    #[test]
    fn pinned_vectors() {
        for (text, simhash, tokens) in [
            (
                "your parcel is waiting for you at the depot today",
                0x31a3_2640_2070_5210u64,
                10,
            ),
            (
                "you have won a guaranteed prize call now to claim",
                0x4e10_8a98_5f09_b886,
                10,
            ),
            ("hi # your code is #", 0xc521_1003_c46c_a178, 4),
        ] {
            let f = fp(text);
            assert_eq!(
                (f.simhash, f.tokens),
                (simhash, tokens),
                "{text:?}: {:#018x}",
                f.simhash
            );
        }
    }

    #[test]
    fn empty_and_short() {
        assert_eq!(fp("").tokens, 0);
        assert!(!fp("ok see you").is_strong());
        assert!(fp("your parcel is waiting for you at the depot today").is_strong());
    }

    #[test]
    fn common_words_are_loaded() {
        assert!(is_common_word("the") && is_common_word("you"));
        assert!(!is_common_word("xqzzyv"));
    }
}

#[cfg(test)]
mod slot_tests {
    use crate::{ContentEngine, Fingerprint, Scratch};

    fn fp(engine: &ContentEngine, text: &str) -> Fingerprint {
        engine.analyze_with(text, &mut Scratch::new()).fingerprint
    }

    /// Texts that differ only by a name, a code, an amount or a link fingerprint alike.
    #[test]
    fn slot_changes_collide() {
        let engine = ContentEngine::builder().without_model().build();
        let pairs = [
            (
                "Hi Sarah, your table for 4 at Luigi's is booked for Friday 19:30. See you then!",
                "Hi Priya, your table for 2 at Luigi's is booked for Friday 20:15. See you then!",
            ),
            (
                "Your Acme Bank code is 482913. Do not share it with anyone. We will never ask for it.",
                "Your Acme Bank code is 100256. Do not share it with anyone. We will never ask for it.",
            ),
            (
                "URGENT: your account is suspended. Verify now at paypa1-secure.com/login?id=8812 or lose access",
                "URGENT: your account is suspended. Verify now at bit.ly/3xQk9 or lose access",
            ),
            (
                "Dear Oluwaseun, we could not deliver your parcel. Pay the £1.99 fee at royal-redeliver.top/a1 today.",
                "Dear Bartholomew, we could not deliver your parcel. Pay the £2.49 fee at redelivery-uk.info/zz today.",
            ),
            (
                "Congratulations Kasia! You have won a £1000 gift card. Call 09061701461 to claim before midnight.",
                "Congratulations Dmitri! You have won a £500 gift card. Call 09050003311 to claim before midnight.",
            ),
            (
                "Reminder: your appointment with Dr Okonkwo is tomorrow at 10:30. Reply C to confirm or R to reschedule.",
                "Reminder: your appointment with Dr Lindqvist is tomorrow at 14:00. Reply C to confirm or R to reschedule.",
            ),
        ];
        for (a, b) in pairs {
            let (fa, fb) = (fp(&engine, a), fp(&engine, b));
            eprintln!("distance {} ({} shingles)", fa.distance(&fb), fa.tokens);
            assert!(fa.is_strong(), "{a}: {} shingles", fa.tokens);
            assert!(
                fa.distance(&fb) <= 3,
                "{} apart:\n{a}\n{b}",
                fa.distance(&fb)
            );
            assert!(fa.bands().iter().zip(fb.bands()).any(|(x, y)| *x == y));
        }
    }

    /// Distinct ham texts of the SMS collection rarely land within distance 3 of each other.
    #[test]
    fn distinct_texts_rarely_collide() {
        let engine = ContentEngine::builder().without_model().build();
        let corpus = include_str!("../../../data/sms/SMSSpamCollection");
        let mut scratch = Scratch::new();
        let mut seen = std::collections::HashSet::new();
        let mut prints = Vec::new();
        for line in corpus.lines() {
            let Some(("ham", text)) = line.split_once('\t') else {
                continue;
            };
            let a = engine.analyze_with(text, &mut scratch);
            // Distinct masked forms only: exact template copies are meant to collide.
            if a.fingerprint.is_strong() && seen.insert(a.normalized.text.clone()) {
                prints.push(a.fingerprint);
            }
        }
        assert!(prints.len() > 2_000, "{} strong fingerprints", prints.len());
        let (mut pairs, mut close) = (0u64, 0u64);
        for (i, a) in prints.iter().enumerate() {
            for b in &prints[i + 1..] {
                pairs += 1;
                close += u64::from(a.distance(b) <= 3);
            }
        }
        let rate = close as f64 / pairs as f64;
        eprintln!("{close} of {pairs} pairs of distinct ham within distance 3 ({rate:.2e})");
        assert!(
            rate < 1e-4,
            "{close} of {pairs} pairs within distance 3 ({rate:.2e})"
        );
    }
}
