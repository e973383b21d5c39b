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

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder};
use regex_automata::util::syntax;
use regex_automata::{Input, PatternID, PatternSet, meta, nfa::thompson::WhichCaptures};
use serde::Deserialize;

use crate::normalize::{Normalized, Normalizer};

/// The shipped packs (`data/rules/*.toml`), embedded.
pub const DEFAULT_PACKS: &[(&str, &str)] = &[
    (
        "phishing.toml",
        include_str!("../../../data/rules/phishing.toml"),
    ),
    (
        "delivery.toml",
        include_str!("../../../data/rules/delivery.toml"),
    ),
    (
        "lottery.toml",
        include_str!("../../../data/rules/lottery.toml"),
    ),
    (
        "premium.toml",
        include_str!("../../../data/rules/premium.toml"),
    ),
    ("scams.toml", include_str!("../../../data/rules/scams.toml")),
    (
        "crypto.toml",
        include_str!("../../../data/rules/crypto.toml"),
    ),
    ("loan.toml", include_str!("../../../data/rules/loan.toml")),
    ("adult.toml", include_str!("../../../data/rules/adult.toml")),
    (
        "urgency.toml",
        include_str!("../../../data/rules/urgency.toml"),
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

/// One `[[rule]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    /// Stable id.
    id: String,
    /// For people.
    description: String,
    /// What it is about.
    category: Category,
    /// A regex over the normalised text.
    #[serde(default)]
    regex: Option<String>,
    /// Words or phrases.
    #[serde(default)]
    keywords: Option<Vec<String>>,
    /// 0..=1.
    weight: f64,
}

/// Builds a [`RuleSet`] from packs. Set limits before adding packs: each pack is checked against
/// the limits in force when it is added.
#[derive(Clone, Debug)]
pub struct RuleSetBuilder {
    rules: Vec<Rule>,
    /// Each rule's regex as compiled when its pack was checked, where it confirms a gate in the
    /// set (`None` for the others and for keyword rules).
    compiled: Vec<Option<Regex>>,
    ids: HashMap<Arc<str>, Arc<str>>,
    max_rules: usize,
    regex_size_limit: usize,
    set_size_limit: usize,
    normalizer: Normalizer,
}

impl Default for RuleSetBuilder {
    fn default() -> RuleSetBuilder {
        RuleSetBuilder {
            rules: Vec::new(),
            compiled: Vec::new(),
            ids: HashMap::new(),
            max_rules: DEFAULT_MAX_RULES,
            regex_size_limit: DEFAULT_REGEX_SIZE_LIMIT,
            set_size_limit: DEFAULT_SET_SIZE_LIMIT,
            normalizer: Normalizer::new(),
        }
    }
}

impl RuleSetBuilder {
    /// A builder with no packs and the default limits.
    pub fn new() -> RuleSetBuilder {
        RuleSetBuilder::default()
    }

    /// The most rules the set may hold (default [`DEFAULT_MAX_RULES`]).
    pub fn max_rules(&mut self, n: usize) -> &mut RuleSetBuilder {
        self.max_rules = n;
        self
    }

    /// The most bytes one rule's regex may compile to (default [`DEFAULT_REGEX_SIZE_LIMIT`]).
    pub fn regex_size_limit(&mut self, bytes: usize) -> &mut RuleSetBuilder {
        self.regex_size_limit = bytes;
        self
    }

    /// The most bytes all regexes together may compile to (default [`DEFAULT_SET_SIZE_LIMIT`]).
    pub fn set_size_limit(&mut self, bytes: usize) -> &mut RuleSetBuilder {
        self.set_size_limit = bytes;
        self
    }

    /// Adds the shipped packs.
    pub fn default_packs(&mut self) -> &mut RuleSetBuilder {
        for (name, text) in DEFAULT_PACKS {
            self.pack(name, text).expect("the shipped packs load");
        }
        self
    }

    /// Adds a pack: `name` (its file name) is used in errors, `toml` is its text. A bad pack is
    /// refused whole and leaves the builder as it was.
    pub fn pack(&mut self, name: &str, toml: &str) -> Result<&mut RuleSetBuilder, RuleError> {
        let pack: Arc<str> = name.into();
        let table: toml::Table = toml::from_str(toml).map_err(|e| {
            RuleError::new(
                name,
                None,
                RuleErrorKind::Toml(e.to_string().trim_end().to_string()),
            )
        })?;
        let mut defs = Vec::new();
        for (key, value) in table {
            if key != "rule" {
                return Err(RuleError::new(
                    name,
                    None,
                    RuleErrorKind::UnknownTopLevelKey(key),
                ));
            }
            let toml::Value::Array(items) = value else {
                let kind =
                    RuleErrorKind::Schema("`rule` must be an array of tables (`[[rule]]`)".into());
                return Err(RuleError::new(name, None, kind));
            };
            for (i, item) in items.into_iter().enumerate() {
                let label = item
                    .get("id")
                    .and_then(|v| v.as_str())
                    .map_or_else(|| format!("#{}", i + 1), str::to_string);
                let def: RuleDef = item.try_into().map_err(|e: toml::de::Error| {
                    RuleError::new(
                        name,
                        Some(&label),
                        RuleErrorKind::Schema(e.message().to_string()),
                    )
                })?;
                defs.push(def);
            }
        }
        if self.rules.len() + defs.len() > self.max_rules {
            return Err(RuleError::new(
                name,
                None,
                RuleErrorKind::TooManyRules {
                    limit: self.max_rules,
                },
            ));
        }
        let regexes = compile_all(&defs, self.regex_size_limit);
        let mut new_ids: HashMap<Arc<str>, Arc<str>> = HashMap::new();
        let mut rules = Vec::with_capacity(defs.len());
        let mut compiled = Vec::with_capacity(defs.len());
        for (def, regex) in defs.into_iter().zip(regexes) {
            let (rule, regex) = self.check(&pack, def, regex, &new_ids)?;
            new_ids.insert(rule.id.clone(), pack.clone());
            rules.push(rule);
            compiled.push(regex);
        }
        self.ids.extend(new_ids);
        self.rules.extend(rules);
        self.compiled.extend(compiled);
        Ok(self)
    }

    /// Validates one rule definition, given its regex as [`compile_all`] compiled it; returns the
    /// rule and that regex.
    fn check(
        &mut self,
        pack: &Arc<str>,
        def: RuleDef,
        regex: Option<Result<Regex, RuleErrorKind>>,
        new_ids: &HashMap<Arc<str>, Arc<str>>,
    ) -> Result<(Rule, Option<Regex>), RuleError> {
        let id = def.id.as_str();
        let err = |kind| RuleError::new(pack, Some(id), kind);
        let id_ok = !id.is_empty()
            && id.len() <= 64
            && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        if !id_ok {
            return Err(err(RuleErrorKind::BadId));
        }
        if let Some(first) = self.ids.get(id).or_else(|| new_ids.get(id)) {
            return Err(err(RuleErrorKind::DuplicateId {
                first_pack: first.to_string(),
            }));
        }
        if !(0.0..=1.0).contains(&def.weight) {
            return Err(err(RuleErrorKind::WeightOutOfRange(def.weight)));
        }
        let mut compiled = None;
        let matcher = match (def.regex, def.keywords) {
            (None, None) => return Err(err(RuleErrorKind::NoMatcher)),
            (Some(_), Some(_)) => return Err(err(RuleErrorKind::BothMatchers)),
            (Some(re), None) => {
                let regex = regex.expect("every regex is compiled before its rule is checked");
                let regex = regex.map_err(err)?;
                // Kept only where the set will need it (a pack may hold thousands of regexes).
                compiled = confirms_a_gate(&re).then_some(regex);
                Matcher::Regex(re)
            }
            (None, Some(words)) => {
                if words.is_empty() || words.len() > MAX_KEYWORDS_PER_RULE {
                    return Err(err(RuleErrorKind::KeywordCount(words.len())));
                }
                let mut normal = Vec::with_capacity(words.len());
                for w in words {
                    let n = self.normalizer.normalize(&w).text;
                    if n.is_empty() {
                        return Err(err(RuleErrorKind::EmptyKeyword(w)));
                    }
                    normal.push(n);
                }
                Matcher::Keywords(normal)
            }
        };
        let rule = Rule {
            id: id.into(),
            description: def.description,
            category: def.category,
            weight: def.weight,
            matcher,
            pack: pack.clone(),
        };
        Ok((rule, compiled))
    }

    /// Compiles the rules added so far into a [`RuleSet`]. The builder can be reused.
    pub fn build(&self) -> Result<RuleSet, RuleError> {
        // A piece of a valid regex is a valid regex; should the set of pieces still not
        // compile, the regexes enter it whole, as they did before they were split.
        self.compile(true).or_else(|_| self.compile(false))
    }

    /// [`RuleSetBuilder::build`], with gapped regexes split into pieces or not.
    fn compile(&self, split_gaps: bool) -> Result<RuleSet, RuleError> {
        let rules: Arc<[Rule]> = self.rules.iter().cloned().collect();
        let mut patterns = Vec::new();
        let mut pattern_regex = Vec::new();
        let mut gates = Vec::new();
        let mut exact: Vec<Option<Regex>> = Vec::new();
        let mut regex_rules = Vec::new();
        let mut keyword_index: HashMap<&str, usize> = HashMap::new();
        let mut keywords: Vec<&str> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            match &rule.matcher {
                Matcher::Regex(re) => {
                    let ascii = ascii_word_boundaries(re);
                    let number = regex_rules.len();
                    let split = split_gaps.then(|| split_at_gaps(&ascii)).flatten();
                    // The gate, and whether the exact regex must confirm it (unless the regex
                    // entered the set as itself).
                    let gate = match split {
                        Some(branches) => {
                            let mut pieces = Vec::with_capacity(branches.len());
                            for branch in branches {
                                let first = patterns.len();
                                for piece in branch {
                                    patterns.push(widen_gaps(&piece));
                                    pattern_regex.push(number);
                                }
                                pieces.push((first..patterns.len()).collect());
                            }
                            Gate::Pieces(pieces.into())
                        }
                        None => {
                            patterns.push(widen_gaps(&ascii));
                            pattern_regex.push(number);
                            Gate::One
                        }
                    };
                    // The exact regex, where the gate needs confirming: compiled and kept when
                    // its pack was checked (see `confirms_a_gate`).
                    exact.push(self.compiled[i].clone());
                    gates.push(gate);
                    regex_rules.push(i);
                }
                Matcher::Keywords(words) => {
                    for w in words {
                        let k = *keyword_index.entry(w.as_str()).or_insert_with(|| {
                            keywords.push(w.as_str());
                            keyword_rules.push(Vec::new());
                            keywords.len() - 1
                        });
                        if !keyword_rules[k].contains(&i) {
                            keyword_rules[k].push(i);
                        }
                    }
                }
            }
        }
        let regexes = compile_set(&patterns, self.set_size_limit)?;
        let automaton = if keywords.is_empty() {
            None
        } else {
            let ac = AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .match_kind(MatchKind::Standard)
                .build(&keywords)
                .or_else(|_| {
                    AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .build(&keywords)
                })
                .map_err(|e| {
                    RuleError::new("rule set", None, RuleErrorKind::SetTooBig(e.to_string()))
                })?;
            Some(ac)
        };
        let keyword_edges: Vec<(bool, bool)> = keywords
            .iter()
            .map(|k| {
                let first = k.chars().next().is_some_and(char::is_alphanumeric);
                let last = k.chars().next_back().is_some_and(char::is_alphanumeric);
                (first, last)
            })
            .collect();
        Ok(RuleSet {
            id: crate::next_id(),
            rules,
            regexes,
            pattern_regex: pattern_regex.into(),
            gates: gates.into(),
            exact: exact.into(),
            regex_rules: regex_rules.into(),
            keywords: automaton,
            keyword_rules: keyword_rules
                .into_iter()
                .map(Into::into)
                .collect::<Vec<Box<[usize]>>>()
                .into(),
            keyword_edges: Arc::from(keyword_edges),
        })
    }
}

