//! Labelled text corpora and the one train/test split every part of spamward agrees on.
//!
//! The generator draws message texts from the training side only, and the content classifier trains
//! on it and is measured on the test side, so the split must be fixed forever and must not depend on
//! anything that may change (the content normaliser, the file's line order). It is a hash of a
//! deliberately simple key: the text lower-cased, with every run of characters that are not letters
//! or digits folded to one space. Exact and near-exact duplicates (case, punctuation, spacing) share a
//! key, so they land on one side only and the test side never leaks into training.

use std::fmt;

/// A text and its label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labelled {
    /// 1-based line in the source file.
    pub line: usize,
    /// Spam or not.
    pub spam: bool,
    /// The text, verbatim.
    pub text: String,
}

/// Which side of the split a text is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// About 70% of distinct texts.
    Train,
    /// About 30%.
    Test,
}

/// Per mille of split keys that go to the test side.
const TEST_PER_MILLE: u64 = 300;

/// The split key of a text: lower case, non-alphanumeric runs folded to one space, trimmed.
pub fn split_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if gap && !key.is_empty() {
                key.push(' ');
            }
            gap = false;
            key.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    key
}

/// 64-bit FNV-1a: small, stable across versions and platforms, which is all the split needs.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The side of the split `text` is on.
pub fn split_of(text: &str) -> Split {
    if fnv1a64(split_key(text).as_bytes()) % 1000 < TEST_PER_MILLE {
        Split::Test
    } else {
        Split::Train
    }
}

/// A line of a labelled file that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for CorpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for CorpusError {}

/// Parses the SMS Spam Collection's format: `ham<TAB>text` or `spam<TAB>text`, one per line.
/// Blank lines are skipped; anything else malformed is an error naming the line.
pub fn parse_sms_tsv(data: &str) -> Result<Vec<Labelled>, CorpusError> {
    let mut out = Vec::new();
    for (i, raw) in data.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let (label, text) = raw.split_once('\t').ok_or_else(|| CorpusError {
            line,
            message: "expected `label<TAB>text`".into(),
        })?;
        let spam = match label {
            "spam" => true,
            "ham" => false,
            other => {
                return Err(CorpusError {
                    line,
                    message: format!("label {other:?} is neither `ham` nor `spam`"),
                });
            }
        };
        out.push(Labelled {
            line,
            spam,
            text: text.to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_key_and_its_hash_are_pinned() {
        assert_eq!(
            split_key("  Free ENTRY!! in 2--a wkly  "),
            "free entry in 2 a wkly"
        );
        assert_eq!(split_key("...!"), "");
        // FNV-1a's published vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        // 300 per mille go to the test side: hash % 1000 below 300.
        assert_eq!(fnv1a64(b"text 634") % 1000, 299);
        assert_eq!(split_of("Text 634!"), Split::Test);
        assert_eq!(fnv1a64(b"text 327") % 1000, 300);
        assert_eq!(split_of("text 327"), Split::Train);
    }

    #[test]
    fn a_corpus_error_names_its_line() {
        let e = parse_sms_tsv("ham\thi\nmaybe\tx\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("line 2: "), "{e}");
    }

    #[test]
    fn near_duplicates_share_a_side() {
        let a = "Free entry in 2 a wkly comp!! Text FA to 87121";
        let b = "free entry in 2 a WKLY comp... text FA to 87121 ";
        assert_eq!(split_key(a), split_key(b));
        assert_eq!(split_of(a), split_of(b));
    }

    #[test]
    fn split_is_roughly_seventy_thirty() {
        let n = 10_000;
        let test = (0..n)
            .filter(|i| split_of(&format!("message number {i}")) == Split::Test)
            .count();
        assert!(
            (2_700..3_300).contains(&test),
            "{test} of {n} on the test side"
        );
    }

    #[test]
    fn parses_and_reports_lines() {
        let ok = parse_sms_tsv("ham\thello\n\nspam\tWIN now\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert!(ok[1].spam);
        assert_eq!(ok[1].line, 3);
        let err = parse_sms_tsv("ham\thi\nmaybe\tx\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(parse_sms_tsv("no tab here").is_err());
    }
}
