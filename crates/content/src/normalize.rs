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

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

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

/// A confusable's ASCII replacement: up to four lower-case ASCII letters or digits.
#[derive(Clone, Copy, Debug)]
struct Ascii {
    bytes: [u8; 4],
    len: u8,
}

impl Ascii {
    fn chars(self) -> impl Iterator<Item = char> {
        self.bytes
            .into_iter()
            .take(usize::from(self.len))
            .map(char::from)
    }
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
    /// The characters the byte path stands [`placeholder::OTHER`] for, in order.
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

    /// Step 3: maps the letters of imitating scripts to ASCII, word by word (see the module docs).
    fn map_confusables(&mut self, ob: &mut Obfuscation) {
        // First pass: each word's make-up. Letters of words with a Latin letter or an ASCII digit
        // count as Latin, the others as not; the balance decides words with no Latin letter.
        self.words.clear();
        let (mut latin_letters, mut other_letters) = (0usize, 0usize);
        let chars = &self.chars;
        let mut i = 0;
        while i < chars.len() {
            if !is_confusable_word_char(chars[i]) {
                i += 1;
                continue;
            }
            let start = i;
            let mut w = WordMakeup {
                start,
                end: start,
                latin: false,
                imitators: 0,
                others: 0,
            };
            let mut letters = 0;
            while i < chars.len() && is_confusable_word_char(chars[i]) {
                let c = chars[i];
                letters += usize::from(c.is_alphabetic());
                if c.is_ascii() {
                    w.latin |= c.is_ascii_alphanumeric();
                } else if is_latin(c) {
                    w.latin = true;
                } else if imitates_latin(c) && confusable(&mut self.confusables, c).is_some() {
                    w.imitators += 1;
                } else if c.is_alphabetic() {
                    w.others += 1;
                }
                i += 1;
            }
            w.end = i;
            if w.latin {
                latin_letters += letters;
            } else {
                other_letters += letters;
            }
            self.words.push(w);
        }
        let latin_message = latin_letters >= 2 * other_letters;

        // Second pass: copy, mapping where the word's make-up says so.
        self.tmp.clear();
        let mut next = 0;
        for w in &self.words {
            self.tmp.extend_from_slice(&chars[next..w.start]);
            next = w.end;
            let map_imitators = w.imitators > 0 && (w.latin || (w.others == 0 && latin_message));
            for &c in &chars[w.start..w.end] {
                if c.is_ascii() {
                    self.tmp.push(c);
                } else if is_latin(c) {
                    // Latin letters without a decomposition (ø, ł, æ): fold quietly to ASCII.
                    match confusable(&mut self.confusables, c) {
                        Some(a) => self.tmp.extend(a.chars()),
                        None => self.tmp.push(c),
                    }
                } else if map_imitators && imitates_latin(c) {
                    match confusable(&mut self.confusables, c) {
                        Some(a) => {
                            ob.confusables += 1;
                            self.tmp.extend(a.chars());
                        }
                        None => self.tmp.push(c),
                    }
                } else {
                    self.tmp.push(c);
                }
            }
        }
        self.tmp.extend_from_slice(&chars[next..]);
        std::mem::swap(&mut self.chars, &mut self.tmp);
    }
}

/// What a word is made of, for the confusables step.
#[derive(Clone, Copy, Debug)]
struct WordMakeup {
    start: usize,
    end: usize,
    /// Has a Latin letter or an ASCII digit.
    latin: bool,
    /// Letters of imitating scripts that have an ASCII skeleton.
    imitators: usize,
    /// Other letters.
    others: usize,
}

/// Characters of a word for the confusables step: letters, digits, marks, and the symbols leet
/// uses inside words (`са$h` is one word).
fn is_confusable_word_char(c: char) -> bool {
    is_word_char(c) || is_leet_symbol(c)
}

/// An invisible character's kind.
enum Invisible {
    /// Always obfuscation when it sits in text: counted.
    ZeroWidth,
    /// A bidirectional control: counted.
    Bidi,
    /// Joiners and selectors that belong to emoji sequences: counted only after a Latin letter or
    /// digit.
    Joiner,
}

fn invisible(c: char) -> Option<Invisible> {
    match c {
        '\u{200B}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}'
        | '\u{00AD}'
        | '\u{034F}'
        | '\u{180E}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{3164}'
        | '\u{FFA0}'
        | '\u{2800}' => Some(Invisible::ZeroWidth),
        '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{061C}' => Some(Invisible::Bidi),
        '\u{200C}'
        | '\u{200D}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0100}'..='\u{E01EF}'
        | '\u{E0000}'..='\u{E007F}'
        | '\u{180B}'..='\u{180D}'
        | '\u{180F}' => Some(Invisible::Joiner),
        _ => None,
    }
}

/// Whether a character is invisible: removed before anything matches, and before links are
/// extracted.
pub(crate) fn is_invisible(c: char) -> bool {
    invisible(c).is_some()
}

