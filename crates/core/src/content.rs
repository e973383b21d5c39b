//! Content facts: what the core keeps of a message's content analysis, and the cross-business
//! campaign index.
//!
//! `spamward_content` analyses a text (normal form, rules, links, classifier, fingerprint); the
//! core needs only a few facts of that [`Analysis`] to judge a message and to fold it into its
//! business's state. [`ContentFacts::of`] extracts them once, so drivers can analyse messages in
//! parallel (the expensive part) and hand the facts to the per-business pass.
//!
//! Campaigns cross businesses: a snowshoe operation spreads one text over many fresh small
//! senders, each of which alone looks like a small shop. [`Campaigns`] indexes the recent
//! fingerprints of every business by the four 16-bit bands of the SimHash (two fingerprints
//! within Hamming distance 3 share a band), and answers, for a new message, how many distinct
//! businesses sent a near-identical text in the last 24 h. Like recipient fatigue, it is updated in
//! the order messages arrive: log order in replay, arrival order in the filter.

use std::sync::Arc;

use bincode::{Decode, Encode};
use rustc_hash::FxHashMap;
use spamward_content::{Analysis, ContentEngine, Fingerprint};

use crate::time::{Millis, Timestamp};

/// What the core keeps of one message's content analysis. It encodes (`bincode`), so that a replay
/// can keep the facts of a log for the next replay of it (the analysis depends only on the text
/// and the content heuristics, never on the policy or the state).
#[derive(Clone, Debug, Default, PartialEq, Encode, Decode)]
pub struct ContentFacts {
    /// The classifier's spam probability, if the engine has a model.
    pub spam_probability: Option<f64>,
    /// The model's decision threshold (the probability at or above which it says spam).
    pub spam_threshold: f64,
    /// The noisy-or of the weights of the rules that fired.
    pub rule_score: f64,
    /// The ids of the rules that fired, in rule order.
    pub rules: Vec<Arc<str>>,
    /// A link that impersonates a protected brand or is blocklisted: `domain (why)`.
    pub phishing: Option<String>,
    /// How much normalising the text needed, 0..1.
    pub obfuscation: f64,
    /// The registrable domains linked, with their 64-bit keys, in order of appearance.
    pub domains: Vec<(u64, String)>,
    /// The SimHash of the masked normal form, if the text is long enough to judge by it.
    pub fingerprint: Option<u64>,
}

impl ContentFacts {
    /// Analyses `text` with `engine` and keeps the facts.
    pub fn analyze(engine: &ContentEngine, text: &str) -> ContentFacts {
        let threshold = engine.model().map_or(1.0, |m| m.threshold());
        engine.analyze_then(text, |analysis| ContentFacts::of(analysis, threshold))
    }

    /// The facts of an analysis; `spam_threshold` is the model's.
    pub fn of(a: &Analysis, spam_threshold: f64) -> ContentFacts {
        let rules = a.rule_hits.iter().map(|h| Arc::clone(&h.id)).collect();
        let phishing = a.links.iter().find_map(|l| {
            let domain = l.registrable_domain.as_deref().unwrap_or(&l.host);
            if let Some(look) = &l.lookalike {
                Some(format!("{domain} (lookalike of {})", look.brand))
            } else if l.blocklisted {
                Some(format!("{domain} (blocklisted)"))
            } else {
                None
            }
        });
        let mut domains: Vec<(u64, String)> = Vec::new();
        for l in &a.links {
            let d = l.registrable_domain.as_deref().unwrap_or(&l.host);
            let key = crate::corpus::fnv1a64(d.as_bytes());
            if !domains.iter().any(|(k, _)| *k == key) {
                domains.push((key, d.to_owned()));
            }
        }
        ContentFacts {
            spam_probability: a.spam_probability,
            spam_threshold,
            rule_score: a.rule_score(),
            rules,
            phishing,
            obfuscation: a.normalized.obfuscation.score,
            domains,
            fingerprint: a.fingerprint.is_strong().then_some(a.fingerprint.simhash),
        }
    }

    /// The probability at or above which the classifier's say counts: the model's threshold, or
    /// `min_probability` when higher.
    pub fn classifier_line(&self, min_probability: f64) -> f64 {
        self.spam_threshold.max(min_probability)
    }

    /// Whether the classifier says spam at that line.
    pub fn classifier_spam(&self, min_probability: f64) -> bool {
        self.spam_probability
            .is_some_and(|p| p >= self.classifier_line(min_probability))
    }
}

/// One message's entry in a band bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
struct Entry {
    simhash: u64,
    business: u64,
    ts: Timestamp,
}

