//! Ways to disguise a message, shared by the content crate's tests and the top-level ones (which
//! include this file by path), so both test the same obfuscations.

/// A way to disguise a message.
pub type Obfuscator = fn(&str) -> String;

/// Zero-width spaces after every third letter.
pub fn zero_width(s: &str) -> String {
    let mut out = String::new();
    let mut letters = 0;
    for c in s.chars() {
        out.push(c);
        if c.is_alphabetic() {
            letters += 1;
            if letters % 3 == 0 {
                out.push('\u{200b}');
            }
        }
    }
    out
}

/// Cyrillic lookalikes for a, e, o, p, c, x, y inside words that have other Latin letters.
pub fn homoglyphs(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a' => '\u{430}',
            'e' => '\u{435}',
            'o' => '\u{43e}',
            'p' => '\u{440}',
            'c' => '\u{441}',
            'x' => '\u{445}',
            'y' => '\u{443}',
            _ => c,
        })
        .collect()
}
