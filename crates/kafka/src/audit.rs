//! Checking a verdicts topic against the core: every message of a log has a verdict, and each
//! verdict is the one the core gives its business's events in log order with the
//! cross-business inputs the verdict carries in its headers.

use std::collections::HashMap;

use rdkafka::Message as _;
use spamward_content::ContentEngine;
use spamward_core::cross::{CrossStore, context};
use spamward_core::{
    BusinessState, Category, ContentFacts, Event, MessageContext, Policy, Timestamp, apply,
};

use crate::Error;
use crate::topics;
use crate::worker::{HEADER_CAMPAIGN, HEADER_FATIGUE, header_number};

/// One verdict record as read back.
#[derive(Clone, Debug)]
pub struct VerdictRecord {
    /// The record key.
    pub business: String,
    /// The value: the verdict's JSON line.
    pub json: String,
    /// The cross-business inputs it was scored with, from its headers.
    pub ctx: MessageContext,
}

/// Every record of a verdicts topic, by message id, in topic order.
pub fn read_verdicts(
    brokers: &str,
    extra: &[(String, String)],
    topic: &str,
) -> Result<HashMap<String, Vec<VerdictRecord>>, Error> {
    let config = topics::config(brokers, extra);
    let Some(count) = topics::partitions(&config, topic)? else {
        return Err(Error::topic(topic, "does not exist"));
    };
    let reader = topics::reader(&config, &format!("{topic}.audit"), topic, 0..count)?;
    let mut out: HashMap<String, Vec<VerdictRecord>> = HashMap::new();
    topics::read_to_end(&reader, topic, 0..count, |m| {
        let at = format!("{topic}/{} offset {}", m.partition(), m.offset());
        let json = std::str::from_utf8(m.payload().unwrap_or_default())
            .map_err(|_| Error::record(&at, "value is not UTF-8"))?
            .to_owned();
        let id = field(&json, "message").ok_or_else(|| Error::record(&at, "no message id"))?;
        let headers = m.headers();
        let number = |key| {
            header_number(headers, key)
                .ok_or_else(|| Error::record(&at, format!("no {key} header")))
        };
        let ctx = MessageContext {
            recipient_marketing_24h: number(HEADER_FATIGUE)? as u64,
            campaign_businesses: number(HEADER_CAMPAIGN)? as u32,
        };
        let business = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
        out.entry(id).or_default().push(VerdictRecord {
            business,
            json,
            ctx,
        });
        Ok(())
    })?;
    Ok(out)
}

/// A string field of a JSON object.
fn field(json: &str, name: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

/// What [`audit`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    /// Messages in the log, each with a verdict.
    pub messages: u64,
    /// Messages with more than one verdict (scored again after their owner died).
    pub scored_twice: u64,
    /// Marketing messages whose recipient count includes others' sends.
    pub fatigue_above_one: u64,
    /// Messages whose campaign count includes other businesses.
    pub campaign_above_one: u64,
}

/// Checks verdicts against the core over `events` (the log, in log order): each message has a
/// verdict, its latest verdict is the core's given the recorded cross-business inputs, nothing
/// but the log's messages has one, no recipient count exceeds what the log holds in the 24 h
/// before the message, and a campaign count is zero exactly where the message is not one the
/// campaign signal counts (a fingerprinted message counts itself). The first discrepancy is the
/// error.
///
/// Cross-business counts are checked from above and for the message itself only: a member's
/// view holds what the other members had published when it scored, so a count may lack sends of
/// other partitions, and the recipient index remembers the latest `cap + 1` sends, so one that
/// scores a partition behind the others may count fewer of its own partition's sends too.
pub fn audit(
    events: &[Event],
    verdicts: &HashMap<String, Vec<VerdictRecord>>,
    policy: &Policy,
    content: Option<&ContentEngine>,
) -> Result<Audit, String> {
    // Each recipient's marketing sends in the whole log, in time order.
    let mut marketing: HashMap<&str, Vec<Timestamp>> = HashMap::new();
    for ev in events {
        if let Event::Message(m) = ev
            && m.category == Category::Marketing
        {
            marketing
                .entry(m.recipient.as_str())
                .or_default()
                .push(m.ts);
        }
    }
    marketing.values_mut().for_each(|t| t.sort_unstable());
    let cap = policy.signals.recipient_fatigue_24h.cap;
    let day = spamward_core::time::DAY;

    let mut found = Audit::default();
    let mut states: HashMap<&str, BusinessState> = HashMap::new();
    for ev in events {
        let state = states
            .entry(ev.business())
            .or_insert_with(|| BusinessState::new(ev.ts()));
        let Event::Message(m) = ev else {
            apply(state, ev, MessageContext::default(), None, policy);
            continue;
        };
        found.messages += 1;
        let got = verdicts
            .get(&m.id)
            .ok_or_else(|| format!("message {}: no verdict", m.id))?;
        found.scored_twice += u64::from(got.len() > 1);
        let last = got.last().expect("an entry has a record");
        if last.business != m.business {
            return Err(format!(
                "message {}: keyed by {:?}, sent by {:?}",
                m.id, last.business, m.business
            ));
        }
        let facts = content.map(|c| ContentFacts::analyze(c, &m.text));
        let v = apply(state, ev, last.ctx, facts.as_ref(), policy).expect("a message's verdict");
        let mut expected = Vec::new();
        v.write_json(&mut expected);
        if expected != last.json.as_bytes() {
            return Err(format!(
                "message {}: verdict {} but the core gives {}",
                m.id,
                last.json,
                String::from_utf8_lossy(&expected)
            ));
        }
        // A message the campaign signal counts counts itself, so its count is zero exactly when
        // it is not one: the core's own `context` says which, asked with a count of one. (The
        // whole log's count is no upper bound: a member reading one partition ahead of another
        // has recorded later sends of the same text, and the index keeps each business's latest
        // send.)
        let counted = context(&mut Probe, m, facts.as_ref(), policy).campaign_businesses == 1;
        let n = last.ctx.campaign_businesses;
        if (n > 0) != counted {
            return Err(format!(
                "message {}: campaign count {n}, but the campaign signal {} it",
                m.id,
                if counted { "counts" } else { "does not count" }
            ));
        }
        found.campaign_above_one += u64::from(n > 1);
        if m.category == Category::Marketing {
            let times = &marketing[m.recipient.as_str()];
            let in_log = (times.partition_point(|&t| t <= m.ts)
                - times.partition_point(|&t| t + day <= m.ts)) as u64;
            let n = last.ctx.recipient_marketing_24h;
            if n == 0 || n > in_log.min(cap + 1) {
                return Err(format!(
                    "message {}: recipient count {n}, but the log holds {in_log} in its 24 h",
                    m.id
                ));
            }
            found.fatigue_above_one += u64::from(n > 1);
        }
    }
    if verdicts.len() as u64 != found.messages {
        return Err(format!(
            "{} message ids have verdicts, the log has {} messages",
            verdicts.len(),
            found.messages
        ));
    }
    Ok(found)
}

/// A store that records nothing and answers 1 to every campaign question: asked through the
/// core's `context`, it tells whether the campaign signal counts a message at all.
struct Probe;

impl CrossStore for Probe {
    fn fatigue(&mut self, _: u64, _: Timestamp, _: u64) -> u64 {
        0
    }

    fn campaign(&mut self, _: u64, _: u64, _: Timestamp) -> u32 {
        1
    }
}
