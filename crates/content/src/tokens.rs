//! Masked tokens: the one tokenisation the classifier and the fingerprint share.
//!
//! Both read the normal form ([`crate::Normalized::text`]), but neither should learn a particular
//! link, phone number or code: the classifier should learn "has a link", and two messages that
//! differ only by a one-time code should fingerprint alike. [`Tokens::tokenize`] therefore writes a
//! *masked* copy of the normal form, where each placeholder is an upper-case letter, which the
//! (lower-case) normal form cannot contain:
//!
//! | written                          | masked   |
//! |----------------------------------|----------|
//! | `https://x.y/z`, `bit.ly/a`, `www.x.y`, `shop.example.com` | `U` |
//! | `name@example.com`               | `M`      |
//! | a run of 1–2 digits              | `N`      |
//! | 3–4 digits                       | `NN`     |
//! | 5–6 digits (codes, short codes)  | `NNN`    |
//! | 7 or more digits (phone numbers) | `NNNN`   |
//!
//! Then [`Tokens::hash_words`] hashes the words of the masked text: maximal runs of ASCII
//! letters and digits and of non-ASCII characters (so `£NN` is one word, and so is a word in any
//! script). Links are detected here on the normal form with a cheap test rather than taken from
//! [`crate::Link::span`], because spans point into the original text and normalising moves
//! everything.

use crate::links::COMMON_TLDS;

/// The masked normal form of one message and the hashes of its words, in order. Reused from one
/// message to the next.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tokens {
    /// The masked text: single spaces between chunks, no leading or trailing space.
    pub masked: String,
    /// A hash of each word of `masked`, in order, once [`Tokens::hash_words`] ran: read it
    /// through [`Tokens::words`].
    words: Vec<u64>,
    /// Whether `words` are those of `masked`.
    words_hashed: bool,
    /// Digits in the normal form.
    pub digits: u32,
    /// Characters in the normal form.
    pub chars: u32,
    /// Upper-case letters in the original text (see [`Tokens::shape`]).
    pub upper: u32,
    /// Letters in the original text.
    pub letters: u32,
    /// Exclamation marks in the original text.
    pub bangs: u32,
}

impl Tokens {
    /// Measures the original text's shape: capitals and exclamation marks, which the normal form
    /// (lower case) no longer shows.
    pub fn shape(&mut self, original: &str) {
        self.upper = 0;
        self.letters = 0;
        self.bangs = 0;
        let (mut letters, mut upper, mut bangs) = (0u32, 0u32, 0u32);
        for &b in original.as_bytes() {
            letters += u32::from(b.is_ascii_alphabetic());
            upper += u32::from(b.is_ascii_uppercase());
            bangs += u32::from(b == b'!');
        }
        (self.letters, self.upper, self.bangs) = (letters, upper, bangs);
        if !original.is_ascii() {
            for c in original.chars().filter(|c| !c.is_ascii()) {
                if c.is_alphabetic() {
                    self.letters += 1;
                    self.upper += u32::from(c.is_uppercase());
                }
            }
        }
    }

    /// Tokenises a normal form (lower case, whitespace collapsed): [`Tokens::mask`], then
    /// [`Tokens::hash_words`].
    pub fn tokenize(&mut self, normal: &str) {
        self.mask(normal);
        self.hash_words();
    }

    /// The masked text and the counts of a normal form, without the word hashes: only what reads
    /// the words (the fingerprint, the classifier's text score) needs them, and for most messages
    /// those come from the memo of masked texts ([`crate::memo`]).
    pub fn mask(&mut self, normal: &str) {
        self.masked.clear();
        self.words.clear();
        self.words_hashed = false;
        self.digits = 0;
        self.chars = 0;
        // One pass over the bytes: a chunk (the text between spaces) is handed over with what
        // it holds, seen on the way.
        let bytes = normal.as_bytes();
        let (mut start, mut holds) = (0, 0u8);
        for (i, &b) in bytes.iter().enumerate() {
            if b == b' ' {
                if i > start {
                    self.push_chunk(&normal[start..i], holds);
                }
                (start, holds) = (i + 1, 0);
            } else {
                holds |= HOLDS[usize::from(b)];
            }
        }
        if bytes.len() > start {
            self.push_chunk(&normal[start..], holds);
        }
        self.chars = self.chars.saturating_sub(1);
    }

