//! Rule packs: named, weighted patterns matched against the normal form of a message.
//!
//! A pack is a TOML file of `[[rule]]` tables:
//!
//! ```toml
//! [[rule]]
//! id = "lottery.you_have_won"          # stable: renaming a rule cuts it from its history
//! description = "Tells the reader they have won something."
//! category = "lottery"
//! keywords = ["you have won", "you've won", "u have won"]   # or: regex = '...'
//! weight = 0.7                          # 0..=1; 0 = shadow rule, reported but weightless
//! ```
//!
//! Exactly one of `regex` (matched against the normalised text, case-insensitively) or `keywords`
//! (whole words or phrases, normalised like the text, so `Claim  your` in a pack matches
//! `CLAIM your` in a message) is given. All regexes of a [`RuleSet`] are compiled into one
//! regex set (a [`regex_automata::meta::Regex`]) and all keywords into one Aho-Corasick automaton,
//! so a message is read once by each however many rules there are; [`RuleSet::scan`] reports every
//! rule that fired, in rule order.
//!
//! A bounded gap (`\b(parcel|package)\b.{0,60}\bfee\b`) makes the set's automaton count: after
//! `parcel` it must remember how far back it was, for every gapped rule at once, and the lazy DFA
//! kept building new states for new messages (a third of the rule scan's time on a replay). In the
//! set such a regex is replaced by its gate, the same regex with each gap `.{m,n}` widened to `.*`:
//! whatever the regex matches, the gate matches too, and the gate needs no counting. Only when
//! a gate fires is the exact regex run, alone, on that message.
//!
//! A `.*` still makes the set remember, for the rest of the text, that its left side was seen, and
//! every combination of such memories is another state of the lazy DFA, built the first time a
//! text needs it: over the 2-day default world's texts the rule scan's p99 was 7.5–7.8 µs on a
//! first pass and 2.2 µs on a second. So a regex whose gaps are at its top level (`A.{0,60}B`, or
//! `A.{0,9}B|C.{0,40}D`) enters the set as its pieces instead (`A` and `B`; `C` and `D`), each
//! matched anywhere: its gate fires when every piece of one branch matched, in any order, which the
//! regex cannot do without. Only then is the exact regex run. The first pass's p99 fell to
//! 4.4–5.1 µs (the shipped packs: 32 regexes split, 137 patterns in the set instead of 92).
//!
//! Loading is all or nothing, and never touches a rule set in use: [`RuleSetBuilder::pack`] refuses
//! a bad pack whole (a TOML error, an unknown key, a rule with both or neither of `regex` and
//! `keywords`, a duplicate id, a weight outside 0..=1, a regex that does not compile or compiles
//! past the size limit, too many rules) with an error naming the pack, the rule and the cause, and
//! [`RuleSetBuilder::build`] returns a new [`RuleSet`]. A caller reloading its packs builds a new
//! set and swaps it in only on success; on error it keeps running on the set it had.

mod builder;
mod gaps;
mod set;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

pub use builder::RuleSetBuilder;
pub use set::RuleSet;

/// The shipped packs (`data/rules/*.toml`), embedded.
pub const DEFAULT_PACKS: &[(&str, &str)] = &[
    (
        "phishing.toml",
        include_str!("../../../../data/rules/phishing.toml"),
    ),
    (
        "delivery.toml",
        include_str!("../../../../data/rules/delivery.toml"),
    ),
    (
        "lottery.toml",
        include_str!("../../../../data/rules/lottery.toml"),
    ),
    (
        "premium.toml",
        include_str!("../../../../data/rules/premium.toml"),
    ),
    (
        "scams.toml",
        include_str!("../../../../data/rules/scams.toml"),
    ),
    (
        "crypto.toml",
        include_str!("../../../../data/rules/crypto.toml"),
    ),
    (
        "loan.toml",
        include_str!("../../../../data/rules/loan.toml"),
    ),
    (
        "adult.toml",
        include_str!("../../../../data/rules/adult.toml"),
    ),
    (
        "urgency.toml",
        include_str!("../../../../data/rules/urgency.toml"),
    ),
];

