//! spamward's content heuristics: what a message says, not how much its sender sends.
//!
//! Volume and complaints see abuse after recipients suffer it; content sees it at the first
//! message. This crate turns one message text into an [`Analysis`]:
//!
//! ```text
//! text ─► Normalizer ─► Normalized { text, obfuscation }  ─► RuleSet::scan ─► [RuleHit]
//!     │                            └─► masked tokens ─┬─► Fingerprint (SimHash)
//!     │                                               └─► Model ─► spam_probability
//!     └─► LinkScanner ─► [Link] (host, registrable domain, shortener, raw IP, IDN, lookalike,
//!                                 blocklisted), [Phone]              (links, phones, rules ─┘)
//! ```
//!
//! - [`normalize`] undoes obfuscation (`FR€E`, `ｆｒｅｅ`, `fr\u{200b}ee`, `P4yP@l`, `WINNNER`) and
//!   measures how much it had to undo.
//! - [`links`] extracts URLs and phone numbers from the original text and judges each link against
//!   the lists of [`lists`]: shorteners, blocklists and protected brands.
//! - [`rules`] matches packs of weighted rules (one `RegexSet`, one Aho-Corasick automaton) against
//!   the normal form.
//! - [`classifier`] is a logistic regression over hashed character and word n-grams of the masked
//!   normal form plus the findings above; [`Model::shipped`] is `data/model.bin`, trained on the
//!   training side of the SMS collection by `spamward train`.
//! - [`fingerprint`] is a SimHash of the masked normal form, for finding near-duplicate texts.
//!
//! The classifier and the fingerprint share one tokenisation, in which links, e-mail addresses,
//! phone numbers and digit runs are placeholders: the model learns "has a link", not a link, and
//! copies of one text with another code or link fingerprint alike. The same masking makes copies
//! of one template share everything those two read, so [`Scratch`] remembers the fingerprint and
//! the classifier's text score of recently seen masked texts, and the whole analysis of texts sent
//! byte for byte again and again (a blast); neither memo ever changes a result.
//!
//! The crate is pure: no file or network I/O and no clock. The shipped data (rule packs, brands,
//! shorteners, blocklist, the model and the fingerprint's common words) is embedded; other packs,
//! lists and models are parsed from bytes the caller read.
//!
//! ```
//! use spamward_content::{Category, ContentEngine};
//!
//! let engine = ContentEngine::default();
//! let text = "URGENT: your P4yP@l account is suspended. Verify at paypa1-secure.com/login";
//! let a = engine.analyze(text);
//! assert!(a.normalized.text.starts_with("urgent: your paypal account is suspended"));
//! assert_eq!(a.links[0].lookalike.as_ref().map(|l| &*l.brand), Some("paypal"));
//! assert!(a.rule_hits.iter().any(|h| h.category == Category::Phishing));
//!
//! assert!(engine.is_spam(&a) == Some(true));
//!
//! let code = engine.analyze("Your code is 482913. Do not share it.");
//! assert!(code.rule_hits.is_empty() && code.links.is_empty() && code.phones.is_empty());
//! assert_eq!(code.normalized.obfuscation.score, 0.0);
//! assert!(engine.is_spam(&code) == Some(false));
//!
//! // Copies of one text with another code fingerprint alike.
//! let other = engine.analyze("Your code is 771204. Do not share it.");
//! assert_eq!(code.fingerprint.distance(&other.fingerprint), 0);
//! ```
//!
//! ## What comes next hooks in here
//!
//! The core folds the hits into a verdict's reasons by rule id, the spam probability into a
//! content signal, the fingerprints into per-business near-duplicate counts (index
//! [`Fingerprint::bands`]), and a business's registrable domains into its history.

#![deny(missing_docs)]

pub mod classifier;
pub mod fingerprint;
pub mod links;
pub mod lists;
mod memo;
pub mod normalize;
pub mod rules;
mod tokens;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

pub use classifier::{
    Model, ModelError, ModelErrorKind, ModelInfo, TrainOptions, TrainReport, Trainer,
    TrainingExample,
};
pub use fingerprint::Fingerprint;
use memo::Seen;

pub use links::{Link, LinkScanner, Phone, PhoneKind};
pub use lists::{Brands, DomainList, ListError, ListErrorKind, Lookalike, LookalikeKind};
pub use normalize::{Normalized, Normalizer, Obfuscation};
pub use rules::{Category, Rule, RuleError, RuleErrorKind, RuleHit, RuleSet, RuleSetBuilder};

/// Everything the content heuristics found in one message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Analysis {
    /// The normal form and its obfuscation record.
    pub normalized: Normalized,
    /// The links, in order of appearance.
    pub links: Vec<Link>,
    /// The phone numbers and short codes, in order of appearance.
    pub phones: Vec<Phone>,
    /// The rules that fired, in rule order.
    pub rule_hits: Vec<RuleHit>,
    /// The classifier's probability that the message is spam; `None` only when the engine has no
    /// model. Compare with [`Model::threshold`] (see [`ContentEngine::is_spam`]).
    pub spam_probability: Option<f64>,
    /// The similarity fingerprint of the masked normal form.
    pub fingerprint: Fingerprint,
}

