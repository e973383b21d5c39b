//! The trained text classifier: logistic regression over hashed n-grams of the masked normal form,
//! plus the heuristics' own findings.
//!
//! Rules catch what someone thought of; a classifier catches the wording nobody wrote a rule for.
//! It reads the masked tokens of [`crate::tokens`] (links, mail addresses and digit runs are
//! placeholders, so it learns "has a link", not a link) and hashes three groups of features into
//! one signed table of `2^hash_bits` weights:
//!
//! - character 3-, 4- and 5-grams of the masked text, padded with a space at each end: they survive
//!   what the normaliser could not undo and the spelling of SMS;
//! - word unigrams and bigrams;
//! - the id and the category of each rule that fired.
//!
//! Each group is scaled by `1/sqrt(its size)`, so long and short texts weigh alike. Then a few
//! dense features from the [`Analysis`] (see [`DENSE_FEATURES`]): the obfuscation score, links and
//! their flags (shortener, lookalike, raw IP, blocklisted, IDN), the rule score, phone numbers
//! (any, premium rate, short code, international), the share of digits and the length. The
//! heuristics thus do the memorising, and the model learns how much each is worth.
//!
//! Training ([`Trainer`]) is AdaGrad on the logistic loss with a small L2 penalty, single-threaded,
//! in an order fixed by a seed: the same examples give the same model, byte for byte. The decision
//! threshold is chosen by k-fold cross-validation on the training examples alone (the highest F1
//! at a ham false-positive rate no worse than [`TrainOptions::max_fpr`]) and stored in the model.
//!
//! Scoring a message allocates nothing: the table is held as `i16` with one scale (half a megabyte
//! at the default 18 bits, so it stays in cache) and each group is summed in integers.
//!
//! The model file ([`Model::to_bytes`]) is a header (magic `SWMODEL\0`, format version, payload
//! length, CRC-32 of the payload) and a bincode payload. A file that is not a model, is from a
//! newer format, is cut short or is corrupt is refused with a [`ModelError`] saying which.

use std::fmt;

use crate::Analysis;
use crate::tokens::{Tokens, hash_bytes, mix};

/// The magic label at the start of a model file.
pub const MAGIC: &[u8; 8] = b"SWMODEL\0";
/// The model file format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The feature extraction the weights were trained for. Bumped whenever tokenisation, hashing or
/// the dense features change: a model for another scheme is refused rather than misread.
pub const FEATURE_SCHEME: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 4;
/// Largest payload accepted (a 24-bit table is 32 MiB of `i16` at most).
const MAX_PAYLOAD: usize = 64 << 20;

/// The dense features, in order: names for reports.
pub const DENSE_FEATURES: [&str; 16] = [
    "obfuscation_score",
    "links",
    "shortener_link",
    "lookalike_link",
    "raw_ip_link",
    "blocklisted_link",
    "idn_link",
    "rule_score",
    "phone",
    "premium_rate_phone",
    "short_code",
    "international_phone",
    "digit_share",
    "length",
    "upper_share",
    "exclamations",
];
const DENSE: usize = DENSE_FEATURES.len();

/// Where training starts each dense weight, and what its L2 penalty pulls it back to. The SMS
/// collection predates link-based phishing: lookalike, blocklisted, raw-IP and IDN links (almost)
/// never occur in it, so the data alone would leave their weights at zero and the model would
/// ignore the heuristics built to catch exactly that. These priors say what a link flag is worth
/// before any evidence; where the corpus has evidence (rule score, phones, digits) it moves them.
pub const DENSE_PRIOR: [f64; 16] = [
    1.0, // obfuscation_score
    0.0, // links
    1.5, // shortener_link
    4.0, // lookalike_link
    3.0, // raw_ip_link
    4.0, // blocklisted_link
    2.0, // idn_link
    3.0, // rule_score
    0.0, // phone
    1.0, // premium_rate_phone
    0.0, // short_code
    0.0, // international_phone
    0.0, // digit_share
    0.0, // length
    0.0, // upper_share
    0.0, // exclamations
];

/// A trained classifier: weights, decision threshold, and how it was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    hash_bits: u8,
    /// Hashed weights, quantised; the weight is `table[i] * table_scale`.
    table: Vec<i16>,
    table_scale: f64,
    dense: [f64; DENSE],
    bias: f64,
    threshold: f64,
    info: ModelInfo,
}

