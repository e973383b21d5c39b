//! Normalisation: the one form every content heuristic matches on.
//!
//! Spammers write `FR€E`, `ｆｒｅｅ`, `fr\u{200b}ee`, `P4yP@l` and `WINNNER` so that a filter matching
//! on the raw text sees nothing. [`Normalizer`] undoes that before anything matches, and counts what
//! it had to undo in an [`Obfuscation`] record, because a message that needed heavy normalising is
//! itself suspicious. The steps, in order:
//!
//! 1. **Invisible characters** are removed: zero-width characters (U+200B–U+200D, U+2060–U+2064,
//!    U+FEFF, the soft hyphen, blank fillers) and bidirectional controls (U+200E–U+200F,
//!    U+202A–U+202E, U+2066–U+2069, U+061C). A zero-width joiner or variation selector after an
//!    emoji is part of the emoji and is dropped without being counted.
//! 2. **Unicode NFKC** folds fullwidth forms, ligatures, circled and mathematical letters to plain
//!    ones (counted when a letter or digit became ASCII). Combining marks on Latin letters are
//!    dropped (`café` → `cafe`); a third or later mark on one letter is counted (stacked "Zalgo"
//!    marks).
//! 3. **Confusables** (Unicode TR39) — a Cyrillic `а` or a Greek `Ρ` inside Latin text — are mapped
//!    to the ASCII letters of their skeleton. The whole-string TR39 skeleton is not used, because it
//!    also maps plain ASCII (`m` → `rn`, `1` → `l`) and would make Latin text unreadable: mapping is
//!    per character, only for letters of the scripts that imitate Latin, and only in a word that also
//!    has Latin letters, or in a message that is mostly Latin. A message written in Cyrillic keeps
//!    its Cyrillic.
//! 4. **Lower case**, typographic quotes and dashes as ASCII; letters spelled out one by one
//!    (`C L A I M`, `F.R.E.E`) are joined.
//! 5. **Leet** digits and symbols (`0`→o, `1`→l or i, `3`→e, `4`→a, `5`→s, `7`→t, `@`→a, `$`→s,
//!    `€`→e) are mapped only inside words that mix letters with them and do not look like a code,
//!    a price or a unit: `482913`, `$5`, `14:35`, `BA117`, `B22`, `5pm`, `SAVE15` stay as they are.
//! 6. **Repeats**: three or more of one letter become two (`WINNNER` → `winner`; `www` stays).
//! 7. **Whitespace** runs become one space; the text is trimmed.
//!
//! The original text is never changed: callers keep it for display. The normal form is for matching
//! only; links are extracted from the original (see [`crate::links`]) because mapping confusables
//! would make `pаypal.com` look like the real domain.
//!
//! A [`Normalizer`] owns scratch buffers and a small cache of confusable mappings, so normalising a
//! stream of messages allocates only the output string. Keep one per thread.

mod lower;
mod steps;
#[cfg(test)]
mod tests;
mod unicode;

use std::collections::HashMap;

use lower::{LOWER_ASCII, LOWER_UNITS, lower_case, lower_case_ascii, put_back, transcode};
use steps::steps_4b_to_7;
use unicode::{Ascii, WordMakeup, decompose_and_fold, passes_through, strip_invisibles};

pub(crate) use unicode::{is_invisible, skeleton_ascii};

/// Weights of each kind of obfuscation in [`Obfuscation::score`]: the score is
/// `1 - exp(-Σ weight × count)`. A zero-width character or a mapped confusable is about as telling
/// as a leet substitution; a squeezed repeat (`Sooo`) is common in honest chat, so it weighs little.
mod weight {
    pub const ZERO_WIDTH: f64 = 0.5;
    pub const BIDI: f64 = 0.5;
    pub const CONFUSABLE: f64 = 0.6;
    pub const LEET: f64 = 0.5;
    pub const REPEAT: f64 = 0.2;
    pub const COMPAT: f64 = 0.15;
    pub const STACKED_MARK: f64 = 0.1;
    pub const SPACED: f64 = 0.7;
}

/// What normalising a text had to undo. Counts are of characters, except `repeats_squeezed` and
/// `spaced_letters`, which count runs.
///
/// The score weighs each count: 0.5 per zero-width or bidi character, 0.6 per confusable, 0.5 per
/// leet character, 0.2 per squeezed repeat, 0.15 per compatibility character, 0.1 per stacked mark
/// and 0.7 per spelled-out run; `score = 1 - exp(-Σ weight × count)`. One `FR€E` scores 0.39,
/// `P4yP@l` 0.63, a plain text 0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Obfuscation {
    /// Zero-width and other invisible characters removed (soft hyphens, fillers, joiners inside
    /// words).
    pub zero_width: u32,
    /// Bidirectional control characters removed.
    pub bidi: u32,
    /// Letters of another script mapped to the Latin letter they imitate (TR39 confusables).
    pub confusables: u32,
    /// Digits and symbols mapped to letters inside words (`P4yP@l`).
    pub leet: u32,
    /// Runs of three or more of one letter squeezed to two.
    pub repeats_squeezed: u32,
    /// Fullwidth, circled, mathematical or other compatibility letters and digits folded to ASCII by
    /// NFKC.
    pub fullwidth_or_compat: u32,
    /// Combining marks beyond the second on one letter (stacked "Zalgo" marks), removed.
    pub stacked_marks: u32,
    /// Runs of letters spelled out one at a time (`C L A I M`) joined into a word.
    pub spaced_letters: u32,
    /// How much normalising the text needed, 0 (nothing) to 1: `1 - exp(-Σ weight × count)` over
    /// the counts above.
    pub score: f64,
}