impl Analysis {
    /// The noisy-or of the weights of the rules that fired, `1 - Π(1 - weight)`: how strongly the
    /// rules alone say spam. The core's policy, not this crate, decides what a score costs.
    pub fn rule_score(&self) -> f64 {
        1.0 - self
            .rule_hits
            .iter()
            .map(|h| 1.0 - h.weight)
            .product::<f64>()
    }
}

/// Per-thread working memory for [`ContentEngine::analyze_with`]: the normalizer's buffers, the
/// token buffers the classifier and the fingerprint share, and bounded memos of the analyses of
/// texts seen repeatedly and of what depends only on a message's masked text (a few MiB once
/// used; they never change a result).
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    normalizer: Normalizer,
    tokens: tokens::Tokens,
    memo: memo::Memo,
    /// The analysis [`ContentEngine::analyze_with_then`] lends, its lists kept between messages.
    analysis: Analysis,
}

impl Scratch {
    /// Empty working memory.
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// Runs `f` with this thread's scratch memory, or with fresh memory when the thread's is already
/// in use (re-entered: an `analyze_then` closure analysing another text).
fn with_thread_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::new()),
    })
}

/// The content heuristics, assembled: rules, brands, blocklist, shorteners and the classifier.
///
/// `Send + Sync`: share one behind an `Arc` or, better on many threads, clone one per worker
/// (cloning is cheap: compiled rules and lists are shared, and each clone gets its own regex
/// scratch pools).
///
/// To reload rules, build a new [`RuleSet`] and, only if that succeeds, call
/// [`ContentEngine::set_rules`] (or build a new engine and swap it in): a pack that fails to load
/// never disturbs the engine in use.
#[derive(Clone, Debug)]
pub struct ContentEngine {
    /// Names what the engine computes, for the memos in [`Scratch`]: a new one for every engine
    /// built and every change of rules; clones compute the same and share it.
    id: u64,
    rules: RuleSet,
    links: LinkScanner,
    model: Option<Arc<Model>>,
}

/// A new id for what a [`ContentEngine`] or a [`LinkScanner`] computes, which the per-thread
/// caches compare; never 0 (a cache's "nothing yet").
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Default for ContentEngine {
    /// The shipped rule packs, brands, blocklist, shorteners and model: compiled once per process,
    /// then cloned (a clone shares the compiled parts).
    fn default() -> ContentEngine {
        static SHIPPED: OnceLock<ContentEngine> = OnceLock::new();
        SHIPPED
            .get_or_init(|| ContentEngine {
                id: next_id(),
                rules: RuleSet::default(),
                links: LinkScanner::default(),
                model: shipped_model(),
            })
            .clone()
    }
}

/// The shipped model, decoded once per process. `None` if the embedded file does not load (a
/// test guards against shipping such a file).
fn shipped_model() -> Option<Arc<Model>> {
    static MODEL: OnceLock<Option<Arc<Model>>> = OnceLock::new();
    MODEL
        .get_or_init(|| Model::shipped().ok().map(Arc::new))
        .clone()
}

impl ContentEngine {
    /// A builder starting from the shipped data.
    pub fn builder() -> ContentEngineBuilder {
        ContentEngineBuilder::default()
    }

    /// The rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The link scanner and its lists.
    pub fn links(&self) -> &LinkScanner {
        &self.links
    }