/// Step 1: removes invisibles into `pre`, counting them, and counts compatibility letters.
fn strip_invisibles(text: &str, pre: &mut String, ob: &mut Obfuscation) {
    pre.clear();
    let mut prev_ascii_alnum = false;
    for c in text.chars() {
        match invisible(c) {
            Some(Invisible::ZeroWidth) => ob.zero_width += 1,
            Some(Invisible::Bidi) => ob.bidi += 1,
            Some(Invisible::Joiner) => {
                if prev_ascii_alnum {
                    ob.zero_width += 1;
                }
            }
            None => {
                if !c.is_ascii() && c.is_alphanumeric() && folds_to_ascii(c) {
                    ob.fullwidth_or_compat += 1;
                    prev_ascii_alnum = true;
                } else {
                    prev_ascii_alnum = c.is_ascii_alphanumeric();
                }
                pre.push(c);
            }
        }
    }
}

/// Whether steps 1-3 leave a character as it is, and count nothing for it: ASCII, and symbols
/// that are neither invisible, letters, digits nor marks, with no compatibility decomposition
/// (`£`, `€`, `•`, most emoji). Such characters neither compose nor decompose in NFKC, and no
/// confusable mapping touches them.
fn passes_through(c: char) -> bool {
    if c.is_ascii() {
        return true;
    }
    if c.is_alphanumeric() || is_combining_mark(c) || is_invisible(c) || is_latin(c) {
        return false;
    }
    if imitates_latin(c) {
        return false;
    }
    let mut only_itself = true;
    decompose_compatible(c, |d| only_itself &= d == c);
    only_itself
}

/// Whether NFKC turns this non-ASCII character into ASCII letters or digits (`ｆ`, `ⓕ`, `𝐟`, `ﬁ`).
fn folds_to_ascii(c: char) -> bool {
    let mut all_ascii = true;
    let mut any = false;
    decompose_compatible(c, |d| {
        any = true;
        all_ascii &= d.is_ascii_alphanumeric();
    });
    any && all_ascii
}

/// Latin letters beyond ASCII (Latin-1 Supplement, Extended-A/B, IPA, Extended Additional).
fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(c, '\u{00C0}'..='\u{024F}' | '\u{0250}'..='\u{02AF}' | '\u{1E00}'..='\u{1EFF}')
            && c != '\u{00D7}'
            && c != '\u{00F7}'
}