    /// Masks one chunk onto `masked` and counts it; `holds` is what [`HOLDS`] says of its bytes.
    fn push_chunk(&mut self, chunk: &str, holds: u8) {
        if !self.masked.is_empty() {
            self.masked.push(' ');
        }
        self.chars += 1 + if holds & holds::NON_ASCII == 0 {
            chunk.len() as u32
        } else {
            chunk.chars().count() as u32
        };
        let (dot, at) = (holds & holds::DOT != 0, holds & holds::AT != 0);
        if dot || at {
            let (lead, core, trail) = trim_punctuation(chunk);
            let placeholder = if core.is_empty() {
                None
            } else if at && is_email(core) {
                Some('M')
            } else if dot && is_url(core) {
                Some('U')
            } else {
                None
            };
            if let Some(p) = placeholder {
                self.masked.push_str(lead);
                self.masked.push(p);
                self.masked.push_str(trail);
                self.digits += count_digits(core);
                return;
            }
        }
        if holds & holds::DIGIT != 0 {
            self.push_masking_digits(chunk);
        } else {
            self.masked.push_str(chunk);
        }
    }

    /// Hashes the words of the masked text into `words`, once per [`Tokens::mask`].
    pub fn hash_words(&mut self) {
        if !self.words_hashed {
            hash_words(self.masked.as_bytes(), &mut self.words);
            self.words_hashed = true;
        }
    }

    /// The word hashes; [`Tokens::hash_words`] must have run since the last [`Tokens::mask`].
    pub fn words(&self) -> &[u64] {
        debug_assert!(self.words_hashed, "the words were not hashed");
        &self.words
    }

    /// Copies `chunk`, replacing each digit run by its length class.
    fn push_masking_digits(&mut self, chunk: &str) {
        let mut run = 0u32;
        for c in chunk.chars() {
            if c.is_ascii_digit() {
                run += 1;
                continue;
            }
            if run > 0 {
                self.push_digit_class(run);
                run = 0;
            }
            self.masked.push(c);
        }
        if run > 0 {
            self.push_digit_class(run);
        }
    }

    fn push_digit_class(&mut self, run: u32) {
        self.digits += run;
        self.masked.push_str(match run {
            1..=2 => "N",
            3..=4 => "NN",
            5..=6 => "NNN",
            _ => "NNNN",
        });
    }
}

/// What a byte tells [`Tokens::mask`] about the chunk it is in.
mod holds {
    pub const DOT: u8 = 1;
    pub const AT: u8 = 2;
    pub const DIGIT: u8 = 4;
    pub const NON_ASCII: u8 = 8;
}

/// [`holds`] of each byte.
const HOLDS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'.' => holds::DOT,
            b'@' => holds::AT,
            b'0'..=b'9' => holds::DIGIT,
            0x80..=0xFF => holds::NON_ASCII,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// Whether a byte belongs to a word: ASCII letters and digits, and any byte of a non-ASCII
