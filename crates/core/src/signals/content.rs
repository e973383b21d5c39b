//! The content family, judged per message from its [`ContentFacts`]: the classifier, the rule
//! packs, phishing links, obfuscation, a domain the business never linked before, and the same
//! text from several businesses at once. It owns the business's [`LinkHistory`].

use bincode::{Decode, Encode};

use super::{Reading, Readings};
use crate::business::MessageContext;
use crate::content::ContentFacts;
use crate::event::{Category, Timestamp};
use crate::policy::{NewDomainRule, Policy};
use crate::signal::{Family, Scope, Signal};
use crate::time::HOUR;

/// Linked domains remembered per business; past it, the least recently linked is forgotten.
const MAX_DOMAINS: usize = 256;

/// The registrable domains a business has linked, and how long it has been linking.
#[derive(Clone, Debug, Default, Encode, Decode)]
pub(crate) struct LinkHistory {
    /// Domain keys, most recently linked last, at most [`MAX_DOMAINS`].
    domains: Vec<u64>,
    /// Messages with links seen.
    messages: u64,
    /// The time of the first.
    first: Option<Timestamp>,
}

impl LinkHistory {
    /// Folds a message's linked domains in; returns the first domain never linked before, if the
    /// history is long enough to judge by.
    fn observe(&mut self, ts: Timestamp, c: &ContentFacts, rule: &NewDomainRule) -> Option<String> {
        if c.domains.is_empty() {
            return None;
        }
        let ready = self.messages >= rule.min_linked_messages
            && self
                .first
                .is_some_and(|f| ts.saturating_since(f) >= rule.min_hours * HOUR);
        let mut new = None;
        for (key, domain) in &c.domains {
            match self.domains.iter().position(|k| k == key) {
                Some(i) => {
                    let k = self.domains.remove(i);
                    self.domains.push(k);
                }
                None => {
                    if ready && new.is_none() {
                        new = Some(domain.clone());
                    }
                    if self.domains.len() >= MAX_DOMAINS {
                        self.domains.remove(0);
                    }
                    self.domains.push(*key);
                }
            }
        }
        self.messages += 1;
        self.first.get_or_insert(ts);
        new
    }
}

/// A message as the content signals see it.
pub(crate) struct Seen<'a> {
    /// Its event time.
    pub(crate) ts: Timestamp,
    /// Its category.
    pub(crate) category: Category,
    /// Its analysis; `None` when content is off.
    pub(crate) facts: Option<&'a ContentFacts>,
    /// What it needs from other businesses.
    pub(crate) context: MessageContext,
    /// Whether its business is young (`trust.young_days`).
    pub(crate) young: bool,
}

