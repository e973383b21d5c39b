//! The signals that cross businesses, shared by every instance through the signals topic.
//!
//! Two signals count across businesses: how much marketing a recipient got from everybody in
//! 24 h (keyed by recipient) and how many businesses sent a near-identical text in 24 h (keyed
//! by fingerprint). Neither fits in one business's partition. Each instance therefore keeps a
//! [`CrossView`] of both, and:
//!
//! * counts every message it scores into its view at once, and publishes what it counted as an
//!   [`Observation`] on the signals topic, keyed by what it counts (recipient or fingerprint);
//! * reads the whole signals topic (every partition, outside the consumer group) and folds the
//!   other instances' observations into its view.
//!
//! Observations carry a hash of their message id, and the view counts each message once,
//! however often it arrives: its own echo, or a message scored a second time after its
//! partition changed owner. So a count never includes a message twice; what it may lack is
//! what other instances had not yet published when it was read — its staleness, bounded by the
//! worker (see the crate documentation).
//!
//! Observation value layout (little-endian), the key being the first `u64` big-endian:
//!
//! ```text
//! fatigue  (kind 1): u8 kind, u64 recipient key, u64 ts, u64 message hash                  = 25 bytes
//! campaign (kind 2): u8 kind, u64 fingerprint, u64 business key, u64 ts, u64 message hash  = 33 bytes
//! ```

use rustc_hash::FxHashMap;
use spamward_core::corpus::fnv1a64;
use spamward_core::cross::{CrossState, CrossStore, Sweep, context};
use spamward_core::{ContentFacts, Message, MessageContext, Millis, Policy, Timestamp};

const FATIGUE: u8 = 1;
const CAMPAIGN: u8 = 2;

/// One message counted by a cross-business signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A marketing message to a recipient.
    Fatigue {
        /// The recipient's key (`spamward_core::business::recipient_key`).
        recipient: u64,
        /// Event time.
        ts: Timestamp,
        /// Hash of the message id.
        message: u64,
    },
    /// A fingerprinted message of a business.
    Campaign {
        /// The text's SimHash.
        simhash: u64,
        /// The business's key.
        business: u64,
        /// Event time.
        ts: Timestamp,
        /// Hash of the message id.
        message: u64,
    },
}

impl Observation {
    /// The record key: what the observation counts.
    pub fn key(&self) -> [u8; 8] {
        match *self {
            Observation::Fatigue { recipient, .. } => recipient.to_be_bytes(),
            Observation::Campaign { simhash, .. } => simhash.to_be_bytes(),
        }
    }

    /// The record value.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(33);
        let mut put = |x: u64| v.extend_from_slice(&x.to_le_bytes());
        match *self {
            Observation::Fatigue {
                recipient,
                ts,
                message,
            } => {
                put(recipient);
                put(ts.as_millis());
                put(message);
                v.insert(0, FATIGUE);
            }
            Observation::Campaign {
                simhash,
                business,
                ts,
                message,
            } => {
                put(simhash);
                put(business);
                put(ts.as_millis());
                put(message);
                v.insert(0, CAMPAIGN);
            }
        }
        v
    }

    /// Reads a record value.
    pub fn decode(v: &[u8]) -> Result<Observation, String> {
        let word = |i: usize| u64::from_le_bytes(v[1 + 8 * i..9 + 8 * i].try_into().expect("8"));
        match (v.first(), v.len()) {
            (Some(&FATIGUE), 25) => Ok(Observation::Fatigue {
                recipient: word(0),
                ts: Timestamp::from_millis(word(1)),
                message: word(2),
            }),
            (Some(&CAMPAIGN), 33) => Ok(Observation::Campaign {
                simhash: word(0),
                business: word(1),
                ts: Timestamp::from_millis(word(2)),
                message: word(3),
            }),
            (kind, len) => Err(format!(
                "not a signal observation (kind {kind:?}, {len} bytes)"
            )),
        }
    }

    fn ts(&self) -> Timestamp {
        match *self {
            Observation::Fatigue { ts, .. } | Observation::Campaign { ts, .. } => ts,
        }
    }

    /// The key the view deduplicates by: the message and the signal.
    fn seen_key(&self) -> u64 {
        match *self {
            Observation::Fatigue { message, .. } => message,
            Observation::Campaign { message, .. } => message.rotate_left(1) ^ 0x9e37_79b9,
        }
    }
}

/// One instance's view of the cross-business signals: the core's [`CrossState`], and the
/// messages it has counted, so that none is counted twice.
#[derive(Debug, Default)]
pub struct CrossView {
    state: CrossState,
    /// Observations counted, by [`Observation::seen_key`], with their event time.
    seen: FxHashMap<u64, Timestamp>,
}

impl CrossView {
    /// A view that keeps entries `lateness` longer than the 24 h the signals look back, for
    /// partitions (and other instances) whose event time trails this instance's latest.
    pub fn new(lateness: Millis) -> CrossView {
        CrossView {
            state: CrossState::new(Sweep { lateness }),
            seen: FxHashMap::default(),
        }
    }