/// Scripts whose letters are used to imitate Latin: Greek, Cyrillic, Armenian, Cherokee, Coptic,
/// Lisu, and letterlike symbols.
fn imitates_latin(c: char) -> bool {
    matches!(c,
        '\u{0370}'..='\u{03FF}' | '\u{1F00}'..='\u{1FFF}' // Greek
        | '\u{0400}'..='\u{052F}' | '\u{1C80}'..='\u{1C8F}' | '\u{2DE0}'..='\u{2DFF}'
        | '\u{A640}'..='\u{A69F}' // Cyrillic
        | '\u{0530}'..='\u{058F}' // Armenian
        | '\u{13A0}'..='\u{13FF}' | '\u{AB70}'..='\u{ABBF}' // Cherokee
        | '\u{2C80}'..='\u{2CFF}' // Coptic
        | '\u{A4D0}'..='\u{A4FF}' // Lisu
        | '\u{2100}'..='\u{214F}' // letterlike symbols
    )
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The TR39 skeleton of one character, if it is made only of ASCII letters and digits once
/// combining marks are dropped (`а` → `a`, `Ρ` → `p`, `ø` → `o`), lower-cased.
pub(crate) fn skeleton_ascii(c: char) -> Option<impl Iterator<Item = char>> {
    ascii_skeleton(c).map(Ascii::chars)
}

fn ascii_skeleton(c: char) -> Option<Ascii> {
    let mut buf = [0u8; 4];
    let mut out = Ascii {
        bytes: [0; 4],
        len: 0,
    };
    for s in unicode_security::skeleton(c.encode_utf8(&mut buf)) {
        if is_combining_mark(s) {
            continue;
        }
        if !s.is_ascii_alphanumeric() || out.len == 4 {
            return None;
        }
        out.bytes[usize::from(out.len)] = s.to_ascii_lowercase() as u8;
        out.len += 1;
    }
    (out.len > 0).then_some(out)
}

/// [`ascii_skeleton`], cached.
fn confusable(cache: &mut HashMap<char, Option<Ascii>>, c: char) -> Option<Ascii> {
    *cache.entry(c).or_insert_with(|| ascii_skeleton(c))
}

/// Step 2: NFKC, dropping combining marks on Latin letters and counting stacked ones.
fn decompose_and_fold(pre: &str, chars: &mut Vec<char>, ob: &mut Obfuscation) {
    // What the last base character was: drop marks after Latin letters, digits, punctuation and
    // spaces; keep them after the letters of scripts that need them (Devanagari, Arabic, ...).
    let mut drop_marks = true;
    let mut marks_on_base = 0u32;
    let mut stacked = 0u32;
    let filtered = pre.chars().nfkd().filter(|&c| {
        if is_combining_mark(c) {
            marks_on_base += 1;
            if drop_marks {
                // Vietnamese puts two marks on a letter (ế); a third is decoration.
                if marks_on_base > 2 {
                    stacked += 1;
                }
                return false;
            }
            // A pile of marks on any letter is decoration, not spelling.
            if marks_on_base > 3 {
                stacked += 1;
                return false;
            }
            return true;
        }
        marks_on_base = 0;
        drop_marks = c.is_ascii() || is_latin(c) || !c.is_alphabetic();
        true
    });
    chars.extend(filtered.nfc());
    ob.stacked_marks += stacked;
}

/// Step 4a: lower case; whitespace becomes a plain space and other control characters go.
fn lower_case(chars: &[char], out: &mut Vec<char>) {
    out.clear();
    for &c in chars {
        if c.is_ascii() {
            match LOWER_ASCII[c as usize] {
                0 => {}
                b => out.push(char::from(b)),
            }
        } else if c.is_whitespace() {
            out.push(' ');
        } else if let Some(plain) = plain_punctuation(c) {
            out.push(plain);
        } else if !c.is_control() {
            out.extend(c.to_lowercase());
        }
    }
}

/// Placeholders of the byte path for the non-ASCII characters of a text (see [`transcode`]).
/// They are control bytes, which lower-casing removes from any text ([`LOWER_ASCII`]), so after it
/// they stand for nothing else.
mod placeholder {
    /// Any character that steps 1-7 leave as it is and never read as part of a word, a spacer or
    /// a space (`£`, `→`, emoji); [`super::put_back`] restores it.
    pub const OTHER: u8 = 0x01;
    /// `€`, which the leet step reads as `e` inside a word.
    pub const EURO: u8 = 0x02;
}

/// [`LOWER_ASCII`] for the units of [`transcode`]: the same, but the placeholders stay.
const LOWER_UNITS: [u8; 128] = {
    let mut t = LOWER_ASCII;
    t[placeholder::OTHER as usize] = placeholder::OTHER;
    t[placeholder::EURO as usize] = placeholder::EURO;
    t
};

/// Step 4a's mappings of non-ASCII characters, for a text whose non-ASCII characters all pass
/// through steps 1-3 ([`passes_through`]) and are symbols step 4a maps to ASCII or leaves alone:
/// writes `text` to `units` as bytes for the byte path, where typographic quotes and dashes are
/// their ASCII forms, white space a space, controls gone, `€` [`placeholder::EURO`] and every
/// other such symbol [`placeholder::OTHER`], its characters kept in `others` in order. ASCII is
/// copied as it is, but for the controls lower-casing would remove, so no placeholder byte comes
/// from the text. `false` when a character needs the character path: a letter, a digit or mark
/// beyond ASCII, an invisible, a spacer (`•`), one with a compatibility form or a lower case.
fn transcode(text: &str, units: &mut Vec<u8>, others: &mut String) -> bool {
    units.clear();
    others.clear();
    for c in text.chars() {
        if c.is_ascii() {
            if LOWER_ASCII[c as usize] != 0 {
                units.push(c as u8);
            }
            continue;
        }
        // The two of these a message is most likely to have, without a table lookup.
        if c == '€' {
            units.push(placeholder::EURO);
            continue;
        }
        if c == '£' {
            units.push(placeholder::OTHER);
            others.push(c);
            continue;
        }
        if !passes_through(c) {
            return false;
        }
        // As [`lower_case`] does, in its order.
        if c.is_whitespace() {
            units.push(b' ');
        } else if let Some(plain) = plain_punctuation(c) {
            units.push(plain as u8);
        } else if c.is_control() {
            // Removed, as lower-casing removes it.
        } else if is_spacer(c) || !c.to_lowercase().eq([c]) {
            return false;
        } else {
            units.push(placeholder::OTHER);
            others.push(c);
        }
    }
    true
}

/// Writes a normal form with placeholders to `out` with their characters put back (see
/// [`transcode`]): `€`, and the characters of `others` in order.
fn put_back(text: &str, others: &str, out: &mut String) {
    out.reserve(text.len() + others.len());
    let mut others = others.chars();
    let mut copied = 0;
    for (i, b) in text.bytes().enumerate() {
        let c = match b {
            placeholder::OTHER => others.next().unwrap_or(char::REPLACEMENT_CHARACTER),
            placeholder::EURO => '€',
            _ => continue,
        };
        out.push_str(&text[copied..i]);
        out.push(c);
        copied = i + 1;
    }
    debug_assert!(
        others.next().is_none(),
        "every placeholder is kept, in order"
    );
    out.push_str(&text[copied..]);
}

/// Step 4a for each ASCII character: white space becomes a space, other controls go (0), letters
/// are lower-cased.
const LOWER_ASCII: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = if (b as u8).is_ascii_whitespace() {
            b' '
        } else if (b as u8).is_ascii_control() {
            0
        } else {
            (b as u8).to_ascii_lowercase()
        };
        b += 1;
    }
    t
};

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

