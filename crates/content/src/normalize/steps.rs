//! Steps 4b-7, on characters or bytes alike: spelled-out letters, leet, repeated letters and
//! white space. "The module docs" below are those of [`crate::normalize`].

use super::lower::placeholder;
use super::{Needs, Obfuscation};

/// Steps 4b-7 on lower-cased `units`, into `out`, those that `needs` says could change them (and
/// squeezing after a step that changed something); `tmp` is scratch.
pub(super) fn steps_4b_to_7<U: Unit>(
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

/// A unit of text for steps 4b-7: a character, or a byte of ASCII text or of
/// [`transcode`](super::lower::transcode)'s units. For ASCII the two agree on every question asked
/// here (`char::is_alphanumeric` of an ASCII character is `u8::is_ascii_alphanumeric` of its byte),
/// and a placeholder answers as the characters it stands for, so one implementation serves both.
pub(super) trait Unit: Copy + Eq {
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

pub(super) fn is_spacer(c: char) -> bool {
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

pub(super) const fn is_leet(c: char) -> bool {
    matches!(c, '0' | '1' | '3' | '4' | '5' | '7' | '@' | '$' | '€')
}

pub(super) fn is_leet_symbol(c: char) -> bool {
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
