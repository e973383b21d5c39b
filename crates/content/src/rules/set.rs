//! The compiled [`RuleSet`] and its scan: the regex set with each regex's gate and exact
//! confirmation, the keyword automaton with word boundaries, and the per-thread search cache.
//! "The module docs" below are those of [`crate::rules`], which explain gates.

use std::cell::RefCell;
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use regex::Regex;
use regex_automata::util::syntax;
use regex_automata::{Input, PatternID, PatternSet, meta, nfa::thompson::WhichCaptures};

use super::{DFA_CACHE_LIMIT, Rule, RuleError, RuleErrorKind, RuleHit, RuleSetBuilder};
use crate::normalize::Normalized;

/// The patterns as one set, configured as [`regex::RegexSetBuilder`] would with
/// `case_insensitive(true)`, so [`RuleSet::scan_text`] can hand it a cache and a [`PatternSet`]
/// of its own instead of `RegexSet::matches` taking a cache from the set's pool and allocating a
/// new set of matches for every text.
pub(super) fn compile_set(
    patterns: &[String],
    size_limit: usize,
) -> Result<meta::Regex, RuleError> {
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

/// Compiled rules: one regex set and one keyword automaton. Cheap to clone (the compiled parts are
/// shared). The set's search cache is kept per thread, for the set last scanned there; clone one
/// per worker thread all the same, so the exact regexes' scratch pools are not contended.
#[derive(Clone, Debug)]
pub struct RuleSet {
    /// Identifies the compiled set for the per-thread cache; clones share it.
    pub(super) id: u64,
    pub(super) rules: Arc<[Rule]>,
    pub(super) regexes: meta::Regex,
    /// Pattern `j` of the set belongs to regex `pattern_regex[j]` (in order: a regex's patterns
    /// are consecutive).
    pub(super) pattern_regex: Arc<[usize]>,
    /// How regex `i` is matched in the set.
    pub(super) gates: Arc<[Gate]>,
    /// For a regex whose gate is not the regex itself (see the module docs), the exact regex.
    pub(super) exact: Arc<[Option<Regex>]>,
    /// Regex `i` is rule `regex_rules[i]`.
    pub(super) regex_rules: Arc<[usize]>,
    pub(super) keywords: Option<AhoCorasick>,
    /// Keyword `k` belongs to rules `keyword_rules[k]`.
    pub(super) keyword_rules: Arc<[Box<[usize]>]>,
    /// Whether keyword `k` starts and ends with a letter or digit (so needs a word boundary there).
    pub(super) keyword_edges: Arc<[(bool, bool)]>,
}

/// How a regex enters the rule set (see the module docs).
#[derive(Clone, Debug)]
pub(super) enum Gate {
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