/// The recent fingerprints that share one 16-bit band value at one position: at most one entry
/// per business (its latest), at most [`Campaigns::BUCKET`] businesses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Bucket {
    entries: Vec<Entry>,
}

impl Bucket {
    /// Adds the businesses of entries near `simhash` (Hamming distance at most `distance`) and
    /// newer than `from` to `out`, once each.
    fn matches(&self, simhash: u64, from: Timestamp, distance: u32, out: &mut Vec<u64>) {
        // A bucket holds one entry per business, so only what `out` held before can repeat.
        let known = out.len();
        for e in &self.entries {
            if e.ts > from
                && (e.simhash ^ simhash).count_ones() <= distance
                && !out[..known].contains(&e.business)
            {
                out.push(e.business);
            }
        }
    }

    /// Records a message: replaces the business's entry if it has one, else adds one, dropping
    /// entries older than `from` and, past the bucket's size, the oldest.
    fn record(&mut self, simhash: u64, business: u64, ts: Timestamp, from: Timestamp) {
        self.entries.retain(|e| e.ts > from);
        let entry = Entry {
            simhash,
            business,
            ts,
        };
        if let Some(e) = self.entries.iter_mut().find(|e| e.business == business) {
            if ts >= e.ts {
                *e = entry;
            }
            return;
        }
        if self.entries.len() >= Campaigns::BUCKET
            && let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.ts)
                .map(|(i, _)| i)
        {
            self.entries.swap_remove(oldest);
        }
        self.entries.push(entry);
    }

    /// The latest time recorded.
    pub fn latest(&self) -> Option<Timestamp> {
        self.entries.iter().map(|e| e.ts).max()
    }
}

/// The key of each band bucket of a fingerprint ([`Fingerprint::bands`]): the band's position
/// and its value.
fn band_keys(simhash: u64) -> [u32; 4] {
    let bands = Fingerprint { simhash, tokens: 0 }.bands();
    std::array::from_fn(|i| ((i as u32) << 16) | u32::from(bands[i]))
}

/// Near-identical texts from many businesses in the last 24 h.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Campaigns {
    buckets: FxHashMap<u32, Bucket>,
}

impl Campaigns {
    /// Businesses remembered per bucket: the largest cluster size the index can report.
    pub const BUCKET: usize = 64;
    /// Hamming distance up to which two fingerprints are the same text.
    pub const DISTANCE: u32 = 3;

    /// Records a message of `business` with fingerprint `simhash` at `ts`, and returns how many
    /// distinct businesses (this one included) sent a near-identical text after `ts - window`.
    /// In log order that is `(ts - window, ts]`. A message that arrives late also counts sends
    /// stamped after it that were recorded before it (each business is kept by its latest send,
    /// and sends older than the window are forgotten as newer ones arrive), so the index answers
    /// for the order messages reach it, as the filter meets them.
    pub fn observe(&mut self, simhash: u64, business: u64, ts: Timestamp, window: Millis) -> u32 {
        Campaigns::observe_with(simhash, business, ts, window, |key, visit| {
            visit(self.buckets.entry(key).or_default())
        })
    }

    /// [`Campaigns::observe`] over buckets kept elsewhere (the streaming filter's concurrent
    /// map): `bucket(key, visit)` must call `visit` once on the bucket of `key`, created empty if
    /// missing. Buckets are visited one at a time, never two at once.
    pub fn observe_with(
        simhash: u64,
        business: u64,
        ts: Timestamp,
        window: Millis,
        mut bucket: impl FnMut(u32, &mut dyn FnMut(&mut Bucket)),
    ) -> u32 {
        let from = ts.saturating_sub(window);
        let mut seen = Campaigns::seen(business);
        for key in band_keys(simhash) {
            // Matching before recording: this message's own entry is of a business already seen.
            bucket(key, &mut |b| {
                b.matches(simhash, from, Campaigns::DISTANCE, &mut seen);
                b.record(simhash, business, ts, from);
            });
        }
        seen.len() as u32
    }

    /// How many distinct businesses (`business` included) sent a near-identical text after
    /// `ts - window` (as [`Campaigns::observe`] counts them), recording nothing: for a message already recorded (scored again), the
    /// count [`Campaigns::observe`] returned for it, unless later sends have moved the buckets.
    pub fn count(&self, simhash: u64, business: u64, ts: Timestamp, window: Millis) -> u32 {
        let from = ts.saturating_sub(window);
        let mut seen = Campaigns::seen(business);
        for key in band_keys(simhash) {
            if let Some(b) = self.buckets.get(&key) {
                b.matches(simhash, from, Campaigns::DISTANCE, &mut seen);
            }
        }
        seen.len() as u32
    }

