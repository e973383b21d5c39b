//! Steps 1-3, on characters: invisible characters, NFKC with combining marks, and confusables
//! (TR39 skeletons), with the character classes they use. "The module docs" below are those of
//! [`crate::normalize`].

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

use super::steps::is_leet_symbol;
use super::{Normalizer, Obfuscation};

/// A confusable's ASCII replacement: up to four lower-case ASCII letters or digits.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ascii {
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

impl Normalizer {
    /// Step 3: maps the letters of imitating scripts to ASCII, word by word (see the module docs).
    pub(super) fn map_confusables(&mut self, ob: &mut Obfuscation) {
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
pub(super) struct WordMakeup {
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
pub(super) fn strip_invisibles(text: &str, pre: &mut String, ob: &mut Obfuscation) {
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
pub(super) fn passes_through(c: char) -> bool {
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
pub(super) fn decompose_and_fold(pre: &str, chars: &mut Vec<char>, ob: &mut Obfuscation) {
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