/// Classes of lower-cased ASCII bytes for the scan of [`lower_case_ascii`].
mod class {
    pub const LETTER: u8 = 1;
    /// A leet digit or symbol.
    pub const LEET: u8 = 2;
    /// A digit no one uses for a letter.
    pub const OTHER_DIGIT: u8 = 4;
    pub const ALNUM: u8 = 8;
    /// Part of a word for the leet step: a letter, a digit, `@`, `$` or `€`.
    pub const WORD: u8 = 16;

    pub const OF: [u8; 128] = {
        let mut t = [0u8; 128];
        let mut b = 0;
        while b < 128 {
            let c = b as u8;
            let leet = super::is_leet(c as char) || c == super::placeholder::EURO;
            t[b] = if c.is_ascii_lowercase() {
                LETTER | ALNUM | WORD
            } else {
                0
            } | if leet { LEET | WORD } else { 0 }
                | if c.is_ascii_digit() { ALNUM | WORD } else { 0 }
                | if c.is_ascii_digit() && !leet {
                    OTHER_DIGIT
                } else {
                    0
                };
            b += 1;
        }
        t
    };
}

/// Step 4a for ASCII text or the units of [`transcode`], on bytes, with `lower` ([`LOWER_ASCII`]
/// or [`LOWER_UNITS`]), in one pass that also sees which later steps have work: squeezing
/// exactly, and whether leet or spaced letters are possible at all (a leet character next to a
/// letter, four single characters). Only then does [`leet_or_spaced`] look again more closely;
/// 58% of the bench world's texts rule out both.
fn lower_case_ascii(text: &[u8], out: &mut Vec<u8>, lower: &[u8; 128]) -> Needs {
    use class::{ALNUM, LEET, LETTER};
    const _: () = assert!(
        LETTER == 1 && LEET == 2,
        "the touch test shifts LEET onto LETTER"
    );
    out.clear();
    out.reserve(text.len());
    // The two bytes written before this one (0: none) and their classes.
    let (mut p1, mut p2, mut k1, mut k2) = (0u8, 0u8, 0u8, 0u8);
    let mut squeeze = false;
    // Bit LETTER: a leet character next to a letter. Singles: alphanumerics alone between two
    // other characters, or the text's ends.
    let mut touch = 0u8;
    let mut singles = 0u32;
    for &b in text {
        let c = lower[usize::from(b)];
        if c == 0 {
            continue;
        }
        let k = class::OF[usize::from(c)];
        squeeze |= c == p1 && (c == b' ' || (c == p2 && k & LETTER != 0));
        touch |= ((k >> 1) & k1) | ((k1 >> 1) & k);
        singles += u32::from(k1 & ALNUM != 0 && k & ALNUM == 0 && k2 & ALNUM == 0);
        out.push(c);
        (p2, p1, k2, k1) = (p1, c, k1, k);
    }
    singles += u32::from(k1 & ALNUM != 0 && k2 & ALNUM == 0);
    squeeze |= out.first() == Some(&b' ') || out.last() == Some(&b' ');
    let (leet, spaced) = if touch & LETTER != 0 || singles >= 4 {
        leet_or_spaced(out)
    } else {
        (false, false)
    };
    Needs {
        spaced,
        leet,
        squeeze,
    }
}

/// [`Needs::leet`] and [`Needs::spaced`] of lower-cased bytes.
fn leet_or_spaced(units: &[u8]) -> (bool, bool) {
    use class::{ALNUM, LEET, LETTER, OTHER_DIGIT, WORD};
    let (mut leet, mut spaced) = (false, false);
    // The class of the byte before.
    let mut pk = 0u8;
    // The current word: its letters, whether a leet character touches a letter, whether it has
    // a digit that rules it out.
    let (mut letters, mut touching, mut ruled_out) = (0u32, false, false);
    // The length of the alphanumeric run so far, the index of the last single character and
    // how many singles, one spacer apart, end there.
    let mut run = 0usize;
    let (mut last_single, mut chain) = (usize::MAX, 0u32);
    let mut single_at = |s: usize, spaced: &mut bool| {
        chain = if last_single.wrapping_add(2) == s && is_spacer(units[s - 1].ch()) {
            chain + 1
        } else {
            1
        };
        last_single = s;
        *spaced |= chain >= 4;
    };
    for (i, &c) in units.iter().enumerate() {
        let k = class::OF[usize::from(c)];
        if k & WORD != 0 {
            letters += u32::from(k & LETTER);
            touching |= (k & LEET != 0 && pk & LETTER != 0) || (pk & LEET != 0 && k & LETTER != 0);
            ruled_out |= k & OTHER_DIGIT != 0;
        } else if letters > 0 {
            leet |= letters >= 2 && touching && !ruled_out;
            (letters, touching, ruled_out) = (0, false, false);
        } else {
            (touching, ruled_out) = (false, false);
        }
        if k & ALNUM != 0 {
            run += 1;
        } else {
            if run == 1 {
                single_at(i - 1, &mut spaced);
            }
            run = 0;
        }
        pk = k;
    }
    leet |= letters >= 2 && touching && !ruled_out;
    if run == 1 {
        single_at(units.len() - 1, &mut spaced);
    }
    (leet, spaced)
}