/// How a model was trained and how it did in cross-validation on its training examples.
#[derive(Clone, Debug, Default, PartialEq, bincode::Encode, bincode::Decode)]
pub struct ModelInfo {
    /// Training examples.
    pub examples: u32,
    /// Of which spam.
    pub spam: u32,
    /// Passes over the examples.
    pub epochs: u32,
    /// Folds of the cross-validation that chose the threshold.
    pub folds: u32,
    /// Out-of-fold precision at the threshold.
    pub cv_precision: f64,
    /// Out-of-fold recall at the threshold.
    pub cv_recall: f64,
    /// Out-of-fold F1 at the threshold.
    pub cv_f1: f64,
    /// Out-of-fold false-positive rate on ham at the threshold.
    pub cv_fpr: f64,
    /// Non-zero hashed weights.
    pub nonzero_weights: u32,
}

/// The serialised form.
#[derive(bincode::Encode, bincode::Decode)]
struct Payload {
    feature_scheme: u32,
    hash_bits: u8,
    table_scale: f64,
    table: Vec<i16>,
    dense: Vec<f64>,
    bias: f64,
    threshold: f64,
    info: ModelInfo,
}

/// A model file that was refused, or training that could not start.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelError {
    kind: ModelErrorKind,
}

/// Why a model was refused.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ModelErrorKind {
    /// Shorter than the header, or the payload is shorter than the header says.
    Truncated {
        /// Bytes expected.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// Does not start with [`MAGIC`]: not a model file.
    BadMagic,
    /// A format version this crate does not read (a newer writer).
    UnsupportedVersion(u32),
    /// Trained for another feature scheme than [`FEATURE_SCHEME`].
    UnsupportedFeatureScheme(u32),
    /// The payload's CRC-32 does not match the header: the file is corrupt.
    ChecksumMismatch,
    /// The payload does not decode (the decoder's message).
    Decode(String),
    /// The payload decodes but does not make a model (the reason).
    Invalid(String),
    /// Training needs examples of both classes.
    NeedBothClasses,
}

impl ModelError {
    fn new(kind: ModelErrorKind) -> ModelError {
        ModelError { kind }
    }

    /// What was wrong.
    pub fn kind(&self) -> &ModelErrorKind {
        &self.kind
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ModelErrorKind::Truncated { expected, found } => write!(
                f,
                "model file is truncated: expected {expected} bytes, found {found}"
            ),
            ModelErrorKind::BadMagic => write!(f, "not a spamward model file (bad magic)"),
            ModelErrorKind::UnsupportedVersion(v) => write!(
                f,
                "model format version {v} is not supported (this build reads version {FORMAT_VERSION})"
            ),
            ModelErrorKind::UnsupportedFeatureScheme(v) => write!(
                f,
                "model was trained for feature scheme {v}; this build extracts scheme {FEATURE_SCHEME} (retrain it)"
            ),
            ModelErrorKind::ChecksumMismatch => {
                write!(f, "model file is corrupt (checksum mismatch)")
            }
            ModelErrorKind::Decode(m) => write!(f, "model payload does not decode: {m}"),
            ModelErrorKind::Invalid(m) => write!(f, "model is invalid: {m}"),
            ModelErrorKind::NeedBothClasses => {
                write!(f, "training needs at least one spam and one ham example")
            }
        }
    }
}

impl std::error::Error for ModelError {}

impl Model {
    /// The probability that a message is spam, from the message as sent and its analysis.
    /// `scratch` holds the token buffers ([`crate::ContentEngine::analyze_with`] computes this
    /// without tokenising twice).
    pub fn spam_probability(
        &self,
        text: &str,
        analysis: &Analysis,
        scratch: &mut crate::Scratch,
    ) -> f64 {
        scratch.tokens.tokenize(&analysis.normalized.text);
        scratch.tokens.shape(text);
        self.probability_of_tokens(&scratch.tokens, analysis)
    }

    /// The decision threshold chosen in training: a message is spam when its probability is at
    /// least this.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Whether a probability is at or over the threshold.
    pub fn is_spam(&self, probability: f64) -> bool {
        probability >= self.threshold
    }