/// character.
#[inline]
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Pushes a hash of each word of `text`.
fn hash_words(text: &[u8], out: &mut Vec<u64>) {
    let mut i = 0;
    while i < text.len() {
        if !is_word_byte(text[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && is_word_byte(text[i]) {
            i += 1;
        }
        out.push(hash_bytes(&text[start..i]));
    }
}

/// A word's hash: eight bytes at a time (a word is usually one step), then a final mix so that the
/// high bits (which index the weight table) depend on every byte.
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        h = (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut v = 0u64;
        for (i, &b) in rest.iter().enumerate() {
            v |= u64::from(b) << (8 * i);
        }
        h = (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    mix(h)
}

/// A strong 64-bit finaliser (the one of MurmurHash3).
#[inline]
pub(crate) fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn count_digits(s: &str) -> u32 {
    s.bytes().filter(u8::is_ascii_digit).count() as u32
}

/// Splits leading and trailing punctuation off a chunk.
fn trim_punctuation(chunk: &str) -> (&str, &str, &str) {
    let lead_end = chunk
        .find(|c: char| !matches!(c, '(' | '<' | '"' | '\'' | '[' | '*'))
        .unwrap_or(chunk.len());
    let rest = &chunk[lead_end..];
    let core_len = rest
        .trim_end_matches(|c: char| {
            matches!(
                c,
                '.' | ',' | '!' | '?' | ';' | ':' | ')' | '>' | '"' | '\'' | ']' | '*'
            )
        })
        .len();
    (&chunk[..lead_end], &rest[..core_len], &rest[core_len..])
}

/// `local@domain.tld`.
fn is_email(core: &str) -> bool {
    let Some((local, domain)) = core.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain
            .rsplit_once('.')
            .is_some_and(|(name, tld)| !name.is_empty() && tld.len() >= 2)
}

/// Whether a chunk (punctuation trimmed) looks like a link. Deliberately generous with a scheme or
/// `www.`, and careful without one, so that `ok.then` and `e.g` stay words.
fn is_url(core: &str) -> bool {
    if core.len() < 4 || !core.as_bytes().contains(&b'.') {
        return false;
    }
    for prefix in ["http://", "https://", "hxxp://", "hxxps://", "www."] {
        if core.starts_with(prefix) && core.len() > prefix.len() + 2 {
            return true;
        }
    }
    let (host, has_path) = match core.find(['/', '?', ':']) {
        Some(i) => (&core[..i], true),
        None => (core, false),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        || host.starts_with('.')
        || host.ends_with('.')
        || host.contains("..")
    {
        return false;
    }
    let Some((name, tld)) = host.rsplit_once('.') else {
        return false;
    };
    if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    if COMMON_TLDS.contains(&tld) {
        return name.len() >= 2;
    }
    let labels = host.split('.').count();
    let first = host.split('.').next().unwrap_or("");
    let odd_name = first.bytes().any(|b| b.is_ascii_digit() || b == b'-');
    tld.len() <= 6 && (has_path || labels >= 3 || (tld.len() == 2 && odd_name && first.len() >= 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(s: &str) -> String {
        let mut t = Tokens::default();
        t.tokenize(s);
        t.masked
    }

    #[test]
    fn masks_links_mail_and_digits() {
        assert_eq!(
            masked("verify at paypal-secure.com/login now!"),
            "verify at U now!"
        );
        assert_eq!(masked("see https://x.example.co.uk/a?b=1."), "see U.");
        assert_eq!(
            masked("go to bit.ly/3xk9, or www.shop.com"),
            "go to U, or U"
        );
        assert_eq!(masked("mail (help@shop.example.com)"), "mail (M)");
        assert_eq!(
            masked("code 482913 call 08712460324 win £1000 at 14:35"),
            "code NNN call NNNN win £NN at N:N"
        );
        assert_eq!(masked("flight ba117 to jfk"), "flight baNN to jfk");
    }

    #[test]
    fn words_are_not_links() {
        assert_eq!(masked("ok.then e.g. end.of it"), "ok.then e.g. end.of it");
        assert_eq!(masked("shop.example.com"), "U");
        assert_eq!(masked("example.co.uk"), "U");
    }

    #[test]
    fn words_are_hashed_in_order() {
        let mut t = Tokens::default();
        t.tokenize("win £1000 now, win!");
        assert_eq!(t.words.len(), 4);
        assert_eq!(t.words[0], t.words[3]);
        assert_eq!(t.words[1], hash_bytes("£NN".as_bytes()));
        assert_eq!(t.digits, 4);
    }
}
