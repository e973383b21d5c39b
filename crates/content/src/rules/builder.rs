//! Loading packs: parsing and validating rule definitions, compiling each regex alone, and
//! building a [`RuleSet`] (its regex set, gates and keyword automaton) from the rules.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use super::gaps::{ascii_word_boundaries, split_at_gaps, widen_gaps};
use super::set::{Gate, RuleSet, compile_set};
use super::{
    Category, DEFAULT_MAX_RULES, DEFAULT_PACKS, DEFAULT_REGEX_SIZE_LIMIT, DEFAULT_SET_SIZE_LIMIT,
    MAX_KEYWORDS_PER_RULE, Matcher, Rule, RuleError, RuleErrorKind,
};
use crate::normalize::Normalizer;

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
pub(super) fn compile_one(re: &str, size_limit: usize) -> Result<Regex, RuleErrorKind> {
    RegexBuilder::new(&ascii_word_boundaries(re))
        .case_insensitive(true)
        .size_limit(size_limit)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => RuleErrorKind::RegexTooBig { limit },
            e => RuleErrorKind::BadRegex(e.to_string()),
        })
}