impl Obfuscation {
    fn finish(&mut self) {
        let load = weight::ZERO_WIDTH * f64::from(self.zero_width)
            + weight::BIDI * f64::from(self.bidi)
            + weight::CONFUSABLE * f64::from(self.confusables)
            + weight::LEET * f64::from(self.leet)
            + weight::REPEAT * f64::from(self.repeats_squeezed)
            + weight::COMPAT * f64::from(self.fullwidth_or_compat)
            + weight::STACKED_MARK * f64::from(self.stacked_marks)
            + weight::SPACED * f64::from(self.spaced_letters);
        self.score = 1.0 - (-load).exp();
    }
}

/// A text in normal form, with the record of what it took.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Normalized {
    /// The normal form: what rules and (later) the classifier and fingerprints match on.
    pub text: String,
    /// What normalising undid.
    pub obfuscation: Obfuscation,
}

/// Normalises texts, reusing its buffers from one text to the next. Not `Sync`-shared: keep one per
/// thread (see [`crate::Scratch`]).
#[derive(Clone, Debug, Default)]
pub struct Normalizer {
    pre: String,
    chars: Vec<char>,
    tmp: Vec<char>,
    /// The byte buffers of the byte path.
    bytes: Vec<u8>,
    bytes_tmp: Vec<u8>,
    /// The characters the byte path stands [`placeholder::OTHER`](lower::placeholder::OTHER) for, in
    /// order.
    others: String,
    words: Vec<WordMakeup>,
    confusables: HashMap<char, Option<Ascii>>,
}

impl Normalizer {
    /// A normalizer with empty buffers.
    pub fn new() -> Normalizer {
        Normalizer::default()
    }

    /// Normalises `text` into a new [`Normalized`].
    pub fn normalize(&mut self, text: &str) -> Normalized {
        let mut out = Normalized::default();
        self.normalize_into(text, &mut out);
        out
    }

    /// Normalises `text` into `out`, reusing `out.text`'s allocation.
    pub fn normalize_into(&mut self, text: &str, out: &mut Normalized) {
        out.text.clear();
        out.obfuscation = Obfuscation::default();
        let ob = &mut out.obfuscation;
        // The byte path: steps 4-7 on bytes, the same code as for characters (see [`Unit`]), a
        // quarter of the memory to walk, and only those the lowering pass saw a reason for.
        let lowered = if text.is_ascii() {
            // ASCII is its own NFKC and has no invisibles or confusables but the controls.
            Some((
                lower_case_ascii(text.as_bytes(), &mut self.bytes, &LOWER_ASCII),
                false,
            ))
        } else if transcode(text, &mut self.bytes_tmp, &mut self.others) {
            // Mostly ASCII, with symbols that every step leaves alone (`£`, `€`, `’`, emoji):
            // each such symbol one placeholder byte, put back at the end.
            Some((
                lower_case_ascii(&self.bytes_tmp, &mut self.bytes, &LOWER_UNITS),
                true,
            ))
        } else {
            None
        };
        if let Some((needs, placeholders)) = lowered {
            // With placeholders, the steps write into a buffer and the characters are put back
            // from there: the normal form is allocated once.
            let into = if placeholders {
                self.pre.clear();
                &mut self.pre
            } else {
                &mut out.text
            };
            steps_4b_to_7(&mut self.bytes, &mut self.bytes_tmp, into, ob, needs);
            if placeholders {
                put_back(&self.pre, &self.others, &mut out.text);
            }
            out.obfuscation.finish();
            return;
        }
        self.chars.clear();
        if text.chars().all(passes_through) {
            // Text whose non-ASCII characters all pass through steps 1-3, but which the byte path
            // does not carry (a spacer such as `•`), is its own result of them, as ASCII is.
            self.chars.extend(text.chars());
        } else {
            strip_invisibles(text, &mut self.pre, ob);
            decompose_and_fold(&self.pre, &mut self.chars, ob);
            self.map_confusables(ob);
        }
        lower_case(&self.chars, &mut self.tmp);
        steps_4b_to_7(
            &mut self.tmp,
            &mut self.chars,
            &mut out.text,
            ob,
            Needs::ALL,
        );
        out.obfuscation.finish();
    }
}

/// Which of steps 4b-7 could change a lower-cased text. Each flag is conservative: it may be set
/// for a text the step then leaves as it is, never clear for one the step would change.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Needs {
    /// Four single characters in a row, one spacer between each (step 4b).
    spaced: bool,
    /// A word of two or more letters, no digit but leet ones, with a leet character next to a
    /// letter: a word the leet step maps always has one (step 5).
    leet: bool,
    /// A space at either end or after another, or a letter three times (steps 6-7).
    squeeze: bool,
}

impl Needs {
    const ALL: Needs = Needs {
        spaced: true,
        leet: true,
        squeeze: true,
    };
}