/// The patterns as one set, configured as [`regex::RegexSetBuilder`] would with
/// `case_insensitive(true)`, so [`RuleSet::scan_text`] can hand it a cache and a [`PatternSet`]
/// of its own instead of `RegexSet::matches` taking a cache from the set's pool and allocating a
/// new set of matches for every text.
fn compile_set(patterns: &[String], size_limit: usize) -> Result<meta::Regex, RuleError> {
    let config = meta::Config::new()
        .match_kind(regex_automata::MatchKind::All)
        .utf8_empty(true)
        .which_captures(WhichCaptures::None)
        .nfa_size_limit(Some(size_limit))
        .hybrid_cache_capacity(DFA_CACHE_LIMIT);
    meta::Builder::new()
        .configure(config)
        .syntax(syntax::Config::new().case_insensitive(true).utf8(true))
        .build_many(patterns)
        .map_err(|e| {
            // Each regex compiled alone when its pack was added, so the set can only be too big.
            let why = match e.size_limit() {
                Some(limit) => format!("compiled, they exceed the limit of {limit} bytes"),
                None => e.to_string(),
            };
            RuleError::new("rule set", None, RuleErrorKind::SetTooBig(why))
        })
}

/// A thread's cache for the regex set last scanned on it, and its matches (see [`compile_set`]);
/// and the rules that fired on the last text.
struct SetScratch {
    /// The [`RuleSet::id`] the cache belongs to (clones share it, and their regex).
    set: u64,
    cache: meta::Cache,
    matched: PatternSet,
    fired: Vec<usize>,
}