/// Steps 4b-7 on lower-cased `units`, into `out`, those that `needs` says could change them (and
/// squeezing after a step that changed something); `tmp` is scratch.
fn steps_4b_to_7<U: Unit>(
    units: &mut Vec<U>,
    tmp: &mut Vec<U>,
    out: &mut String,
    ob: &mut Obfuscation,
    needs: Needs,
) {
    let before = (ob.spaced_letters, ob.leet);
    let units = if needs.spaced {
        join_spaced_letters(units, tmp, ob);
        tmp
    } else {
        units
    };
    // Joining makes new words, which the scan did not see.
    if needs.leet || ob.spaced_letters != before.0 {
        map_leet(units, ob);
    }
    if needs.squeeze || (ob.spaced_letters, ob.leet) != before {
        squeeze_and_collapse(units, out, ob);
    } else {
        U::push_all(units, out);
    }
}

/// A unit of text for steps 4b-7: a character, or a byte of ASCII text or of [`transcode`]'s
/// units. For ASCII the two agree on every question asked here (`char::is_alphanumeric` of an
/// ASCII character is `u8::is_ascii_alphanumeric` of its byte), and a placeholder answers as the
/// characters it stands for, so one implementation serves both.
trait Unit: Copy + Eq {
    fn ch(self) -> char;
    /// The unit for an ASCII character.
    fn ascii(c: char) -> Self;
    fn is_alnum(self) -> bool;
    fn is_alpha(self) -> bool;
    fn is_num(self) -> bool;
    /// Appends `units` to `out` as they are.
    fn push_all(units: &[Self], out: &mut String);
}

impl Unit for char {
    #[inline(always)]
    fn ch(self) -> char {
        self
    }
    #[inline(always)]
    fn ascii(c: char) -> char {
        c
    }
    #[inline(always)]
    fn is_alnum(self) -> bool {
        self.is_alphanumeric()
    }
    #[inline(always)]
    fn is_alpha(self) -> bool {
        self.is_alphabetic()
    }
    #[inline(always)]
    fn is_num(self) -> bool {
        self.is_numeric()
    }
    fn push_all(units: &[char], out: &mut String) {
        out.extend(units);
    }
}

impl Unit for u8 {
    #[inline(always)]
    fn ch(self) -> char {
        // The other placeholder is a control character: like the symbols it stands for, no step
        // reads it as a letter, a digit, a leet symbol, a spacer or a space.
        if self == placeholder::EURO {
            '€'
        } else {
            char::from(self)
        }
    }
    #[inline(always)]
    fn ascii(c: char) -> u8 {
        debug_assert!(c.is_ascii());
        c as u8
    }
    #[inline(always)]
    fn is_alnum(self) -> bool {
        self.is_ascii_alphanumeric()
    }
    #[inline(always)]
    fn is_alpha(self) -> bool {
        self.is_ascii_alphabetic()
    }
    #[inline(always)]
    fn is_num(self) -> bool {
        self.is_ascii_digit()
    }
    fn push_all(units: &[u8], out: &mut String) {
        out.push_str(std::str::from_utf8(units).expect("units of ASCII text are ASCII"));
    }
}

/// Typographic quotes and dashes as their ASCII forms, so `you’ve` matches `you've`.
fn plain_punctuation(c: char) -> Option<char> {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{02BC}'
        | '\u{FF07}' => Some('\''),
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => Some('"'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Some('-'),
        _ => None,
    }
}

fn is_spacer(c: char) -> bool {
    matches!(c, ' ' | '.' | '-' | '_' | '*' | '•' | '·')
}

