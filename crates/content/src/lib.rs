//! spamward's content heuristics: what a message says, not how much its sender sends.
//!
//! Volume and complaints see abuse after recipients suffer it; content sees it at the first
//! message. This crate turns one message text into an [`Analysis`]:
//!
//! ```text
//! text ─► Normalizer ─► Normalized { text, obfuscation }  ─► RuleSet::scan ─► [RuleHit]
//!     └─► LinkScanner ─► [Link] (host, registrable domain, shortener, raw IP, IDN, lookalike,
//!                                 blocklisted), [Phone]
//! ```
//!
//! - [`normalize`] undoes obfuscation (`FR€E`, `ｆｒｅｅ`, `fr\u{200b}ee`, `P4yP@l`, `WINNNER`) and
//!   measures how much it had to undo.
//! - [`links`] extracts URLs and phone numbers from the original text and judges each link against
//!   the lists of [`lists`]: shorteners, blocklists and protected brands.
//! - [`rules`] matches packs of weighted rules (one `RegexSet`, one Aho-Corasick automaton) against
//!   the normal form.
//!
//! The crate is pure: no file or network I/O and no clock. The shipped data (rule packs, brands,
//! shorteners, blocklist) is embedded; other packs and lists are parsed from text the caller read.
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
//! let code = engine.analyze("Your code is 482913. Do not share it.");
//! assert!(code.rule_hits.is_empty() && code.links.is_empty() && code.phones.is_empty());
//! assert_eq!(code.normalized.obfuscation.score, 0.0);
//! ```
//!
//! ## What comes next hooks in here
//!
//! The [`Analysis`] is the input of the later content stages, which are not in this crate yet:
//! a trained classifier reads [`Normalized::text`] (character n-grams over the normal form resist
//! obfuscation) and takes the obfuscation score, the rule hits and the link flags as features; a
//! similarity fingerprint (SimHash or MinHash) is computed over shingles of [`Normalized::text`]
//! with links, phone numbers and digits masked using [`Link::span`] and [`Phone::span`], so texts
//! that differ by a name, a code or a link collide; and the core folds the hits into a verdict's
//! reasons by rule id, and a business's registrable domains into its history.

#![deny(missing_docs)]

pub mod links;
pub mod lists;
pub mod normalize;
pub mod rules;

use std::cell::RefCell;

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

/// Per-thread working memory for [`ContentEngine::analyze_with`]: the normalizer's buffers.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    normalizer: Normalizer,
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

/// The content heuristics, assembled: rules, brands, blocklist and shorteners.
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
    rules: RuleSet,
    links: LinkScanner,
}

impl Default for ContentEngine {
    /// The shipped rule packs, brands, blocklist and shorteners.
    fn default() -> ContentEngine {
        ContentEngine {
            rules: RuleSet::default(),
            links: LinkScanner::default(),
        }
    }
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

    /// Replaces the rules, returning the old ones.
    pub fn set_rules(&mut self, rules: RuleSet) -> RuleSet {
        std::mem::replace(&mut self.rules, rules)
    }

    /// Analyses one message, using this thread's scratch memory.
    pub fn analyze(&self, text: &str) -> Analysis {
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut scratch) => self.analyze_with(text, &mut scratch),
            // Re-entered on this thread (not possible through this crate): use fresh memory.
            Err(_) => self.analyze_with(text, &mut Scratch::new()),
        })
    }

    /// Analyses one message with the caller's scratch memory.
    pub fn analyze_with(&self, text: &str, scratch: &mut Scratch) -> Analysis {
        let normalized = scratch.normalizer.normalize(text);
        let rule_hits = self.rules.scan(&normalized);
        let (links, phones) = self.links.scan(text);
        Analysis {
            normalized,
            links,
            phones,
            rule_hits,
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
}

impl ContentEngineBuilder {
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
        ContentEngine { rules, links }
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