impl SetScratch {
    fn new(set: &RuleSet) -> SetScratch {
        SetScratch {
            set: set.id,
            cache: set.regexes.create_cache(),
            matched: PatternSet::new(set.regexes.pattern_len()),
            fired: Vec::new(),
        }
    }
}

thread_local! {
    static SET_SCRATCH: RefCell<Option<SetScratch>> = const { RefCell::new(None) };
}

/// Compiles the regexes of a pack's rules (`None` for a rule without one), on every core: each
/// compiled alone (for its error, its size, and to confirm its gate) is most of what loading a
/// pack costs.
fn compile_all(defs: &[RuleDef], size_limit: usize) -> Vec<Option<Result<Regex, RuleErrorKind>>> {
    let todo: Vec<(usize, &str)> = defs
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.regex.as_deref().map(|re| (i, re)))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(todo.len());
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        while let Some(&(i, re)) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push((i, compile_one(re, size_limit)));
        }
        done
    };
    let done: Vec<(usize, Result<Regex, RuleErrorKind>)> = if threads <= 1 {
        work()
    } else {
        std::thread::scope(|s| {
            let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
            let mut done = work();
            for h in helpers {
                done.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            done
        })
    };
    let mut out: Vec<Option<Result<Regex, RuleErrorKind>>> = defs.iter().map(|_| None).collect();
    for (i, r) in done {
        out[i] = Some(r);
    }
    out
}