/// Step 4b: joins letters spelled out one at a time: at least four single characters with one
/// spacer between each, three of them letters (`c l a i m`, `f.r.e.e`). Two spaces end a run, so
/// `C L A I M  Y O U R` becomes `claim your`.
fn join_spaced_letters<U: Unit>(chars: &[U], out: &mut Vec<U>, ob: &mut Obfuscation) {
    out.clear();
    let n = chars.len();
    #[inline(always)]
    fn alnum<U: Unit>(chars: &[U], i: usize) -> bool {
        chars.get(i).is_some_and(|c| c.is_alnum())
    }
    let single =
        |i: usize| alnum(chars, i) && (i == 0 || !alnum(chars, i - 1)) && !alnum(chars, i + 1);
    let mut i = 0;
    while i < n {
        if single(i) {
            let mut end = i; // index of the last single in the run
            let mut count = 1;
            let mut letters = usize::from(chars[i].is_alpha());
            while end + 2 < n && is_spacer(chars[end + 1].ch()) && single(end + 2) {
                end += 2;
                count += 1;
                letters += usize::from(chars[end].is_alpha());
            }
            if count >= 4 && letters >= 3 {
                out.extend(chars[i..=end].iter().step_by(2));
                ob.spaced_letters += 1;
                i = end + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
}

const fn is_leet(c: char) -> bool {
    matches!(c, '0' | '1' | '3' | '4' | '5' | '7' | '@' | '$' | '€')
}

fn is_leet_symbol(c: char) -> bool {
    matches!(c, '@' | '$' | '€')
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// The letter a leet character stands for, `1` by its neighbours: `l` next to another `1`, at the
/// end, before a vowel, or after `e`, `u` or `o` (`ca11`, `paypa1`, `on1ine`, `he1p`); `i`
/// otherwise (`w1n`, `cla1m`, `pr1ze`).
fn leet_letter(prev: Option<char>, c: char, next: Option<char>) -> char {
    match c {
        '0' => 'o',
        '3' | '€' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        '1' => {
            let next_letter = next.map(|n| {
                if is_leet(n) && n != '1' {
                    leet_letter(None, n, None)
                } else {
                    n
                }
            });
            match (prev, next_letter) {
                (Some('1'), _) | (_, Some('1')) | (_, None) | (None, _) => 'l',
                (Some('r'), _) => 'i',
                (_, Some(n)) if is_vowel(n) => 'l',
                (Some('e' | 'u' | 'o'), _) => 'l',
                _ => 'i',
            }
        }
        _ => c,
    }
}

/// Step 5: maps leet characters inside words that mix them with letters (see the module docs for
/// what is left alone). Works in place: every mapping is one character for one.
fn map_leet<U: Unit>(chars: &mut [U], ob: &mut Obfuscation) {
    let n = chars.len();
    let tokenish = |c: U| c.is_alnum() || is_leet_symbol(c.ch());
    let mut in_path = false; // after a `/` in the current space-separated word: a URL path
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c.ch() == ' ' {
            in_path = false;
            i += 1;
            continue;
        }
        if c.ch() == '/' {
            in_path = true;
        }
        if !tokenish(c) {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && tokenish(chars[i]) {
            i += 1;
        }
        if in_path {
            continue;
        }
        // An email address or a host: `name@example.com` is not leet.
        let followed_by_dot_word = i + 1 < n && chars[i].ch() == '.' && chars[i + 1].is_alnum();
        let token = &mut chars[start..i];
        if let Some(m) = leet_plan(token, followed_by_dot_word) {
            let mut mapped = 0;
            for j in m.first..m.end {
                if is_leet(token[j].ch()) {
                    let prev = j.checked_sub(1).map(|p| token[p].ch());
                    let next = token.get(j + 1).map(|n| n.ch());
                    token[j] = U::ascii(leet_letter(prev, token[j].ch(), next));
                    mapped += 1;
                }
            }
            ob.leet += mapped;
        }
    }
}

/// The range of a token whose leet characters are to be mapped.
struct LeetPlan {
    first: usize,
    end: usize,
}

/// Decides whether, and where, a token is leet. `None` for codes, prices, units and ordinary words.
fn leet_plan<U: Unit>(token: &[U], followed_by_dot_word: bool) -> Option<LeetPlan> {
    let mut letters = 0usize;
    let mut leets = 0usize;
    for (j, &u) in token.iter().enumerate() {
        let c = u.ch();
        if u.is_alpha() {
            letters += 1;
        } else if is_leet(c) {
            leets += 1;
            if is_leet_symbol(c) {
                // A currency sign next to a digit is a price (`$5`, `us$5`, `5€`).
                let near_digit = |k: Option<&U>| k.is_some_and(|d| d.ch().is_ascii_digit());
                if (c == '$' || c == '€')
                    && (near_digit(token.get(j + 1)) || j > 0 && near_digit(token.get(j - 1)))
                {
                    return None;
                }
                if c == '@' && followed_by_dot_word {
                    return None;
                }
            }
        } else if u.is_num() {
            // A digit no one uses for a letter (2, 6, 8, 9): a code, a model, a date.
            return None;
        }
    }
    if leets == 0 || letters < 2 {
        return None;
    }
    let first_letter = token.iter().position(|c| c.is_alpha())?;
    let last_letter = token.iter().rposition(|c| c.is_alpha())?;
    // Leading: a symbol right before the letters is leet (`$ave`); leading digits are a count or a
    // unit (`5star`, `3days`) and stay.
    let first = if first_letter > 0 && is_leet_symbol(token[first_letter - 1].ch()) {
        first_letter - 1
    } else {
        first_letter
    };
    // Trailing: one character after three or more letters (`paypa1`), or a doubled 3, 0 or 1
    // (`fr33`, `ca11`); longer runs are numbers (`save15`, `room101`).
    let tail = &token[last_letter + 1..];
    let end = match tail {
        [] => token.len(),
        [_] if letters >= 3 => token.len(),
        [a, b] if a == b && matches!(a.ch(), '3' | '0' | '1') => token.len(),
        _ => last_letter + 1,
    };
    // Two letters and a digit is leet only when the digit stands for a vowel (`y0u`, `w0n`), not
    // for a code (`x7k`); a doubled `1` is `ll` (`ca11`).
    let double_one = token
        .windows(2)
        .any(|w| w[0].ch() == '1' && w[1].ch() == '1');
    let consonant_digit = |c: char| {
        c.is_ascii_digit()
            && !(c == '1' && double_one)
            && !is_vowel(leet_letter(None, c, Some('x')))
    };
    let mut mapped = 0usize;
    let mut consonant_digits = false;
    for c in token[first..end]
        .iter()
        .map(|u| u.ch())
        .filter(|&c| is_leet(c))
    {
        mapped += 1;
        consonant_digits |= consonant_digit(c);
    }
    if mapped == 0 || mapped > letters || letters == 2 && consonant_digits {
        return None;
    }
    Some(LeetPlan { first, end })
}

/// Steps 6 and 7: squeezes runs of one letter to two and collapses whitespace, writing the output.
fn squeeze_and_collapse<U: Unit>(chars: &[U], out: &mut String, ob: &mut Obfuscation) {
    let n = chars.len();
    // At most one byte a unit for ASCII: one allocation instead of one per doubling.
    out.reserve(n);
    let mut i = 0;
    let mut pending_space = false;
    while i < n {
        let u = chars[i];
        let c = u.ch();
        if c == ' ' {
            pending_space = !out.is_empty();
            i += 1;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        let mut run = 1;
        while i + run < n && chars[i + run] == u {
            run += 1;
        }
        if run >= 3 && u.is_alpha() && !(c == 'w' && run == 3) {
            out.push(c);
            out.push(c);
            ob.repeats_squeezed += 1;
        } else {
            for _ in 0..run {
                out.push(c);
            }
        }
        i += run;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Normalized {
        Normalizer::new().normalize(s)
    }

    #[test]
    fn obfuscation_examples() {
        for (input, want) in [
            ("FR€E", "free"),
            ("ｆｒｅｅ", "free"),
            ("fr\u{200b}ee", "free"),
            ("P4yP@l", "paypal"),
            ("WINNNER", "winner"),
            ("winnner", "winner"),
        ] {
            let n = norm(input);
            assert_eq!(n.text, want, "{input:?}");
            assert!(n.obfuscation.score > 0.1, "{input:?}: {:?}", n.obfuscation);
        }
    }

    #[test]
    fn plain_text_is_untouched() {
        for input in [
            "Your code is 482913. Do not share it.",
            "Flight BA117 to JFK delayed to 14:35, gate B22",
            "Only $5 today, 5pm to 7pm. Use SAVE15 at checkout.",
            "Email help@example.com or visit www.example.com",
        ] {
            let n = norm(input);
            assert_eq!(n.text, input.to_lowercase(), "{input:?}");
            assert_eq!(n.obfuscation.score, 0.0, "{input:?}: {:?}", n.obfuscation);
        }
    }

    #[test]
    fn white_space_is_collapsed_and_trimmed() {
        for (input, want) in [
            ("ab ", "ab"),
            (" ab", "ab"),
            ("a  b", "a b"),
            ("a\t\nb\r\n", "a b"),
            ("a\u{b}b", "ab"),
        ] {
            assert_eq!(norm(input).text, want, "{input:?}");
        }
    }

    #[test]
    fn one_to_l_or_i() {
        for (input, want) in [
            ("cla1m", "claim"),
            ("w1nner", "winner"),
            ("on1ine", "online"),
            ("paypa1", "paypal"),
            ("ca11", "call"),
            ("pr1ze", "prize"),
            ("he1p", "help"),
        ] {
            assert_eq!(norm(input).text, want, "{input:?}");
        }
    }

    #[test]
    fn cyrillic_stays_in_cyrillic_text() {
        let n = norm("Ваш код 1234");
        assert_eq!(n.text, "ваш код 1234");
        assert_eq!(n.obfuscation.confusables, 0);
        // ... but not inside a Latin word.
        let n = norm("Your Р\u{430}yP\u{430}l account");
        assert_eq!(n.text, "your paypal account");
        assert_eq!(n.obfuscation.confusables, 3);
    }

    #[test]
    fn emoji_joiners_are_not_obfuscation() {
        let n = norm("Family day \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} \u{2764}\u{FE0F}");
        assert_eq!(n.obfuscation.score, 0.0, "{:?}", n.obfuscation);
    }

    /// Normalises `s` as it is and with a zero-width space after it, which forces the full
    /// character path: the text must be the same, and the counts but for that one zero-width.
    fn same_as_the_full_path(s: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let mut nz = Normalizer::new();
        let fast = nz.normalize(s);
        let full = nz.normalize(&format!("{s} \u{200b}"));
        proptest::prop_assert_eq!(&fast.text, &full.text);
        let mut counts = full.obfuscation.clone();
        counts.zero_width -= 1;
        counts.score = fast.obfuscation.score;
        proptest::prop_assert_eq!(&fast.obfuscation, &counts);
        // The scores differ by that one zero-width character alone: by the documented formula
        // (`1 - exp(-load)`, 0.5 a zero-width), 1 - score grows by a factor of e^0.5 without it.
        let expected = 1.0 - (1.0 - full.obfuscation.score) * 0.5f64.exp();
        proptest::prop_assert!(
            (fast.obfuscation.score - expected).abs() < 1e-9,
            "score {} on the fast path, {} on the full one",
            fast.obfuscation.score,
            full.obfuscation.score
        );
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Text that skips steps 1-3 normalises as it would through them: forcing the full path
        /// with a zero-width space changes only the zero-width count.
        #[test]
        fn passing_through_equals_the_full_path(
            s in "([A-Za-z0-9 .,!?:@$/-]|£|€|•|→|™|😀){0,40}"
        ) {
            same_as_the_full_path(&s)?;
        }

        /// ASCII text takes the byte path; the same text with a zero-width space takes the
        /// character path. Leet, spacing, repeats and controls all agree.
        #[test]
        fn the_ascii_byte_path_equals_the_character_path(
            s in "([a-eA-E0123456789 .,!?:@$/_*\t\n\x0b-]{1,4}|  |www|wwww|aaaa|c l a i m|f[.]r[.]e[.]e|y0u|ca11|[$]ave|fr33){0,40}"
        ) {
            same_as_the_full_path(&s)?;
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Text whose non-ASCII characters are symbols takes the byte path with placeholders; the
        /// same text with a zero-width space takes the character path. Prices, leet `€`, quotes,
        /// dashes, white space and controls beyond ASCII, spacers and emoji all agree.
        #[test]
        fn the_placeholder_byte_path_equals_the_character_path(
            s in "([a-eA-E0134589 .,!?:@$/_*\t-]{1,4}|€|£|😀|→|’|“|—|\u{a0}|\u{85}|\u{92}|\u{2003}|•|·|é|\x01|\x02|  |www|aaaa|c l a i m|c•l•a•i•m|fr€€|fr€e|€5|5€|y0u|ca11|££|😀😀😀){0,40}"
        ) {
            same_as_the_full_path(&s)?;
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Any text normalises alike whichever path it takes: the ASCII byte path, the byte path
        /// with placeholders, the pass-through character path or the full one; a zero-width
        /// space forces the full path. ASCII runs, the symbols the byte path carries, spacers,
        /// imitating scripts, combining marks and any character at all.
        #[test]
        fn any_text_normalises_as_through_the_full_path(
            s in "([a-zA-Z0-9 .@$€£•·’*_-]{0,6}|[а-яΑ-Ω]|[\u{300}-\u{36f}]|.){0,30}"
        ) {
            same_as_the_full_path(&s)?;
        }
    }

    #[test]
    fn symbols_take_the_byte_path_and_come_back() {
        let mut units = Vec::new();
        let mut others = String::new();
        assert!(transcode("FR€E £5 → ’ok’ 😀", &mut units, &mut others));
        assert_eq!(units, b"FR\x02E \x015 \x01 'ok' \x01");
        assert_eq!(others, "£→😀");
        for needs_characters in ["café", "•", "ｆ", "\u{200b}", "Ж", "\u{a0}", "™"] {
            assert!(
                !transcode(needs_characters, &mut units, &mut others),
                "{needs_characters:?}"
            );
        }
        assert_eq!(norm("FR€E £5 → ’OK’ 😀").text, "free £5 → 'ok' 😀");
        assert_eq!(
            norm("Pay €5, WINNNER  of a fr€e £££").text,
            "pay €5, winner of a free £££"
        );
    }

    #[test]
    fn letters_symbols_and_marks_do_not_pass_through() {
        for c in [
            'é', 'ø', 'а', 'Ρ', 'ｆ', '²', 'ℹ', '\u{301}', '\u{200b}', '①', '™',
        ] {
            assert!(!passes_through(c), "{c:?}");
        }
        for c in ['£', '€', '•', '😀', '→', 'a', '7', ' '] {
            assert!(passes_through(c), "{c:?}");
        }
    }

    #[test]
    fn buffers_are_reused() {
        let mut nz = Normalizer::new();
        let mut out = Normalized::default();
        nz.normalize_into("FIRST message", &mut out);
        nz.normalize_into("fr\u{200b}ee", &mut out);
        assert_eq!(out.text, "free");
        assert_eq!(out.obfuscation.zero_width, 1);
    }
}