/// Every content signal's reading for one message; its links join the link history. Returns
/// whether the content was flagged (classifier, rules or a phishing link), which counts toward
/// the business's flagged-content rate.
pub(crate) fn readings(
    links: &mut LinkHistory,
    m: &Seen<'_>,
    policy: &Policy,
    out: &mut Readings<'_>,
) -> bool {
    let Some(c) = m.facts else {
        if out.all() {
            for sig in Signal::ALL
                .into_iter()
                .filter(|s| s.family() == Family::Content && s.scope() == Scope::Message)
            {
                out.push(false, || {
                    Reading::new(sig, 0.0, 0.0, 0, 0).noted(Some("no content analysis"))
                });
            }
        }
        return false;
    };
    let s = &policy.signals;

    let r = &s.content_classifier;
    let classifier = c.spam_probability.is_some() && c.classifier_spam(r.min_probability);
    out.push(classifier, || {
        Reading::new(
            Signal::ContentClassifier,
            c.spam_probability.unwrap_or(0.0),
            c.classifier_line(r.min_probability),
            0,
            0,
        )
        .noted(
            c.spam_probability
                .is_none()
                .then_some("no classifier model"),
        )
    });

    let r = &s.content_rules;
    let rules = c.rule_score >= r.threshold;
    out.push(rules, || {
        Reading::new(
            Signal::ContentRules,
            c.rule_score,
            r.threshold,
            c.rules.len() as u64,
            0,
        )
        .detailed((!c.rules.is_empty()).then(|| c.rules.join(",")))
    });

    let phishing = c.phishing.is_some();
    out.push(phishing, || {
        Reading::new(
            Signal::PhishingLink,
            f64::from(u8::from(phishing)),
            1.0,
            0,
            0,
        )
        .detailed(c.phishing.clone())
    });

    let r = &s.obfuscation;
    out.push(c.obfuscation >= r.threshold, || {
        Reading::new(Signal::Obfuscation, c.obfuscation, r.threshold, 0, 0)
    });

    let known = links.domains.len();
    let new = links.observe(m.ts, c, &s.new_link_domain);
    out.push(new.is_some(), || {
        let note = if c.domains.is_empty() {
            Some("no link")
        } else if new.is_none() {
            Some("every domain linked before, or too little link history")
        } else {
            None
        };
        let value = if new.is_some() { known as f64 } else { 0.0 };
        Reading::new(Signal::NewLinkDomain, value, 0.0, c.domains.len() as u64, 0)
            .noted(note)
            .detailed(new)
    });

    let r = &s.campaign_24h;
    let businesses = m.context.campaign_businesses;
    let spam_probability = c.spam_probability.unwrap_or(0.0);
    let watched = r.categories.contains(&m.category);
    let campaign = businesses >= r.min_businesses
        && watched
        && (!r.young_only || m.young)
        && spam_probability >= r.min_spam_probability;
    out.push(campaign, || {
        let note = if c.fingerprint.is_none() {
            Some("text too short to fingerprint")
        } else if !watched {
            Some("category not watched for campaigns")
        } else if spam_probability < r.min_spam_probability {
            Some("the text itself does not read like spam")
        } else if businesses >= r.min_businesses && !campaign {
            Some("an established business: campaigns judge young ones only")
        } else {
            None
        };
        Reading::new(
            Signal::Campaign24h,
            f64::from(businesses),
            f64::from(r.min_businesses),
            u64::from(businesses),
            0,
        )
        .noted(note)
    });

    classifier || rules || phishing
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timestamp = Timestamp::from_millis(1_793_577_600_000);

    fn facts(spam_probability: f64, rules: &[&str]) -> ContentFacts {
        ContentFacts {
            spam_probability: Some(spam_probability),
            spam_threshold: 0.5,
            rule_score: 0.0,
            rules: rules.iter().map(|&r| r.into()).collect(),
            phishing: None,
            obfuscation: 0.0,
            domains: Vec::new(),
            fingerprint: Some(7),
        }
    }

    /// Every content reading of one message from `businesses` businesses at once.
    fn read(c: &ContentFacts, category: Category, businesses: u32, young: bool) -> Vec<Reading> {
        let mut out = Vec::new();
        let seen = Seen {
            ts: T,
            category,
            facts: Some(c),
            context: MessageContext {
                recipient_marketing_24h: 0,
                campaign_businesses: businesses,
            },
            young,
        };
        readings(
            &mut LinkHistory::default(),
            &seen,
            &Policy::default(),
            &mut Readings::new(&mut out, true),
        );
        out
    }

    fn one(readings: &[Reading], signal: Signal) -> Reading {
        readings
            .iter()
            .find(|r| r.signal == signal)
            .cloned()
            .unwrap()
    }

    #[test]
    fn the_rules_reading_counts_and_names_the_rules_that_fired() {
        let r = one(
            &read(&facts(0.1, &["fee", "urgent"]), Category::Utility, 0, false),
            Signal::ContentRules,
        );
        assert_eq!((r.count, r.detail.as_deref()), (2, Some("fee,urgent")));
        let r = one(
            &read(&facts(0.1, &[]), Category::Utility, 0, false),
            Signal::ContentRules,
        );
        assert_eq!((r.count, r.detail), (0, None));
    }

    #[test]
    fn the_campaign_reading_says_why_it_did_not_fire() {
        let policy = Policy::default();
        let rule = &policy.signals.campaign_24h;
        assert_eq!((rule.min_businesses, rule.min_spam_probability), (4, 0.5));
        let campaign = |spam: f64, category: Category, businesses: u32, young: bool| {
            let r = one(
                &read(&facts(spam, &[]), category, businesses, young),
                Signal::Campaign24h,
            );
            (r.fired, r.note)
        };
        let utility = Category::Utility;
        // Fires at the lines exactly.
        assert_eq!(campaign(0.5, utility, 4, true), (true, None));
        // Too few businesses: nothing to explain.
        assert_eq!(campaign(0.9, utility, 3, true), (false, None));
        assert_eq!(campaign(0.9, utility, 3, false), (false, None));
        assert_eq!(
            campaign(0.49, utility, 4, true),
            (false, Some("the text itself does not read like spam"))
        );
        assert_eq!(
            campaign(0.9, utility, 4, false),
            (
                false,
                Some("an established business: campaigns judge young ones only")
            )
        );
        assert_eq!(
            campaign(0.9, Category::Authentication, 9, true),
            (false, Some("category not watched for campaigns"))
        );
        let mut short = facts(0.9, &[]);
        short.fingerprint = None;
        let r = one(&read(&short, utility, 0, true), Signal::Campaign24h);
        assert_eq!(r.note, Some("text too short to fingerprint"));
    }
}