/// Whether a regex enters the set as a gate that it must confirm (see [`RuleSetBuilder::build`]):
/// split at its gaps or with its gaps widened, whichever way the set is compiled.
fn confirms_a_gate(re: &str) -> bool {
    let ascii = ascii_word_boundaries(re);
    split_at_gaps(&ascii).is_some() || widen_gaps(&ascii) != ascii
}

/// Compiles one regex alone, as the set sees it (ASCII word boundaries): for its error or its
/// size when its pack is added, and to confirm its gate (see [`widen_gaps`]).
fn compile_one(re: &str, size_limit: usize) -> Result<Regex, RuleErrorKind> {
    RegexBuilder::new(&ascii_word_boundaries(re))
        .case_insensitive(true)
        .size_limit(size_limit)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => RuleErrorKind::RegexTooBig { limit },
            e => RuleErrorKind::BadRegex(e.to_string()),
        })
}

/// The gate of a regex: every `.` outside a character class that carries a counted repetition
/// (`.{0,60}`, `.{3,}`, `.{5}`, lazy or not) becomes `.*`. The gate matches wherever the regex does
/// and needs no counter in the automaton. A regex without such a gap is its own gate.
fn widen_gaps(re: &str) -> String {
    rewrite_outside_classes(re, |rest| counted_gap(rest).map(|len| (len, ".*")))
}

