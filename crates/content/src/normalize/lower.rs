//! Step 4a, lower case, on characters and on bytes: the byte path's transcoding of symbols to
//! placeholders and back, and the one scan of lower-cased bytes that tells which later steps
//! have work.

use super::Needs;
use super::steps::{Unit, is_leet, is_spacer};
use super::unicode::passes_through;

/// Step 4a: lower case; whitespace becomes a plain space and other control characters go.
pub(super) fn lower_case(chars: &[char], out: &mut Vec<char>) {
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
pub(super) mod placeholder {
    /// Any character that steps 1-7 leave as it is and never read as part of a word, a spacer or
    /// a space (`£`, `→`, emoji); [`super::put_back`] restores it.
    pub const OTHER: u8 = 0x01;
    /// `€`, which the leet step reads as `e` inside a word.
    pub const EURO: u8 = 0x02;
}

/// [`LOWER_ASCII`] for the units of [`transcode`]: the same, but the placeholders stay.
pub(super) const LOWER_UNITS: [u8; 128] = {
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
pub(super) fn transcode(text: &str, units: &mut Vec<u8>, others: &mut String) -> bool {
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
pub(super) fn put_back(text: &str, others: &str, out: &mut String) {
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
pub(super) const LOWER_ASCII: [u8; 128] = {
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
pub(super) fn lower_case_ascii(text: &[u8], out: &mut Vec<u8>, lower: &[u8; 128]) -> Needs {
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