    /// The classifier, if the engine has one.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_deref()
    }

    /// Whether an analysis says spam by the classifier's threshold; `None` without a model.
    pub fn is_spam(&self, analysis: &Analysis) -> Option<bool> {
        let model = self.model.as_deref()?;
        Some(model.is_spam(analysis.spam_probability?))
    }

    /// Replaces the rules, returning the old ones.
    pub fn set_rules(&mut self, rules: RuleSet) -> RuleSet {
        self.id = next_id();
        std::mem::replace(&mut self.rules, rules)
    }

    /// Analyses one message, using this thread's scratch memory.
    pub fn analyze(&self, text: &str) -> Analysis {
        with_thread_scratch(|scratch| self.analyze_with(text, scratch))
    }

    /// Analyses one message with the caller's scratch memory.
    pub fn analyze_with(&self, text: &str, scratch: &mut Scratch) -> Analysis {
        match self.prepare(text, scratch) {
            Some(known) => scratch.memo.known(known).clone(),
            // The computed analysis is the caller's: its lists go with it.
            None => std::mem::take(&mut scratch.analysis),
        }
    }

    /// Analyses one message and hands the analysis to `then`, using this thread's scratch
    /// memory: for a caller that keeps only some of it. The analysis is lent, not built for the
    /// caller: its normal form and lists are the thread's, kept between messages, and a text
    /// analysed recently is lent from the memo, not copied.
    pub fn analyze_then<R>(&self, text: &str, then: impl FnOnce(&Analysis) -> R) -> R {
        with_thread_scratch(|scratch| self.analyze_with_then(text, scratch, then))
    }

    /// [`ContentEngine::analyze_then`] with the caller's scratch memory.
    pub fn analyze_with_then<R>(
        &self,
        text: &str,
        scratch: &mut Scratch,
        then: impl FnOnce(&Analysis) -> R,
    ) -> R {
        match self.prepare(text, scratch) {
            Some(known) => then(scratch.memo.known(known)),
            None => then(&scratch.analysis),
        }
    }

    /// The analysis of `text`: remembered by the memo (`Some`, its hash for [`Memo::known`]) or
    /// computed into `scratch.analysis` (`None`).
    ///
    /// [`Memo::known`]: memo::Memo::known
    fn prepare(&self, text: &str, scratch: &mut Scratch) -> Option<u64> {
        scratch.memo.serve(self.id);
        match scratch.memo.text(text) {
            Seen::Known(hash) => Some(hash),
            Seen::Again(hash) => {
                self.compute(text, scratch);
                scratch.memo.remember(text, hash, &scratch.analysis);
                None
            }
            Seen::New => {
                self.compute(text, scratch);
                None
            }
        }
    }

    /// Analyses `text` into `scratch.analysis`.
    fn compute(&self, text: &str, scratch: &mut Scratch) {
        let Scratch {
            normalizer,
            tokens,
            memo,
            analysis,
        } = scratch;
        normalizer.normalize_into(text, &mut analysis.normalized);
        self.rules
            .scan_into(&analysis.normalized.text, &mut analysis.rule_hits);
        self.links
            .scan_into(text, &mut analysis.links, &mut analysis.phones);
        // One tokenisation for both the fingerprint and the classifier; what depends on the
        // masked text alone may be remembered from an earlier copy of the same template (whose
        // words then need no hashing: the memo hashes them when it computes).
        tokens.mask(&analysis.normalized.text);
        tokens.shape(text);
        let memo = memo.masked(self.model.as_deref(), tokens);
        analysis.fingerprint = memo.fingerprint;
        // Cleared first: the model reads the analysis, which held the previous text's.
        analysis.spam_probability = None;
        if let (Some(model), Some(score)) = (&self.model, memo.text) {
            analysis.spam_probability = Some(model.probability_with(score, tokens, analysis));
        }
    }
}

/// Assembles a [`ContentEngine`]; every part defaults to the shipped data.
#[derive(Clone, Debug, Default)]
pub struct ContentEngineBuilder {
    rules: Option<RuleSet>,
    brands: Option<Brands>,
    blocklist: Option<DomainList>,
    shorteners: Option<DomainList>,
    model: Option<Option<Arc<Model>>>,
}

impl ContentEngineBuilder {
    /// The classifier (default: the shipped model, `data/model.bin`).
    pub fn model(&mut self, model: Model) -> &mut ContentEngineBuilder {
        self.model = Some(Some(Arc::new(model)));
        self
    }

    /// No classifier: [`Analysis::spam_probability`] will be `None`.
    pub fn without_model(&mut self) -> &mut ContentEngineBuilder {
        self.model = Some(None);
        self
    }

    /// The rules (default: the shipped packs).
    pub fn rules(&mut self, rules: RuleSet) -> &mut ContentEngineBuilder {
        self.rules = Some(rules);
        self
    }

    /// The protected brands (default: `data/brands.txt`).
    pub fn brands(&mut self, brands: Brands) -> &mut ContentEngineBuilder {
        self.brands = Some(brands);
        self
    }

    /// The domain blocklist (default: the illustrative `data/blocklists/`).
    pub fn blocklist(&mut self, blocklist: DomainList) -> &mut ContentEngineBuilder {
        self.blocklist = Some(blocklist);
        self
    }

    /// The link shorteners (default: `data/shorteners.txt`).
    pub fn shorteners(&mut self, shorteners: DomainList) -> &mut ContentEngineBuilder {
        self.shorteners = Some(shorteners);
        self
    }

    /// The engine. Its parts were validated when they were parsed, so this cannot fail.
    pub fn build(&self) -> ContentEngine {
        let rules = self.rules.clone().unwrap_or_default();
        let links = LinkScanner::new(
            self.brands.clone().unwrap_or_else(Brands::default_brands),
            self.blocklist
                .clone()
                .unwrap_or_else(DomainList::default_blocklist),
            self.shorteners
                .clone()
                .unwrap_or_else(DomainList::default_shorteners),
        );
        let model = self.model.clone().unwrap_or_else(shipped_model);
        ContentEngine {
            id: next_id(),
            rules,
            links,
            model,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<ContentEngine>();
        check::<Analysis>();
    }

    #[test]
    fn analyze_puts_it_together() {
        let engine = ContentEngine::default();
        let a =
            engine.analyze("URGENT! P4yP@l account suspended. Verify at paypa1-secure.com/login");
        assert!(a.normalized.text.contains("paypal account suspended"));
        assert_eq!(a.links.len(), 1);
        assert_eq!(
            a.links[0].lookalike.as_ref().map(|l| &*l.brand),
            Some("paypal")
        );
        assert!(a.rule_hits.iter().any(|h| h.category == Category::Phishing));
        assert!(a.rule_score() > 0.5);
    }
}