    /// How the model was trained.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The size of the hashed table, as a power of two.
    pub fn hash_bits(&self) -> u8 {
        self.hash_bits
    }

    pub(crate) fn probability_of_tokens(&self, tokens: &Tokens, analysis: &Analysis) -> f64 {
        self.probability_with(self.text_score(tokens), tokens, analysis)
    }

    /// The table's verdict on a message's masked text alone (character n-grams and words): the
    /// part of the score that copies of one template share (see [`crate::memo`]).
    pub(crate) fn text_score(&self, tokens: &Tokens) -> TextScore {
        let mut sink = ScoreSink::new(self);
        visit_text(tokens, &mut sink);
        TextScore {
            sums: [sink.sums[CHARS], sink.sums[WORDS]],
            counts: [sink.counts[CHARS], sink.counts[WORDS]],
        }
    }

    /// The probability from the masked text's score (computed now or remembered) and the rest of
    /// the message's features; equal to [`Model::probability_of_tokens`].
    pub(crate) fn probability_with(
        &self,
        text: TextScore,
        tokens: &Tokens,
        analysis: &Analysis,
    ) -> f64 {
        let mut sink = ScoreSink::new(self);
        (sink.sums[CHARS], sink.sums[WORDS]) = (text.sums[0], text.sums[1]);
        (sink.counts[CHARS], sink.counts[WORDS]) = (text.counts[0], text.counts[1]);
        visit_rules(analysis, &mut sink);
        let mut z = self.bias;
        for g in 0..3 {
            if sink.counts[g] > 0 {
                z += sink.sums[g] as f64 * self.table_scale * group_scale(g, sink.counts[g]);
            }
        }
        let dense = dense_features(tokens, analysis);
        for (w, x) in self.dense.iter().zip(dense) {
            z += w * x;
        }
        sigmoid(z)
    }

    /// The model file: header and payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload = Payload {
            feature_scheme: FEATURE_SCHEME,
            hash_bits: self.hash_bits,
            table_scale: self.table_scale,
            table: self.table.clone(),
            dense: self.dense.to_vec(),
            bias: self.bias,
            threshold: self.threshold,
            info: self.info.clone(),
        };
        let body =
            bincode::encode_to_vec(&payload, bincode::config::standard()).unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Reads a model file, checking magic, version, length, checksum and contents.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        let err = |k| Err(ModelError::new(k));
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
                err(ModelErrorKind::Truncated {
                    expected: HEADER_LEN as u64,
                    found: bytes.len() as u64,
                })
            } else {
                err(ModelErrorKind::BadMagic)
            };
        }
        if bytes.len() < HEADER_LEN {
            return err(ModelErrorKind::Truncated {
                expected: HEADER_LEN as u64,
                found: bytes.len() as u64,
            });
        }
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or([0; 4]));
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return err(ModelErrorKind::UnsupportedVersion(version));
        }
        let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or([0; 8]));
        let crc = u32_at(20);
        let body = &bytes[HEADER_LEN..];
        if (body.len() as u64) < len {
            return err(ModelErrorKind::Truncated {
                expected: HEADER_LEN as u64 + len,
                found: bytes.len() as u64,
            });
        }
        if (body.len() as u64) > len {
            return err(ModelErrorKind::Invalid(format!(
                "{} bytes after the payload",
                body.len() as u64 - len
            )));
        }
        if crc32fast::hash(body) != crc {
            return err(ModelErrorKind::ChecksumMismatch);
        }
        let config = bincode::config::standard().with_limit::<MAX_PAYLOAD>();
        let (p, used): (Payload, usize) = bincode::decode_from_slice(body, config)
            .map_err(|e| ModelError::new(ModelErrorKind::Decode(e.to_string())))?;
        if used != body.len() {
            return err(ModelErrorKind::Invalid(
                "trailing bytes in the payload".into(),
            ));
        }
        if p.feature_scheme != FEATURE_SCHEME {
            return err(ModelErrorKind::UnsupportedFeatureScheme(p.feature_scheme));
        }
        if !(8..=24).contains(&p.hash_bits) {
            return err(ModelErrorKind::Invalid(format!(
                "hash_bits {} is outside 8..=24",
                p.hash_bits
            )));
        }
        if p.table.len() != 1 << p.hash_bits {
            return err(ModelErrorKind::Invalid(format!(
                "table has {} weights, expected 2^{}",
                p.table.len(),
                p.hash_bits
            )));
        }
        let dense: [f64; DENSE] = p.dense.as_slice().try_into().map_err(|_| {
            ModelError::new(ModelErrorKind::Invalid(format!(
                "{} dense weights, expected {DENSE}",
                p.dense.len()
            )))
        })?;
        let finite = dense
            .iter()
            .chain([&p.bias, &p.table_scale])
            .all(|x| x.is_finite());
        if !finite || !(0.0..=1.0).contains(&p.threshold) || p.table_scale < 0.0 {
            return err(ModelErrorKind::Invalid(
                "a weight, the scale or the threshold is out of range".into(),
            ));
        }
        Ok(Model {
            hash_bits: p.hash_bits,
            table: p.table,
            table_scale: p.table_scale,
            dense,
            bias: p.bias,
            threshold: p.threshold,
            info: p.info,
        })
    }

    /// The shipped model, `data/model.bin`, trained on the training side of the SMS collection.
    pub fn shipped() -> Result<Model, ModelError> {
        Model::from_bytes(SHIPPED)
    }
}