    /// The cross-business context of a message this instance scores, counting it; what it
    /// counted is appended to `out`, to publish. A message counted before (scored again, or
    /// already published by its partition's previous owner) is not counted twice: it gets the
    /// count it has in the view.
    pub fn context(
        &mut self,
        m: &Message,
        content: Option<&ContentFacts>,
        policy: &Policy,
        out: &mut Vec<Observation>,
    ) -> MessageContext {
        self.tick(m.ts);
        let mut once = Once {
            view: self,
            message: fnv1a64(m.id.as_bytes()),
            out,
        };
        context(&mut once, m, content, policy)
    }

    /// Folds in an observation read from the signals topic; false if it was counted already or
    /// is too old to count for anything.
    pub fn apply(&mut self, obs: &Observation, policy: &Policy) -> bool {
        if obs.ts() <= self.state.horizon() || self.seen.contains_key(&obs.seen_key()) {
            return false;
        }
        self.seen.insert(obs.seen_key(), obs.ts());
        match *obs {
            Observation::Fatigue { recipient, ts, .. } => {
                let cap = policy.signals.recipient_fatigue_24h.cap;
                self.state.fatigue(recipient, ts, cap);
            }
            Observation::Campaign {
                simhash,
                business,
                ts,
                ..
            } => {
                self.state.campaign(simhash, business, ts);
            }
        }
        true
    }

    /// Recipients and campaign buckets held.
    pub fn held(&self) -> (usize, usize) {
        self.state.held()
    }

    /// Moves the clock; when the core's sweep runs, the counted messages it leaves behind are
    /// forgotten too.
    fn tick(&mut self, ts: Timestamp) {
        if let Some(horizon) = self.state.tick(ts) {
            self.seen.retain(|_, &mut t| t > horizon);
        }
    }
}

/// The view as the store of one scored message: a count it has not counted yet is recorded and
/// published; one counted before is read back, recording nothing.
struct Once<'a> {
    view: &'a mut CrossView,
    message: u64,
    out: &'a mut Vec<Observation>,
}

impl Once<'_> {
    /// Marks `obs` counted; true if it was not before (and then it is to publish).
    fn first(&mut self, obs: Observation) -> bool {
        let fresh = self.view.seen.insert(obs.seen_key(), obs.ts()).is_none();
        if fresh {
            self.out.push(obs);
        }
        fresh
    }
}

impl CrossStore for Once<'_> {
    fn fatigue(&mut self, recipient: u64, ts: Timestamp, cap: u64) -> u64 {
        let message = self.message;
        if self.first(Observation::Fatigue {
            recipient,
            ts,
            message,
        }) {
            self.view.state.fatigue(recipient, ts, cap)
        } else {
            self.view.state.fatigue_count(recipient, ts)
        }
    }

    fn campaign(&mut self, simhash: u64, business: u64, ts: Timestamp) -> u32 {
        let message = self.message;
        if self.first(Observation::Campaign {
            simhash,
            business,
            ts,
            message,
        }) {
            self.view.state.campaign(simhash, business, ts)
        } else {
            self.view.state.campaign_count(simhash, business, ts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spamward_core::{Engine, Event};

    /// One view fed a log in order gives the batch engine's context for every message, and
    /// nothing changes when every observation comes back (echoes) or a message is scored twice.
    #[test]
    fn a_single_view_counts_like_the_engine_and_each_message_once() {
        let events = crate::tests::world(30, 5_000, 2, 5);
        let policy = Policy::default();
        let content = spamward_content::ContentEngine::default();
        let mut engine = Engine::new(policy.clone());
        let mut view = CrossView::new(Millis::ZERO);
        let mut echo = CrossView::new(Millis::ZERO);
        let mut out = Vec::new();
        let mut fired = 0;
        for ev in &events {
            let expected = engine.observe_explained(ev);
            let Event::Message(m) = ev else { continue };
            let facts = ContentFacts::analyze(&content, &m.text);
            out.clear();
            let ctx = view.context(m, Some(&facts), &policy, &mut out);
            // Every observation echoed back, and the message scored a second time.
            for o in &out {
                assert!(!view.apply(o, &policy), "an echo is not counted again");
                assert!(echo.apply(&Observation::decode(&o.encode()).unwrap(), &policy));
            }
            let again = view.context(m, Some(&facts), &policy, &mut out);
            assert_eq!(again, ctx, "scored again, the same context");
            let (_, readings) = expected.unwrap();
            let reading = |s| {
                readings
                    .iter()
                    .find(|r| r.signal == s)
                    .map(|r| r.count)
                    .unwrap()
            };
            if m.category == spamward_core::Category::Marketing {
                assert_eq!(
                    ctx.recipient_marketing_24h,
                    reading(spamward_core::Signal::RecipientFatigue24h)
                );
            }
            assert_eq!(
                u64::from(ctx.campaign_businesses),
                reading(spamward_core::Signal::Campaign24h)
            );
            fired += u64::from(ctx.recipient_marketing_24h > 1);
        }
        assert!(
            fired > 0,
            "some recipient got more than one marketing message"
        );
        // The view fed only other instances' observations holds the same counts.
        assert_eq!(echo.held(), view.held());
    }

    #[test]
    fn bad_observations_are_refused() {
        assert!(Observation::decode(&[]).is_err());
        assert!(Observation::decode(&[1; 24]).is_err());
        assert!(Observation::decode(&[3; 25]).is_err());
    }
}