/// Default cap on the number of rules in a set.
pub const DEFAULT_MAX_RULES: usize = 10_000;
/// Default cap on one rule's compiled regex, in bytes.
pub const DEFAULT_REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Default cap on the compiled set of all regexes, in bytes.
pub const DEFAULT_SET_SIZE_LIMIT: usize = 64 << 20;
/// Cap on the lazy DFA cache of the regex set, per thread, in bytes. The shipped packs' bounded
/// gaps (`.{0,60}`) gave the set's DFA many states; at 8 MiB real message streams kept clearing
/// the cache and a third of replay went to rebuilding states. At 64 MiB replay of a generated
/// world ran 1.5x faster on one thread (6.4 s to 4.3 s); 256 MiB gained nothing more. (Gaps are
/// now gated, see the module docs, which also keeps the set's DFA smaller.)
const DFA_CACHE_LIMIT: usize = 64 << 20;
/// Cap on the keywords of one rule.
pub const MAX_KEYWORDS_PER_RULE: usize = 5_000;

/// What a rule is about. Closed, so a typo in a pack is an error rather than a new category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// Links or lures to a fake login or payment page.
    Phishing,
    /// Asks for passwords, codes, card or account details.
    Credential,
    /// Impersonates a person or an organisation (the "hi mum" scam, a bank's fraud team).
    Impersonation,
    /// Advance fees, gift-card payments, fake refunds and other money scams.
    FinancialScam,
    /// Prizes, draws and lotteries the reader never entered.
    Lottery,
    /// Premium-rate numbers and subscriptions.
    PremiumRate,
    /// Parcel fees, redelivery and address lures.
    DeliveryScam,
    /// Crypto doubling, fake exchanges and wallets.
    Crypto,
    /// Loans and debt offers.
    Loan,
    /// Jobs that pay too well for too little.
    JobScam,
    /// Casino and betting offers.
    Gambling,
    /// Pills and miracle cures.
    Pharma,
    /// Sexual content and dating lures.
    Adult,
    /// Pressure to act at once.
    Urgency,
    /// Anything else.
    Other,
}

impl Category {
    /// The category's name as written in packs (`financial_scam`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Phishing => "phishing",
            Category::Credential => "credential",
            Category::Impersonation => "impersonation",
            Category::FinancialScam => "financial_scam",
            Category::Lottery => "lottery",
            Category::PremiumRate => "premium_rate",
            Category::DeliveryScam => "delivery_scam",
            Category::Crypto => "crypto",
            Category::Loan => "loan",
            Category::JobScam => "job_scam",
            Category::Gambling => "gambling",
            Category::Pharma => "pharma",
            Category::Adult => "adult",
            Category::Urgency => "urgency",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Matcher {
    /// A regex over the normalised text (case-insensitive).
    Regex(String),
    /// Whole words or phrases, as normalised.
    Keywords(Vec<String>),
}

/// One loaded rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Its stable id (`lottery.you_have_won`).
    pub id: Arc<str>,
    /// What it catches, for people.
    pub description: String,
    /// What it is about.
    pub category: Category,
    /// Its weight in the content score, 0..=1.
    pub weight: f64,
    /// How it matches.
    pub matcher: Matcher,
    /// The pack it came from.
    pub pack: Arc<str>,
}

/// A rule that fired on a message.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleHit {
    /// The rule's id.
    pub id: Arc<str>,
    /// The rule's category.
    pub category: Category,
    /// The rule's weight.
    pub weight: f64,
    /// The rule's position in its set (stable for the life of the set; for per-rule counters).
    pub index: usize,
}

/// A pack or rule that was refused.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleError {
    pack: String,
    rule: Option<String>,
    kind: RuleErrorKind,
}