/// Legitimate business texts (login codes, travel, deliveries, bank alerts, reminders, bills,
/// marketing that honours STOP) written for spamward and added to the SMS collection's training
/// side as ham: the collection is mostly personal chat, and a model trained on it alone learns
/// that any businesslike text is spam. None of them is in the held-out `testdata/business_ham.txt`.
///
/// Each counts twice as much as an ordinary example ([`BUSINESS_TRAINING_WEIGHT`]): there are few
/// of them, and they stand for the traffic the filter must never block. For the same reason they
/// guard the threshold, which is placed above the highest out-of-fold score of any of them.
pub fn business_training_examples() -> impl Iterator<Item = TrainingExample<'static>> {
    BUSINESS_TRAINING_TEXTS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|text| TrainingExample {
            text,
            spam: false,
            weight: BUSINESS_TRAINING_WEIGHT,
            sets_threshold: true,
            guard: true,
        })
}

/// The weight of each of [`business_training_examples`].
pub const BUSINESS_TRAINING_WEIGHT: f64 = 2.0;

const BUSINESS_TRAINING_TEXTS: &str = include_str!("../data/business_ham_train.txt");

/// The shipped model file.
const SHIPPED: &[u8] = include_bytes!("../../../data/model.bin");

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The value of each feature of group `g` in a message with `n` of them.
#[inline]
pub(crate) fn group_scale(_g: usize, n: u32) -> f64 {
    1.0 / f64::from(n).sqrt()
}

/// Feature groups, each scaled by `1/sqrt(size)`.
const CHARS: usize = 0;
const WORDS: usize = 1;
const RULES: usize = 2;

/// Receives hashed features: the top `hash_bits` bits of a hash index the table, the bit below
/// them is the sign.
trait Sink {
    fn feature(&mut self, group: usize, hash: u64);
}

struct ScoreSink<'a> {
    table: &'a [i16],
    shift: u32,
    sums: [i64; 3],
    counts: [u32; 3],
}

impl ScoreSink<'_> {
    fn new(model: &Model) -> ScoreSink<'_> {
        ScoreSink {
            table: &model.table,
            shift: 64 - u32::from(model.hash_bits),
            sums: [0; 3],
            counts: [0; 3],
        }
    }
}

/// The sums and counts of a message's character n-gram and word features in a model's table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TextScore {
    sums: [i64; 2],
    counts: [u32; 2],
}

impl Sink for ScoreSink<'_> {
    #[inline(always)]
    fn feature(&mut self, group: usize, hash: u64) {
        let w = i64::from(self.table[(hash >> self.shift) as usize]);
        // Branch-free sign: the bit is random, so a branch would be mispredicted half the time.
        let negative = (hash >> (self.shift - 1) & 1) as i64;
        self.sums[group] += (w ^ -negative) + negative;
        self.counts[group] += 1;
    }
}

const BIGRAM: u64 = 0x6269_6772_616d_0001;
const RULE_ID: u64 = 0x7275_6c65_6964_0002;
const RULE_CATEGORY: u64 = 0x7275_6c65_6361_0003;