/// The pieces of a regex between its top-level gaps (`.{m,n}`, lazy or not, outside groups and
/// classes), for each top-level branch; `None` if it has no such gap, if a branch would have no
/// piece left, or if it sets flags for the rest of the pattern (`(?x)`), which its pieces would
/// lose. Every match of the regex contains a match of each piece of one of its branches.
fn split_at_gaps(re: &str) -> Option<Vec<Vec<String>>> {
    let mut branches = Vec::new();
    let mut pieces = Vec::new();
    let (mut start, mut split, mut flags) = (0, false, false);
    walk_outside_classes(re, |at, depth| {
        if depth > 0 {
            return None;
        }
        let rest = &re[at..];
        if let Some(after) = rest.strip_prefix("(?") {
            let after = after.trim_start_matches(|f: char| f.is_ascii_alphabetic() || f == '-');
            flags |= after.starts_with(')');
            return None;
        }
        if rest.starts_with('|') {
            pieces.push(&re[start..at]);
            branches.push(std::mem::take(&mut pieces));
            start = at + 1;
            return Some(1);
        }
        let len = counted_gap(rest)?;
        let len = len + usize::from(rest[len..].starts_with('?'));
        pieces.push(&re[start..at]);
        start = at + len;
        split = true;
        Some(len)
    });
    pieces.push(&re[start..]);
    branches.push(pieces);
    if !split || flags {
        return None;
    }
    let branches: Vec<Vec<String>> = branches
        .into_iter()
        .map(|b| {
            b.into_iter()
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect();
    if branches.iter().any(Vec::is_empty) {
        return None;
    }
    Some(branches)
}

/// The length of a counted gap (`.{0,60}`, `.{3,}`, `.{5}`) at the start of `rest`, if there is
/// one.
fn counted_gap(rest: &str) -> Option<usize> {
    let inner = rest.strip_prefix(".{")?;
    let close = inner.find('}')?;
    let counted = close > 0
        && inner[..close]
            .bytes()
            .all(|x| x.is_ascii_digit() || x == b',');
    counted.then_some(close + 3)
}

/// Copies a regex, replacing what `rewrite` recognises at the start of the rest of the pattern,
/// outside character classes and escapes: `rewrite(rest)` gives the bytes it replaces and their
/// replacement. Escapes (`\x`) are copied whole unless `rewrite` takes them; inside a class
/// nothing is rewritten, and a `]` or `^]` right after the opening bracket is a literal.
fn rewrite_outside_classes(
    re: &str,
    rewrite: impl Fn(&str) -> Option<(usize, &'static str)>,
) -> String {
    let mut out = String::with_capacity(re.len() + 16);
    let mut copied = 0;
    walk_outside_classes(re, |at, _| {
        let (len, with) = rewrite(&re[at..])?;
        out.push_str(&re[copied..at]);
        out.push_str(with);
        copied = at + len;
        Some(len)
    });
    out.push_str(&re[copied..]);
    out
}

/// Walks a regex, offering `visit(at, depth)` every position outside character classes (escapes
/// included, at their backslash) with the depth of the groups around it. `visit` returns how many
/// bytes it takes there, or `None` to let the walk step over the character: an escape whole, a
/// class whole (a `]` or `^]` right after its opening bracket is a literal), a parenthesis
/// entering or leaving a group.
fn walk_outside_classes(re: &str, mut visit: impl FnMut(usize, usize) -> Option<usize>) {
    let (mut at, mut class_depth, mut depth) = (0, 0usize, 0usize);
    while let Some(c) = re[at..].chars().next() {
        if class_depth == 0
            && let Some(len) = visit(at, depth)
        {
            at += len;
            continue;
        }
        let rest = &re[at..];
        let mut len = c.len_utf8();
        match c {
            '\\' => len += rest[1..].chars().next().map_or(0, char::len_utf8),
            '[' => {
                class_depth += 1;
                if let Some(lit) = ["^]", "]"].iter().find(|l| rest[1..].starts_with(**l)) {
                    len += lit.len();
                }
            }
            ']' if class_depth > 0 => class_depth -= 1,
            '(' if class_depth == 0 => depth += 1,
            ')' if class_depth == 0 => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += len;
    }
}

/// Rewrites `\b` and `\B` outside character classes to their ASCII forms (`(?-u:\b)`).
///
/// The normal form is mostly ASCII but keeps `£`, `€` and emoji, and the regex crate's fast
/// engines give up on a Unicode word boundary as soon as they meet a non-ASCII byte, falling back
/// to a much slower one for the whole set. An ASCII boundary keeps every message on the fast path;
/// since letters with accents are folded to ASCII by normalisation, the two agree on what matters.
fn ascii_word_boundaries(re: &str) -> String {
    rewrite_outside_classes(re, |rest| match rest.get(..2) {
        Some("\\b") => Some((2, "(?-u:\\b)")),
        Some("\\B") => Some((2, "(?-u:\\B)")),
        _ => None,
    })
}

/// Compiled rules: one regex set and one keyword automaton. Cheap to clone (the compiled parts are
/// shared). The set's search cache is kept per thread, for the set last scanned there; clone one
/// per worker thread all the same, so the exact regexes' scratch pools are not contended.
#[derive(Clone, Debug)]
pub struct RuleSet {
    /// Identifies the compiled set for the per-thread cache; clones share it.
    id: u64,
    rules: Arc<[Rule]>,
    regexes: meta::Regex,
    /// Pattern `j` of the set belongs to regex `pattern_regex[j]` (in order: a regex's patterns
    /// are consecutive).
    pattern_regex: Arc<[usize]>,
    /// How regex `i` is matched in the set.
    gates: Arc<[Gate]>,
    /// For a regex whose gate is not the regex itself (see the module docs), the exact regex.
    exact: Arc<[Option<Regex>]>,
    /// Regex `i` is rule `regex_rules[i]`.
    regex_rules: Arc<[usize]>,
    keywords: Option<AhoCorasick>,
    /// Keyword `k` belongs to rules `keyword_rules[k]`.
    keyword_rules: Arc<[Box<[usize]>]>,
    /// Whether keyword `k` starts and ends with a letter or digit (so needs a word boundary there).
    keyword_edges: Arc<[(bool, bool)]>,
}

/// How a regex enters the rule set (see the module docs).
#[derive(Clone, Debug)]
enum Gate {
    /// One pattern: the regex itself, or with its gaps widened to `.*` (then confirmed by the
    /// exact regex).
    One,
    /// As the pieces between its top-level gaps, per branch (pattern numbers): fires when all
    /// pieces of a branch matched, confirmed by the exact regex.
    Pieces(Box<[Box<[usize]>]>),
}

impl Default for RuleSet {
    /// The shipped packs.
    fn default() -> RuleSet {
        RuleSet::builder()
            .default_packs()
            .build()
            .expect("the shipped packs compile")
    }
}

impl RuleSet {
    /// A builder with no packs.
    pub fn builder() -> RuleSetBuilder {
        RuleSetBuilder::new()
    }

    /// A set with no rules: scans find nothing.
    pub fn empty() -> RuleSet {
        RuleSetBuilder::new()
            .build()
            .expect("an empty set compiles")
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| &*r.id == id)
    }

    /// The rules that fire on a normalised message, in rule order, each once.
    pub fn scan(&self, message: &Normalized) -> Vec<RuleHit> {
        self.scan_text(&message.text)
    }

    /// The rules that fire on a text that is already in normal form.
    pub fn scan_text(&self, text: &str) -> Vec<RuleHit> {
        let mut hits = Vec::new();
        self.scan_into(text, &mut hits);
        hits
    }

    /// [`RuleSet::scan_text`] into `hits` (emptied first), for a caller that keeps the list.
    pub(crate) fn scan_into(&self, text: &str, hits: &mut Vec<RuleHit>) {
        hits.clear();
        SET_SCRATCH.with(|slot| match slot.try_borrow_mut() {
            Ok(mut slot) => {
                let scratch = match &mut *slot {
                    Some(s) if s.set == self.id => s,
                    other => other.insert(SetScratch::new(self)),
                };
                self.scan_with(text, scratch, hits);
            }
            // Re-entered on this thread (not possible through this crate): fresh memory.
            Err(_) => self.scan_with(text, &mut SetScratch::new(self), hits),
        });
    }

    /// [`RuleSet::scan_into`] with this thread's working memory.
    fn scan_with(&self, text: &str, scratch: &mut SetScratch, hits: &mut Vec<RuleHit>) {
        let mut fired = std::mem::take(&mut scratch.fired);
        fired.clear();
        if !self.regex_rules.is_empty() {
            self.fire_regexes(text, scratch, &mut fired);
        }
        if let Some(ac) = &self.keywords {
            let bytes = text.as_bytes();
            for m in ac.find_overlapping_iter(text) {
                let k = m.pattern().as_usize();
                let (first, last) = self.keyword_edges[k];
                let before_ok = !first || m.start() == 0 || !is_word_byte_before(text, m.start());
                let after_ok =
                    !last || m.end() == bytes.len() || !is_word_byte_after(text, m.end());
                if before_ok && after_ok {
                    fired.extend(self.keyword_rules[k].iter().copied());
                }
            }
        }
        fired.sort_unstable();
        fired.dedup();
        hits.extend(fired.iter().map(|&i| {
            let r = &self.rules[i];
            RuleHit {
                id: r.id.clone(),
                category: r.category,
                weight: r.weight,
                index: i,
            }
        }));
        scratch.fired = fired;
    }

    /// Adds to `fired` the regex rules that fire on `text`: the set's matches, each regex's gate
    /// (see [`Gate`]) and, where the gate needs it, the exact regex.
    fn fire_regexes(&self, text: &str, scratch: &mut SetScratch, fired: &mut Vec<usize>) {
        scratch.matched.clear();
        self.regexes.which_overlapping_matches_with(
            &mut scratch.cache,
            &Input::new(text),
            &mut scratch.matched,
        );
        let matches = &scratch.matched;
        let mut last = None;
        for j in matches.iter() {
            let i = self.pattern_regex[j.as_usize()];
            if last == Some(i) {
                continue; // another piece of a regex already decided
            }
            last = Some(i);
            let gate = match &self.gates[i] {
                Gate::One => true,
                Gate::Pieces(branches) => branches.iter().any(|b| {
                    b.iter()
                        .all(|&p| matches.contains(PatternID::new_unchecked(p)))
                }),
            };
            if gate && self.exact[i].as_ref().is_none_or(|re| re.is_match(text)) {
                fired.push(self.regex_rules[i]);
            }
        }
    }
}

fn is_word_byte_before(text: &str, at: usize) -> bool {
    text[..at]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
}

fn is_word_byte_after(text: &str, at: usize) -> bool {
    text[at..].chars().next().is_some_and(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pack: &str) -> RuleSet {
        RuleSet::builder()
            .pack("t.toml", pack)
            .unwrap()
            .build()
            .unwrap()
    }

    /// A set of one delivery-scam rule, `d.fee`, with this regex.
    fn fee_rule(regex: &str) -> RuleSet {
        set(&format!(
            "[[rule]]\nid = 'd.fee'\ndescription = 'd'\ncategory = 'delivery_scam'\n\
             regex = '''{regex}'''\nweight = 0.5\n"
        ))
    }

    #[test]
    fn gaps_are_widened_outside_classes_and_escapes_only() {
        assert_eq!(widen_gaps(r"a.{0,60}b"), "a.*b");
        assert_eq!(widen_gaps(r"a.{3,}b.{5}?c"), "a.*b.*?c");
        assert_eq!(widen_gaps(r"a\.{2,3}b"), r"a\.{2,3}b");
        assert_eq!(widen_gaps(r"a[.]{0,9}b"), r"a[.]{0,9}b");
        assert_eq!(widen_gaps(r"a[].]{0,9}b.{1,2}"), r"a[].]{0,9}b.*");
        assert_eq!(widen_gaps(r"a.{x}b.+c"), r"a.{x}b.+c");
        assert_eq!(widen_gaps(r"£.{0,4}€"), "£.*€");
    }

    #[test]
    fn a_gated_rule_fires_exactly_when_its_regex_matches() {
        let rs = fee_rule(r"\b(parcel|package)\b.{0,20}\bfee\b");
        let fires = |t: &str| rs.scan_text(t).len() == 1;
        assert!(fires("your parcel has a fee"));
        // The gate (`.*`) matches these; the rule must not.
        assert!(!fires("your parcel is on its way. there is no extra fee"));
        assert!(!fires("parcelfee"));
    }

    #[test]
    fn regexes_split_at_top_level_gaps_only() {
        let split = split_at_gaps;
        let v = |b: &[&[&str]]| -> Option<Vec<Vec<String>>> {
            Some(
                b.iter()
                    .map(|p| p.iter().map(|s| s.to_string()).collect())
                    .collect(),
            )
        };
        assert_eq!(split(r"\ba\b.{0,60}\bfee\b"), v(&[&[r"\ba\b", r"\bfee\b"]]));
        assert_eq!(split(r"a.{3,}?b.{5}c"), v(&[&["a", "b", "c"]]));
        assert_eq!(
            split(r"a.{0,9}b|c.{0,4}d|e"),
            v(&[&["a", "b"], &["c", "d"], &["e"]])
        );
        // Gaps inside a group or a class, escaped dots, and other counted repetitions stay.
        assert_eq!(split(r"(a.{0,9}b)c"), None);
        assert_eq!(split(r"a\.{2,3}b"), None);
        assert_eq!(split(r"a[.]{0,9}b"), None);
        assert_eq!(split(r"a[].]{0,9}b.{1,2}c"), v(&[&["a[].]{0,9}b", "c"]]));
        assert_eq!(split(r"a[^]|]b.{0,2}c"), v(&[&["a[^]|]b", "c"]]));
        assert_eq!(split(r"a(b|c).{0,2}d"), v(&[&["a(b|c)", "d"]]));
        assert_eq!(split(r"\£.{0,4}€"), v(&[&[r"\£", "€"]]));
        // A branch left without a piece, flags for the rest of the pattern, no gap: not split.
        assert_eq!(split(r".{0,5}|a.{0,5}b"), None);
        assert_eq!(split(r"(?i)a.{0,5}b"), None);
        assert_eq!(split(r"(?i:a).{0,5}b"), v(&[&["(?i:a)", "b"]]));
        assert_eq!(split(r"a.*b"), None);
        assert_eq!(
            split(&ascii_word_boundaries(r"\bparcel\b.{0,60}\bfee")),
            v(&[&[r"(?-u:\b)parcel(?-u:\b)", r"(?-u:\b)fee"]])
        );
    }

    #[test]
    fn a_split_rule_needs_every_piece_of_one_branch_and_the_exact_regex() {
        let rs = fee_rule(r"\b(parcel|package)\b.{0,20}\bfee\b|\bcustoms\b.{0,10}\bcharge\b");
        assert!(matches!(&rs.gates[0], Gate::Pieces(b) if b.len() == 2));
        let fires = |t: &str| rs.scan_text(t).len() == 1;
        assert!(fires("your parcel has a fee"));
        assert!(fires("customs charge due"));
        // Pieces of two branches, pieces in the wrong order, a gap too long: no.
        assert!(!fires("your parcel has a charge"));
        assert!(!fires("fee for the parcel"));
        assert!(!fires("your parcel is on its way. there is no extra fee"));
        assert!(!fires("customs are done; no charge"));
    }

    /// The shipped regexes, each compiled alone as the set sees it: what the set must agree with.
    fn shipped_regexes_alone(rs: &RuleSet) -> Vec<(usize, Regex)> {
        rs.rules()
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match &r.matcher {
                Matcher::Regex(re) => Some((i, compile_one(re, DEFAULT_REGEX_SIZE_LIMIT).unwrap())),
                Matcher::Keywords(_) => None,
            })
            .collect()
    }

    /// Asserts that the set's regex rules fire on `t` exactly when the regexes alone match;
    /// returns how many rules of any kind fired.
    fn assert_agrees(rs: &RuleSet, alone: &[(usize, Regex)], t: &str) -> usize {
        let expected: Vec<usize> = alone
            .iter()
            .filter(|(_, re)| re.is_match(t))
            .map(|(i, _)| *i)
            .collect();
        let hits = rs.scan_text(t);
        let got: Vec<usize> = hits
            .iter()
            .map(|h| h.index)
            .filter(|i| matches!(rs.rules()[*i].matcher, Matcher::Regex(_)))
            .collect();
        assert_eq!(got, expected, "{t}");
        hits.len()
    }

    /// Every text of the SMS collection, normalised: the set and the regexes alone agree.
    #[test]
    fn the_shipped_set_agrees_with_each_regex_alone_on_the_sms_collection() {
        let (rs, alone, _) = shipped_words();
        assert!(rs.gates.iter().any(|g| matches!(g, Gate::Pieces(_))));
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/sms/SMSSpamCollection"
        );
        let corpus = std::fs::read_to_string(path).expect("the SMS collection is in data/");
        let mut normalizer = Normalizer::new();
        let mut fired = 0;
        for line in corpus.lines() {
            let text = line.split_once('\t').map_or(line, |(_, t)| t);
            let normal = normalizer.normalize(text);
            fired += usize::from(assert_agrees(rs, alone, &normal.text) > 0);
        }
        assert!(fired > 300, "only {fired} texts fired a rule");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Texts made of the rules' own words, in any order and with fillers of any length
        /// between them, so pieces match in and out of order, near and far.
        #[test]
        fn the_shipped_set_agrees_with_each_regex_alone_on_rule_words(
            picks in proptest::collection::vec((0usize..10_000, 0usize..12), 1..40)
        ) {
            let (rs, alone, words) = shipped_words();
            let mut text = String::new();
            for (w, filler) in picks {
                text.push_str(&words[w % words.len()]);
                text.push_str(&" x".repeat(filler));
                text.push(' ');
            }
            assert_agrees(rs, alone, &text);
        }
    }

    /// The shipped set, its regexes alone (rule index, regex), and the words of its patterns.
    type Shipped = (RuleSet, Vec<(usize, Regex)>, Vec<String>);

    /// The shipped set, its regexes alone, and the words of its patterns (plus a few amounts).
    fn shipped_words() -> &'static Shipped {
        static SHIPPED: std::sync::OnceLock<Shipped> = std::sync::OnceLock::new();
        SHIPPED.get_or_init(|| {
            let rs = RuleSet::default();
            let alone = shipped_regexes_alone(&rs);
            let mut words: Vec<String> = rs
                .rules()
                .iter()
                .filter_map(|r| match &r.matcher {
                    Matcher::Regex(re) => Some(re.as_str()),
                    Matcher::Keywords(_) => None,
                })
                .flat_map(|re| re.split(|c: char| !c.is_ascii_alphabetic()))
                .filter(|w| w.len() > 1)
                .map(str::to_owned)
                .collect();
            words.sort();
            words.dedup();
            words.extend(["£500", "$20", "10%", "0906170", "12345", ".", "!"].map(String::from));
            (rs, alone, words)
        })
    }

    #[test]
    fn the_shipped_set_agrees_with_each_regex_alone() {
        let (rs, alone, _) = shipped_words();
        assert!(
            alone
                .iter()
                .any(|(_, re)| widen_gaps(re.as_str()) != re.as_str())
        );
        let filler = "x ".repeat(60);
        let texts = [
            "your parcel is held, pay the redelivery fee at royalmail-fee.com".to_owned(),
            format!("your parcel {filler} unpaid fee"),
            format!("redelivery {filler} fee"),
            "double your bitcoin today, send 1 btc and receive 2 back".to_owned(),
            format!("send 1 btc {filler} receive"),
            "hot singles in your area want to chat tonight".to_owned(),
            format!("hot singles {filler} chat"),
            "your wallet is locked, verify now".to_owned(),
            "flight ba117 is delayed to 14:35".to_owned(),
        ];
        for t in &texts {
            assert_agrees(rs, alone, t);
        }
    }

    #[test]
    fn keywords_need_word_boundaries() {
        let rs = set(r#"
            [[rule]]
            id = "a.win"
            description = "d"
            category = "lottery"
            keywords = ["won", "you have won"]
            weight = 0.5
            "#);
        let hits = |t: &str| rs.scan_text(t).len();
        assert_eq!(hits("you have won"), 1);
        assert_eq!(hits("wonderful"), 0);
        assert_eq!(hits("we won!"), 1);
    }

    #[test]
    fn hits_come_in_rule_order_once() {
        let rs = set(r#"
            [[rule]]
            id = "b.first"
            description = "d"
            category = "urgency"
            regex = 'act now'
            weight = 0.2
            [[rule]]
            id = "a.second"
            description = "d"
            category = "urgency"
            keywords = ["now", "act"]
            weight = 0.1
            "#);
        let ids: Vec<String> = rs
            .scan_text("act now, act now")
            .iter()
            .map(|h| h.id.to_string())
            .collect();
        assert_eq!(ids, ["b.first", "a.second"]);
    }

    #[test]
    fn a_set_past_its_size_limit_is_refused_with_the_limit() {
        let pack = "[[rule]]\nid = 'd.fee'\ndescription = 'd'\ncategory = 'delivery_scam'\n\
                    regex = '''\\b(parcel|package)\\b.{0,60}\\bfee\\b'''\nweight = 0.5\n";
        let mut builder = RuleSet::builder();
        builder.set_size_limit(64).pack("t.toml", pack).unwrap();
        let err = builder.build().unwrap_err();
        assert!(
            matches!(err.kind(), RuleErrorKind::SetTooBig(m) if m.contains("limit of 64 bytes")),
            "{err}"
        );
        assert!(builder.set_size_limit(1 << 20).build().is_ok());
    }

    #[test]
    fn sets_scanned_in_turn_on_one_thread_keep_their_own_matches() {
        // Each thread keeps one cache for the set it scanned last; another set (or a clone of a
        // rebuilt one) must not read with it. The shipped set has many more patterns than these.
        let shipped = RuleSet::default();
        let fee = fee_rule(r"\bfee\b");
        let clone = fee.clone();
        let text =
            "urgent: your parcel is on hold, pay the fee now. you have won a prize, claim it today";
        let shipped_ids = |rs: &RuleSet| -> Vec<String> {
            rs.scan_text(text)
                .iter()
                .map(|h| h.id.to_string())
                .collect()
        };
        let expected = shipped_ids(&shipped);
        assert!(expected.len() > 1, "{expected:?}");
        for _ in 0..3 {
            assert_eq!(shipped_ids(&fee), ["d.fee"]);
            assert_eq!(shipped_ids(&shipped), expected);
            assert_eq!(shipped_ids(&clone), ["d.fee"]);
            assert!(fee.scan_text("no charge").is_empty());
        }
    }

    #[test]
    fn word_boundaries_become_ascii() {
        assert_eq!(ascii_word_boundaries(r"\bwin\b"), r"(?-u:\b)win(?-u:\b)");
        assert_eq!(ascii_word_boundaries(r"[\b]\\b"), r"[\b]\\b");
        assert_eq!(ascii_word_boundaries(r"[]\b]x\B"), r"[]\b]x(?-u:\B)");
    }

    #[test]
    fn the_shipped_packs_load() {
        let rs = RuleSet::default();
        assert!((60..=150).contains(&rs.len()), "{} rules", rs.len());
    }
}