/// Why a pack or rule was refused.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum RuleErrorKind {
    /// The pack is not valid TOML (the parser's message, with line and column).
    Toml(String),
    /// A top-level key other than `rule`.
    UnknownTopLevelKey(String),
    /// A rule table that does not fit the schema: unknown or missing key, wrong type, unknown
    /// category (the deserializer's message).
    Schema(String),
    /// The id is empty, too long, or not `[a-z0-9][a-z0-9_.-]*`.
    BadId,
    /// Another rule, in this pack or the named one, has the same id.
    DuplicateId {
        /// The pack of the first rule with the id.
        first_pack: String,
    },
    /// Neither `regex` nor `keywords`.
    NoMatcher,
    /// Both `regex` and `keywords`.
    BothMatchers,
    /// `weight` is not a number in 0..=1.
    WeightOutOfRange(f64),
    /// `keywords` is empty or over [`MAX_KEYWORDS_PER_RULE`].
    KeywordCount(usize),
    /// A keyword that is empty once normalised.
    EmptyKeyword(String),
    /// The regex does not compile (the regex crate's message).
    BadRegex(String),
    /// The regex compiles past the size limit.
    RegexTooBig {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The set would have more rules than allowed.
    TooManyRules {
        /// The limit.
        limit: usize,
    },
    /// All regexes together compile past the set's size limit.
    SetTooBig(String),
}

impl RuleError {
    fn new(pack: &str, rule: Option<&str>, kind: RuleErrorKind) -> RuleError {
        RuleError {
            pack: pack.to_string(),
            rule: rule.map(str::to_string),
            kind,
        }
    }

    /// The pack's name, as given to [`RuleSetBuilder::pack`] (usually its file name).
    pub fn pack(&self) -> &str {
        &self.pack
    }

    /// The rule's id (or `#N`, its 1-based position, if it has no readable id), when the error is
    /// about one rule.
    pub fn rule(&self) -> Option<&str> {
        self.rule.as_deref()
    }

    /// What was wrong.
    pub fn kind(&self) -> &RuleErrorKind {
        &self.kind
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.pack)?;
        if let Some(rule) = &self.rule {
            write!(f, "rule `{rule}`: ")?;
        }
        match &self.kind {
            RuleErrorKind::Toml(m) => write!(f, "not valid TOML: {m}"),
            RuleErrorKind::UnknownTopLevelKey(k) => {
                write!(f, "unknown top-level key `{k}` (expected `rule`)")
            }
            RuleErrorKind::Schema(m) => write!(f, "{m}"),
            RuleErrorKind::BadId => write!(
                f,
                "an id must be 1-64 characters of a-z, 0-9, `_`, `.`, `-`"
            ),
            RuleErrorKind::DuplicateId { first_pack } => {
                write!(f, "duplicate id (first defined in {first_pack})")
            }
            RuleErrorKind::NoMatcher => write!(f, "needs one of `regex` or `keywords`"),
            RuleErrorKind::BothMatchers => {
                write!(f, "has both `regex` and `keywords`; give exactly one")
            }
            RuleErrorKind::WeightOutOfRange(w) => {
                write!(f, "weight must be between 0 and 1, got {w}")
            }
            RuleErrorKind::KeywordCount(n) => {
                write!(
                    f,
                    "`keywords` must have 1 to {MAX_KEYWORDS_PER_RULE} entries, got {n}"
                )
            }
            RuleErrorKind::EmptyKeyword(k) => write!(f, "keyword {k:?} is empty once normalised"),
            RuleErrorKind::BadRegex(m) => write!(f, "bad regex: {m}"),
            RuleErrorKind::RegexTooBig { limit } => {
                write!(f, "regex compiles to more than {limit} bytes")
            }
            RuleErrorKind::TooManyRules { limit } => write!(f, "more than {limit} rules"),
            RuleErrorKind::SetTooBig(m) => write!(f, "the regexes together are too big: {m}"),
        }
    }
}

impl std::error::Error for RuleError {}