/// Hash of a packed character n-gram (`n` bytes in the low bytes of `key`): one multiplication,
/// whose high bits (the only ones used: the index and, just below it, the sign) mix every bit of
/// the key.
#[inline(always)]
fn ngram_hash(key: u64, n: u64) -> u64 {
    (key | n << 56).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Shifts `b` into the window of the last bytes and emits the 3-, 4- and 5-grams ending with it;
/// `len` counts the bytes seen, this one included.
#[inline(always)]
fn char_ngrams(window: &mut u64, len: usize, b: u8, sink: &mut impl Sink) {
    *window = *window << 8 | u64::from(b);
    let w = *window;
    if len >= 5 {
        sink.feature(CHARS, ngram_hash(w & 0xff_ffff, 3));
        sink.feature(CHARS, ngram_hash(w & 0xffff_ffff, 4));
        sink.feature(CHARS, ngram_hash(w & 0xff_ffff_ffff, 5));
    } else {
        if len >= 3 {
            sink.feature(CHARS, ngram_hash(w & 0xff_ffff, 3));
        }
        if len >= 4 {
            sink.feature(CHARS, ngram_hash(w & 0xffff_ffff, 4));
        }
    }
}

/// Emits every hashed feature of a message.
#[inline(always)]
fn visit(tokens: &Tokens, analysis: &Analysis, sink: &mut impl Sink) {
    visit_text(tokens, sink);
    visit_rules(analysis, sink);
}

/// Emits the features of the masked text: character n-grams and words.
#[inline(always)]
fn visit_text(tokens: &Tokens, sink: &mut impl Sink) {
    // Character 3-5-grams over " masked ".
    let text = tokens.masked.as_bytes();
    let mut window = u64::from(b' ');
    for (i, &b) in text.iter().enumerate() {
        char_ngrams(&mut window, i + 2, b, sink);
    }
    char_ngrams(&mut window, text.len() + 2, b' ', sink);
    // Word unigrams and bigrams.
    let mut prev = 0u64;
    for (i, &w) in tokens.words().iter().enumerate() {
        sink.feature(WORDS, w);
        if i > 0 {
            sink.feature(WORDS, mix(prev.rotate_left(17) ^ w ^ BIGRAM));
        }
        prev = w;
    }
}

/// Emits the features of the rules that fired.
#[inline(always)]
fn visit_rules(analysis: &Analysis, sink: &mut impl Sink) {
    for hit in &analysis.rule_hits {
        sink.feature(RULES, hash_bytes(hit.id.as_bytes()) ^ RULE_ID);
        sink.feature(
            RULES,
            mix(hash_bytes(hit.category.as_str().as_bytes()) ^ RULE_CATEGORY),
        );
    }
}

/// The dense features of [`DENSE_FEATURES`].
fn dense_features(tokens: &Tokens, a: &Analysis) -> [f64; DENSE] {
    let any = |f: fn(&crate::Link) -> bool| f64::from(u8::from(a.links.iter().any(f)));
    let phone = |f: fn(&crate::Phone) -> bool| f64::from(u8::from(a.phones.iter().any(f)));
    use crate::PhoneKind;
    [
        a.normalized.obfuscation.score,
        (a.links.len().min(3) as f64) / 3.0,
        any(|l| l.shortener),
        any(|l| l.lookalike.is_some()),
        any(|l| l.raw_ip),
        any(|l| l.blocklisted),
        any(|l| l.punycode_or_idn),
        a.rule_score(),
        f64::from(u8::from(!a.phones.is_empty())),
        phone(|p| p.premium_rate),
        phone(|p| p.kind == PhoneKind::ShortCode),
        phone(|p| p.kind == PhoneKind::International),
        if tokens.chars == 0 {
            0.0
        } else {
            f64::from(tokens.digits) / f64::from(tokens.chars)
        },
        f64::from(tokens.chars.min(200)) / 200.0,
        if tokens.letters == 0 {
            0.0
        } else {
            f64::from(tokens.upper) / f64::from(tokens.letters)
        },
        f64::from(tokens.bangs.min(3)) / 3.0,
    ]
}

mod train;

pub use train::{TrainOptions, TrainReport, Trainer, TrainingExample};