    /// The businesses seen, `business` first, with room for every entry of four buckets.
    fn seen(business: u64) -> Vec<u64> {
        let mut seen = Vec::with_capacity(1 + 4 * Campaigns::BUCKET);
        seen.push(business);
        seen
    }

    /// Forgets buckets with nothing newer than `horizon`.
    pub fn sweep(&mut self, horizon: Timestamp) {
        self.buckets
            .retain(|_, b| b.latest().is_some_and(|t| t > horizon));
    }

    /// Buckets held.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{DAY, HOUR};

    /// A millisecond.
    const MS: Millis = Millis::from_millis(1);

    #[test]
    fn near_identical_texts_from_distinct_businesses_are_counted_once_each() {
        let mut c = Campaigns::default();
        let t = Timestamp::EPOCH + 1_000 * DAY;
        let fp = 0x1234_5678_9abc_def0u64;
        assert_eq!(c.observe(fp, 1, t, DAY), 1);
        assert_eq!(c.observe(fp, 1, t + MS, DAY), 1, "the same business again");
        assert_eq!(c.observe(fp ^ 0b101, 2, t + 2 * MS, DAY), 2, "distance 2");
        assert_eq!(
            c.observe(fp ^ 0xf0, 3, t + 3 * MS, DAY),
            1,
            "distance 4: another text"
        );
        assert_eq!(c.observe(fp, 4, t + 4 * MS, DAY), 3);
        // A day after the first ones, only the later sends count.
        assert_eq!(
            c.observe(fp, 5, t + 2 * MS + DAY, DAY),
            2,
            "5, and 4 (1 and 2 are too old)"
        );
        c.sweep(t + 10 * DAY);
        assert!(c.is_empty());
    }

    #[test]
    fn a_business_is_remembered_by_its_latest_send() {
        let mut c = Campaigns::default();
        let t = Timestamp::EPOCH + 1_000 * DAY;
        let fp = 0x1234_5678_9abc_def0u64;
        c.observe(fp, 1, t + 20 * HOUR, DAY);
        // A late send of business 1 does not replace its later one.
        c.observe(fp, 1, t, DAY);
        assert_eq!(c.observe(fp, 2, t + DAY + HOUR, DAY), 2);
        assert_eq!(c.count(fp, 3, t + DAY + HOUR, DAY), 3);
        assert_eq!(c.count(fp ^ 0xffff, 3, t + DAY, DAY), 1, "another text");
    }

    #[test]
    fn each_band_has_its_own_bucket_and_a_sweep_keeps_what_is_newer() {
        let mut c = Campaigns::default();
        let t = Timestamp::EPOCH + 1_000 * DAY;
        assert!(c.is_empty());
        // Four equal bands are still four buckets: a band's key names its position.
        c.observe(0x0001_0001_0001_0001, 1, t, DAY);
        assert_eq!(c.len(), 4);
        c.observe(0x0002_0003_0004_0005, 1, t + MS, DAY);
        assert_eq!(c.len(), 8);
        c.sweep(t - MS);
        assert_eq!(c.len(), 8);
        c.sweep(t);
        assert_eq!(c.len(), 4, "the buckets of the send at t are gone");
        assert!(!c.is_empty());
    }

    #[test]
    fn facts_list_each_rule_once_and_each_linked_domain_once() {
        let engine = spamward_content::ContentEngine::default();
        let text = "URGENT! You have WON a guaranteed prize. Claim now: call 09061701461 or \
                    visit http://win.prize-claims.com/a and http://prize-claims.com/b, \
                    or http://other.example.org";
        let (facts, ids) = engine.analyze_then(text, |a| {
            let ids: Vec<Arc<str>> = a.rule_hits.iter().map(|h| Arc::clone(&h.id)).collect();
            (ContentFacts::of(a, 0.5), ids)
        });
        assert!(ids.len() >= 2, "{ids:?}");
        assert_eq!(facts.rules, ids);
        let domains: Vec<&str> = facts.domains.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(domains, ["prize-claims.com", "example.org"]);
    }

    #[test]
    fn a_bucket_keeps_at_most_its_size() {
        let mut c = Campaigns::default();
        let t = Timestamp::EPOCH + 1_000 * DAY;
        let mut last = 0;
        for b in 0..200u64 {
            last = c.observe(42, b, t + b * MS, DAY);
        }
        // The last sender and the most recent BUCKET before it.
        assert_eq!(last as usize, Campaigns::BUCKET + 1);
        assert!(
            c.buckets
                .values()
                .all(|b| b.entries.len() <= Campaigns::BUCKET)
        );
    }
}
