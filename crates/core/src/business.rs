//! Per-business state: windows, counters, baselines, standing — and the verdict on each message.
//!
//! One [`BusinessState`] sees every event of its business, in the order the caller hands them in,
//! and nothing else: state is keyed by business id, so work partitions by business (threads now,
//! machines later). The only cross-business input a message needs — how much marketing its
//! recipient already got from everybody — arrives in a [`MessageContext`] computed by the caller.
//!
//! The business's "now" is the latest event time it has seen. Its standing (the business-level
//! signals, its status, quality and tier) is re-evaluated after feedback and delivery events, every
//! minute of event time and every few messages, so the expensive posteriors run far less often than
//! once per message while every decision still depends on the events alone.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::ops::{AddAssign, SubAssign};

use bincode::{Decode, Encode};
use serde::Serialize;

use crate::content::ContentFacts;
use crate::event::{
    BusinessInfo, Category, Delivery, DeliveryStatus, Feedback, FeedbackKind, Message, Tier,
    Timestamp,
};
use crate::policy::{BusinessAction, MessageAction, Policy, RateRule};
use crate::signal::{Family, Hit, Scope, Signal};
use crate::stats::{Prior, poisson_upper_tail};
use crate::verdict::{Action, Quality, Status, StatusChange, Verdict};
use crate::window::{Counter, Ring, Span};

const HOUR: u64 = 3_600_000;
/// Status changes kept per business (the most recent ones).
const MAX_CHANGES: usize = 256;
/// Linked domains remembered per business; past it, the least recently linked is forgotten.
const MAX_DOMAINS: usize = 256;
/// Hours of history kept per business: five weeks.
const HISTORY_HOURS: usize = 24 * 35;

/// What a message's verdict needs from outside its business.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageContext {
    /// Marketing messages the recipient got from all businesses in the last 24 h, this one
    /// included (0 for other categories).
    pub recipient_marketing_24h: u64,
    /// Distinct businesses, this one included, that sent a near-identical text in the last 24 h
    /// (0 when the message has no usable fingerprint).
    pub campaign_businesses: u32,
}

/// The stable 64-bit key of a recipient id. Collisions are negligible at any realistic scale
/// (about one in 10^8 pairs among a million recipients).
pub fn recipient_key(id: &str) -> u64 {
    crate::corpus::fnv1a64(id.as_bytes())
}

/// Counters per time bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
struct Counts {
    messages: u32,
    marketing: u32,
    blocks: u32,
    reports: u32,
    opt_outs: u32,
    deliveries: u32,
    delivered: u32,
    failed: u32,
    invalid: u32,
    reads: u32,
    replies: u32,
    /// Messages whose content was flagged.
    flagged: u32,
}

/// `AddAssign`, `SubAssign` and [`Counter`] for [`Counts`], field by field, from one list of its
/// fields; the pattern below names every field, so a field added to `Counts` and not here does
/// not compile.
macro_rules! counts_field_wise {
    ($($field:ident),+ $(,)?) => {
        const _: fn(Counts) = |Counts { $($field: _),+ }| {};

        impl AddAssign for Counts {
            fn add_assign(&mut self, o: Counts) {
                $(self.$field += o.$field;)+
            }
        }

        impl SubAssign for Counts {
            fn sub_assign(&mut self, o: Counts) {
                $(self.$field -= o.$field;)+
            }
        }

        impl Counter for Counts {
            fn checked_add(self, o: Counts) -> Option<Counts> {
                Some(Counts {
                    $($field: self.$field.checked_add(o.$field)?,)+
                })
            }
        }
    };
}

counts_field_wise!(
    messages, marketing, blocks, reports, opt_outs, deliveries, delivered, failed, invalid, reads,
    replies, flagged,
);

impl Counts {
    fn complaints(&self) -> u64 {
        u64::from(self.blocks) + u64::from(self.reports)
    }
}

/// What the business's state remembers of one recipient. Times are 0 for "never".
#[derive(Clone, Copy, Debug, Default, Encode, Decode)]
struct Recipient {
    /// Latest message of any kind.
    last_msg: Timestamp,
    /// Latest allowed business-initiated message (counts toward the tier limit).
    last_tier: Timestamp,
    /// Latest marketing message.
    last_marketing: Timestamp,
    /// Latest reply: opens the customer-service window.
    last_reply: Timestamp,
    /// Opted out of marketing and not replied since.
    opted_out: bool,
}

impl Recipient {
    fn last_activity(&self) -> Timestamp {
        self.last_msg
            .max(self.last_tier)
            .max(self.last_marketing)
            .max(self.last_reply)
    }
}

/// Lifetime counts of a business, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Encode, Decode)]
pub struct Totals {
    /// Messages seen.
    pub messages: u64,
    /// Of which marketing.
    pub marketing: u64,
    /// Blocks.
    pub blocks: u64,
    /// Spam reports.
    pub reports: u64,
    /// Opt-outs.
    pub opt_outs: u64,
    /// Reads.
    pub reads: u64,
    /// Replies.
    pub replies: u64,
    /// Delivered receipts.
    pub delivered: u64,
    /// Failed receipts.
    pub failed: u64,
    /// Failed as `invalid_number`.
    pub invalid_numbers: u64,
    /// Verdicts: allow.
    pub allowed: u64,
    /// Verdicts: throttle.
    pub throttled: u64,
    /// Verdicts: hold.
    pub held: u64,
    /// Verdicts: block.
    pub blocked: u64,
    /// Messages whose content was flagged (classifier, rules at their threshold, phishing link).
    pub flagged_content: u64,
}

/// One hour of a business's history: what it sent, what was done with it, what came back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Encode, Decode)]
pub struct HourCounts {
    /// Start of the hour, ms.
    pub hour: Timestamp,
    /// Messages.
    pub messages: u32,
    /// Allowed.
    pub allowed: u32,
    /// Throttled.
    pub throttled: u32,
    /// Held.
    pub held: u32,
    /// Blocked.
    pub blocked: u32,
    /// Complaints (blocks + reports) received.
    pub complaints: u32,
    /// Unique recipients in the 24 h window at the end of the hour (the tier's measure uses
    /// business-initiated ones; this is all of them).
    pub recipients_24h: u32,
}

/// The first message that was not simply allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Encode, Decode)]
pub struct FirstAction {
    /// Its event time.
    pub ts: Timestamp,
    /// Its id.
    pub message: String,
    /// What was done with it.
    pub action: Action,
    /// Messages of the business allowed before it.
    pub allowed_before: u64,
}

/// Hourly volume baseline: an EWMA of hourly counts and a slowly decaying peak hour.
#[derive(Clone, Debug, Default, Encode, Decode)]
struct Baseline {
    /// Absolute hour index (`ts / 1h`) being counted.
    hour: u64,
    /// Messages in that hour so far.
    count: u64,
    /// EWMA of completed hours.
    ewma: f64,
    /// Largest completed hour, decayed.
    peak: f64,
    /// Completed hours folded in.
    hours: u64,
}

impl Baseline {
    fn add(&mut self, ts: Timestamp, alpha: f64, half_life_h: f64) {
        let h = ts / HOUR;
        if self.hour == 0 {
            self.hour = h;
        }
        if h > self.hour {
            let decay = 0.5f64.powf(1.0 / half_life_h);
            let c = self.count as f64;
            self.ewma = if self.hours == 0 {
                c
            } else {
                alpha * c + (1.0 - alpha) * self.ewma
            };
            self.peak = (self.peak * decay).max(c);
            // Empty hours in between, at most four weeks of them one by one.
            let empty = (h - self.hour - 1).min(24 * 28);
            self.ewma *= (1.0 - alpha).powi(empty as i32);
            self.peak *= decay.powi(empty as i32);
            self.hours += 1 + (h - self.hour - 1);
            self.hour = h;
            self.count = 0;
        }
        self.count += 1;
    }
}

const NOTE_EMPTY: &str = "nothing in the window yet";
const NOTE_FEW: &str = "too few events to judge yet (min_count)";

/// One signal's reading at a moment, fired or not: what an analyst asks for when a verdict needs
/// explaining. The hits in verdicts are exactly the readings that fired.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reading {
    /// The signal.
    pub signal: Signal,
    /// The measured value.
    pub value: f64,
    /// The policy's line.
    pub threshold: f64,
    /// The window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Span>,
    /// For rates: the posterior probability of being beyond the line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// For the burst test: the Poisson upper-tail probability of the hour's count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// The events behind the value (complaints, failures, messages ...).
    pub count: u64,
    /// Out of (recipients, deliveries; 0 where not a rate).
    pub of: u64,
    /// Whether it fired.
    pub fired: bool,
    /// Why it could not judge, or did not apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// What the signal saw, where a number does not say it (rule ids, a domain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Reading {
    fn new(signal: Signal, value: f64, threshold: f64, count: u64, of: u64) -> Reading {
        let h = Hit::new(signal, value, threshold);
        Reading {
            signal,
            value: h.value,
            threshold: h.threshold,
            window: h.window,
            probability: None,
            p_value: None,
            count,
            of,
            fired: false,
            note: None,
            detail: None,
        }
    }

    fn detailed(mut self, detail: Option<String>) -> Reading {
        self.detail = detail;
        self
    }

    fn with_probability(mut self, p: f64) -> Reading {
        self.probability = Some(crate::signal::round_sig(p));
        self
    }

    fn fired(mut self, fired: bool) -> Reading {
        self.fired = fired;
        self
    }

    fn noted(mut self, note: Option<&'static str>) -> Reading {
        self.note = note;
        self
    }

    /// The hit this reading is when it fired.
    pub fn into_hit(self) -> Hit {
        Hit {
            signal: self.signal,
            value: self.value,
            threshold: self.threshold,
            window: self.window,
            probability: self.probability,
            detail: self.detail,
        }
    }
}

/// Everything spamward knows about one business.
#[derive(Clone, Debug, Encode, Decode)]
pub struct BusinessState {
    tier: Tier,
    verified: bool,
    /// Set by a `business` record: the platform knew the account before the log started.
    established: bool,
    created: Option<Timestamp>,
    first_seen: Timestamp,
    last_seen: Timestamp,
    /// Latest event time seen: the business's clock.
    now: Timestamp,
    tier_since: Timestamp,

    day: Ring<Counts>,
    week: Ring<Counts>,
    msgs_1m: Ring<u32>,
    msgs_1h: Ring<u32>,
    uniq_1m: Ring<u32>,
    uniq_1h: Ring<u32>,
    uniq_24h: Ring<u32>,
    uniq_7d: Ring<u32>,
    tier_24h: Ring<u32>,
    tier_7d: Ring<u32>,
    marketing_24h: Ring<u32>,
    /// Keyed by [`recipient_key`], already a hash: Fx keeps lookups cheap.
    recipients: FxHashMap<u64, Recipient>,
    baseline: Baseline,
    totals: Totals,
    history: VecDeque<HourCounts>,
    first_action: Option<FirstAction>,
    /// Registrable domains the business has linked (keys), most recent last, at most
    /// [`MAX_DOMAINS`].
    link_domains: Vec<u64>,
    /// Messages with links seen, and the time of the first.
    linked_messages: u64,
    first_linked: Option<Timestamp>,

    status: Status,
    status_since: Timestamp,
    status_reasons: Vec<Hit>,
    first_flagged: Option<Timestamp>,
    changes: Vec<StatusChange>,
    standing: Vec<Hit>,
    quality: Quality,
    low_since: Option<Timestamp>,

    dirty: bool,
    messages_since_eval: u64,
    last_eval: Timestamp,
    last_sweep: Timestamp,
}

/// Every message-level content signal's reading for one message, fired or not.
fn content_readings(
    content: Option<&ContentFacts>,
    hits: &[(Hit, MessageAction, f64)],
    ctx: MessageContext,
    policy: &Policy,
    category: Category,
) -> Vec<Reading> {
    let Some(c) = content else {
        return Signal::ALL
            .into_iter()
            .filter(|s| s.family() == Family::Content && s.scope() == Scope::Message)
            .map(|sig| Reading::new(sig, 0.0, 0.0, 0, 0).noted(Some("no content analysis")))
            .collect();
    };
    let s = &policy.signals;
    let hit = |sig: Signal| hits.iter().find(|h| h.0.signal == sig).map(|h| &h.0);
    let fired = |sig: Signal| hit(sig).is_some();
    let camp = &s.campaign_24h;
    let new_domain = hit(Signal::NewLinkDomain);
    vec![
        Reading::new(
            Signal::ContentClassifier,
            c.spam_probability.unwrap_or(0.0),
            c.classifier_line(s.content_classifier.min_probability),
            0,
            0,
        )
        .fired(fired(Signal::ContentClassifier))
        .noted(
            c.spam_probability
                .is_none()
                .then_some("no classifier model"),
        ),
        Reading::new(
            Signal::ContentRules,
            c.rule_score,
            s.content_rules.threshold,
            c.rules.split(',').filter(|r| !r.is_empty()).count() as u64,
            0,
        )
        .fired(fired(Signal::ContentRules))
        .detailed((!c.rules.is_empty()).then(|| c.rules.clone())),
        Reading::new(
            Signal::PhishingLink,
            f64::from(u8::from(c.phishing.is_some())),
            1.0,
            0,
            0,
        )
        .fired(fired(Signal::PhishingLink))
        .detailed(c.phishing.clone()),
        Reading::new(
            Signal::Obfuscation,
            c.obfuscation,
            s.obfuscation.threshold,
            0,
            0,
        )
        .fired(fired(Signal::Obfuscation)),
        Reading::new(
            Signal::NewLinkDomain,
            new_domain.map_or(0.0, |h| h.value),
            0.0,
            c.domains.len() as u64,
            0,
        )
        .fired(new_domain.is_some())
        .noted(if c.domains.is_empty() {
            Some("no link")
        } else if new_domain.is_none() {
            Some("every domain linked before, or too little link history")
        } else {
            None
        })
        .detailed(new_domain.and_then(|h| h.detail.clone())),
        Reading::new(
            Signal::Campaign24h,
            f64::from(ctx.campaign_businesses),
            f64::from(camp.min_businesses),
            u64::from(ctx.campaign_businesses),
            0,
        )
        .fired(fired(Signal::Campaign24h))
        .noted(if c.fingerprint.is_none() {
            Some("text too short to fingerprint")
        } else if !camp.categories.contains(&category) {
            Some("category not watched for campaigns")
        } else if c.spam_probability.unwrap_or(0.0) < camp.min_spam_probability {
            Some("the text itself does not read like spam")
        } else if ctx.campaign_businesses >= camp.min_businesses && !fired(Signal::Campaign24h) {
            Some("an established business: campaigns judge young ones only")
        } else {
            None
        }),
    ]
}

/// What tipped a re-evaluation, for the status-change record.
#[derive(Clone, Copy, Debug)]
pub enum Trigger<'a> {
    /// A message, by id.
    Message(&'a str),
    /// Feedback of a kind from a recipient.
    Feedback(FeedbackKind, &'a str),
    /// A delivery receipt for a message.
    Delivery(&'a str),
    /// A `business` record.
    Business,
    /// The passing of time (end of a replay, a query).
    Time,
}

impl Trigger<'_> {
    fn describe(self) -> String {
        match self {
            Trigger::Message(id) => format!("message {id}"),
            Trigger::Feedback(kind, r) => format!("feedback {} from {r}", feedback_name(kind)),
            Trigger::Delivery(id) => format!("delivery of {id}"),
            Trigger::Business => "business record".into(),
            Trigger::Time => "time".into(),
        }
    }
}

fn feedback_name(kind: FeedbackKind) -> &'static str {
    match kind {
        FeedbackKind::Block => "block",
        FeedbackKind::Report => "report",
        FeedbackKind::OptOut => "opt_out",
        FeedbackKind::Read => "read",
        FeedbackKind::Reply => "reply",
    }
}

/// A rate with its credible interval, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rate {
    /// Events counted (complaints, failures, reads).
    pub count: u64,
    /// Out of (recipients, deliveries).
    pub of: u64,
    /// `count / of`, 0 when `of` is 0.
    pub value: f64,
    /// Lower end of the credible interval.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

impl Rate {
    fn new(count: u64, of: u64, prior: Prior, level: f64) -> Rate {
        let (low, high) = prior.interval(count, of, level);
        let value = if of == 0 {
            0.0
        } else {
            count as f64 / of as f64
        };
        Rate {
            count,
            of,
            value: crate::signal::round_sig(value),
            low: crate::signal::round_sig(low),
            high: crate::signal::round_sig(high),
        }
    }
}

/// The windowed ratios of a business at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Ratios {
    /// Complaints over unique recipients, 24 h.
    pub complaint_rate_24h: Rate,
    /// Complaints over unique recipients, 7 d.
    pub complaint_rate_7d: Rate,
    /// Opt-outs over unique recipients, 24 h.
    pub opt_out_rate_24h: Rate,
    /// Invalid numbers over deliveries, 24 h.
    pub invalid_number_rate_24h: Rate,
    /// Invalid numbers over deliveries, 7 d.
    pub invalid_number_rate_7d: Rate,
    /// Failed over deliveries, 24 h.
    pub failed_delivery_rate_24h: Rate,
    /// Reads over delivered, 7 d.
    pub read_rate_7d: Rate,
}

/// Volume at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Volume {
    /// Messages in the last minute.
    pub messages_1m: u64,
    /// Messages in the last hour.
    pub messages_1h: u64,
    /// Messages in the last 24 h.
    pub messages_24h: u64,
    /// Messages in the last 7 d.
    pub messages_7d: u64,
    /// Unique recipients in the last minute.
    pub recipients_1m: u64,
    /// Unique recipients in the last hour.
    pub recipients_1h: u64,
    /// Unique recipients in the last 24 h.
    pub recipients_24h: u64,
    /// Unique recipients in the last 7 d.
    pub recipients_7d: u64,
    /// Unique recipients of allowed business-initiated messages, 24 h (the tier's measure).
    pub tier_recipients_24h: u64,
    /// The hourly baseline, if the business has one yet.
    pub baseline_1h: Option<f64>,
}

/// A business's standing, as a report or the service shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Standing {
    /// Current status.
    pub status: Status,
    /// When it took that status (event time).
    pub status_since: Timestamp,
    /// First time it was throttled or suspended, if ever.
    pub first_flagged: Option<Timestamp>,
    /// Quality rating.
    pub quality: Quality,
    /// Messaging tier.
    pub tier: Tier,
    /// Whether the platform's record says verified.
    pub verified: bool,
    /// Whether a `business` record introduced it (else it was new at its first event).
    pub established: bool,
    /// Whether it is still young (`trust.young_days`): its rate priors are scaled down.
    pub young: bool,
    /// First and last event times.
    pub first_seen: Timestamp,
    /// Last event time.
    pub last_seen: Timestamp,
    /// Lifetime counts.
    pub totals: Totals,
    /// Windowed ratios with intervals.
    pub ratios: Ratios,
    /// Windowed volume.
    pub volume: Volume,
    /// Business-level signals firing now, plus those behind a standing suspension.
    pub reasons: Vec<Hit>,
    /// Status changes, oldest first (the most recent 256).
    pub changes: Vec<StatusChange>,
    /// The first message not simply allowed, if any.
    pub first_action: Option<FirstAction>,
    /// Hour by hour, oldest first (the most recent five weeks with traffic).
    pub history: Vec<HourCounts>,
}

impl BusinessState {
    /// A business first seen at `ts`: new, bottom of the ladder, until a `business` record says
    /// otherwise.
    pub fn new(ts: Timestamp) -> Self {
        let mut state = BusinessState {
            tier: Tier::T250,
            verified: false,
            established: false,
            created: None,
            first_seen: ts,
            last_seen: ts,
            now: ts,
            tier_since: ts,
            day: Ring::new(Span::Day),
            week: Ring::new(Span::Week),
            msgs_1m: Ring::new(Span::Minute),
            msgs_1h: Ring::new(Span::Hour),
            uniq_1m: Ring::new(Span::Minute),
            uniq_1h: Ring::new(Span::Hour),
            uniq_24h: Ring::new(Span::Day),
            uniq_7d: Ring::new(Span::Week),
            tier_24h: Ring::new(Span::Day),
            tier_7d: Ring::new(Span::Week),
            marketing_24h: Ring::new(Span::Day),
            recipients: FxHashMap::default(),
            baseline: Baseline::default(),
            totals: Totals::default(),
            history: VecDeque::new(),
            first_action: None,
            link_domains: Vec::new(),
            linked_messages: 0,
            first_linked: None,
            status: Status::Active,
            status_since: ts,
            status_reasons: Vec::new(),
            first_flagged: None,
            changes: Vec::new(),
            standing: Vec::new(),
            quality: Quality::High,
            low_since: None,
            dirty: false,
            messages_since_eval: 0,
            last_eval: ts,
            last_sweep: ts,
        };
        state.advance_rings();
        state
    }

    /// Current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Current tier.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// The business's clock: the latest event time it has seen.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Recipients currently remembered (a measure of the state's memory).
    pub fn recipients_held(&self) -> usize {
        self.recipients.len()
    }

    fn advance(&mut self, ts: Timestamp) {
        self.last_seen = self.last_seen.max(ts);
        if ts <= self.now {
            return;
        }
        self.now = ts;
        self.advance_rings();
        if self.now - self.last_sweep >= Span::Day.millis() {
            self.sweep();
        }
    }

    fn advance_rings(&mut self) {
        let now = self.now;
        self.day.advance(now);
        self.week.advance(now);
        self.msgs_1m.advance(now);
        self.msgs_1h.advance(now);
        self.uniq_1m.advance(now);
        self.uniq_1h.advance(now);
        self.uniq_24h.advance(now);
        self.uniq_7d.advance(now);
        self.tier_24h.advance(now);
        self.tier_7d.advance(now);
        self.marketing_24h.advance(now);
    }

    /// Forgets recipients with nothing inside the longest window and no opt-out to honour.
    fn sweep(&mut self) {
        let horizon = self
            .now
            .saturating_sub(Span::Week.millis() + Span::Week.bucket_millis());
        self.recipients
            .retain(|_, r| r.opted_out || r.last_activity() >= horizon);
        self.last_sweep = self.now;
    }

    /// The history entry for the hour of `ts`, created in order if missing.
    fn hour_entry(&mut self, ts: Timestamp) -> &mut HourCounts {
        let hour = ts - ts % HOUR;
        let pos = match self.history.back() {
            Some(last) if last.hour == hour => self.history.len() - 1,
            Some(last) if last.hour > hour => {
                match self.history.binary_search_by_key(&hour, |h| h.hour) {
                    Ok(i) => i,
                    Err(i) => {
                        self.history.insert(
                            i,
                            HourCounts {
                                hour,
                                ..HourCounts::default()
                            },
                        );
                        i
                    }
                }
            }
            _ => {
                self.history.push_back(HourCounts {
                    hour,
                    ..HourCounts::default()
                });
                if self.history.len() > HISTORY_HOURS {
                    self.history.pop_front();
                }
                self.history.len() - 1
            }
        };
        &mut self.history[pos]
    }

    /// Counts `delta` at `ts` in the day and week windows.
    fn count(&mut self, ts: Timestamp, delta: Counts) {
        self.day.add(ts, delta);
        self.week.add(ts, delta);
    }

    /// Applies a `business` record: what the platform knew before the log.
    pub fn on_business(&mut self, b: &BusinessInfo, policy: &Policy) {
        self.advance(b.ts);
        if self.tier != b.tier {
            self.tier = b.tier;
            self.tier_since = b.ts;
        }
        self.verified = b.verified;
        self.established = true;
        self.created = Some(b.created);
        self.dirty = true;
        self.evaluate(policy, Trigger::Business);
    }

    /// Applies a recipient's feedback.
    pub fn on_feedback(&mut self, f: &Feedback, recipient: u64, policy: &Policy) {
        self.advance(f.ts);
        let mut c = Counts::default();
        match f.kind {
            FeedbackKind::Block => c.blocks = 1,
            FeedbackKind::Report => c.reports = 1,
            FeedbackKind::OptOut => c.opt_outs = 1,
            FeedbackKind::Read => c.reads = 1,
            FeedbackKind::Reply => c.replies = 1,
        }
        self.count(f.ts, c);
        let t = &mut self.totals;
        match f.kind {
            FeedbackKind::Block => t.blocks += 1,
            FeedbackKind::Report => t.reports += 1,
            FeedbackKind::OptOut => t.opt_outs += 1,
            FeedbackKind::Read => t.reads += 1,
            FeedbackKind::Reply => t.replies += 1,
        }
        if matches!(f.kind, FeedbackKind::Block | FeedbackKind::Report) {
            self.hour_entry(f.ts).complaints += 1;
        }
        match f.kind {
            FeedbackKind::OptOut => {
                self.recipients.entry(recipient).or_default().opted_out = true;
            }
            FeedbackKind::Reply => {
                let r = self.recipients.entry(recipient).or_default();
                r.last_reply = r.last_reply.max(f.ts);
                r.opted_out = false;
            }
            _ => {}
        }
        // Reads move no standing that matters minute to minute; everything else re-evaluates.
        if f.kind != FeedbackKind::Read {
            self.dirty = true;
        }
        self.maybe_evaluate(policy, Trigger::Feedback(f.kind, &f.recipient));
    }

    /// Applies a delivery receipt.
    pub fn on_delivery(&mut self, d: &Delivery, policy: &Policy) {
        self.advance(d.ts);
        let invalid =
            d.status == DeliveryStatus::Failed && d.error.as_deref() == Some("invalid_number");
        let delivered = d.status == DeliveryStatus::Delivered;
        self.count(
            d.ts,
            Counts {
                deliveries: 1,
                delivered: u32::from(delivered),
                failed: u32::from(!delivered),
                invalid: u32::from(invalid),
                ..Counts::default()
            },
        );
        match d.status {
            DeliveryStatus::Delivered => self.totals.delivered += 1,
            DeliveryStatus::Failed => {
                self.totals.failed += 1;
                self.dirty = true;
            }
        }
        if invalid {
            self.totals.invalid_numbers += 1;
        }
        self.maybe_evaluate(policy, Trigger::Delivery(&d.message));
    }

    /// Judges one message and counts it.
    pub fn on_message(
        &mut self,
        m: &Message,
        recipient: u64,
        ctx: MessageContext,
        content: Option<&ContentFacts>,
        policy: &Policy,
    ) -> Verdict {
        self.judge(m, recipient, ctx, content, policy, None)
    }

    /// Judges one message like [`BusinessState::on_message`] and also returns every signal's
    /// reading at that moment, business-level and message-level, fired or not.
    pub fn on_message_explained(
        &mut self,
        m: &Message,
        recipient: u64,
        ctx: MessageContext,
        content: Option<&ContentFacts>,
        policy: &Policy,
    ) -> (Verdict, Vec<Reading>) {
        let mut readings = Vec::new();
        let v = self.judge(m, recipient, ctx, content, policy, Some(&mut readings));
        (v, readings)
    }

    fn judge(
        &mut self,
        m: &Message,
        recipient: u64,
        ctx: MessageContext,
        content: Option<&ContentFacts>,
        policy: &Policy,
        explain: Option<&mut Vec<Reading>>,
    ) -> Verdict {
        self.advance(m.ts);
        let ts = m.ts;
        let marketing = m.category == Category::Marketing;
        let sig = &policy.signals;
        // Content is judged first: whether it is flagged counts toward the business's rate.
        let content_hits = content
            .map(|c| self.content_hits(m, c, ctx, policy))
            .unwrap_or_default();
        let flagged = content_hits.iter().any(|(h, _, _)| {
            matches!(
                h.signal,
                Signal::ContentClassifier | Signal::ContentRules | Signal::PhishingLink
            )
        });

        // Count the attempt.
        self.count(
            ts,
            Counts {
                messages: 1,
                flagged: u32::from(flagged),
                marketing: u32::from(marketing),
                ..Counts::default()
            },
        );
        self.msgs_1m.add(ts, 1);
        self.msgs_1h.add(ts, 1);
        self.totals.messages += 1;
        if marketing {
            self.totals.marketing += 1;
        }
        if flagged {
            self.totals.flagged_content += 1;
        }
        self.baseline.add(
            ts,
            sig.volume_burst_1h.ewma_alpha,
            sig.volume_burst_1h.peak_half_life_hours,
        );
        let entry = self.recipients.entry(recipient).or_default();
        let old = entry.last_msg;
        entry.last_msg = old.max(ts);
        let new = entry.last_msg;
        let old_marketing = entry.last_marketing;
        if marketing {
            entry.last_marketing = old_marketing.max(ts);
        }
        let new_marketing = entry.last_marketing;
        let opted_out = entry.opted_out;
        let last_reply = entry.last_reply;
        let last_tier = entry.last_tier;
        for ring in [
            &mut self.uniq_1m,
            &mut self.uniq_1h,
            &mut self.uniq_24h,
            &mut self.uniq_7d,
        ] {
            ring.move_key(old, new);
        }
        if marketing {
            self.marketing_24h.move_key(old_marketing, new_marketing);
        }

        self.messages_since_eval += 1;
        self.maybe_evaluate(policy, Trigger::Message(&m.id));

        // Message-level signals.
        let mut hits: Vec<(Hit, MessageAction, f64)> = Vec::new();
        if marketing && opted_out {
            hits.push((
                Hit::new(Signal::OptedOut, 1.0, 1.0),
                sig.opted_out.action,
                sig.opted_out.weight,
            ));
        }
        let window = policy.tiers.service_window_hours * HOUR;
        let in_service_window = last_reply != 0 && ts >= last_reply && ts - last_reply < window;
        let business_initiated = !in_service_window;
        if let (true, Some(limit)) = (business_initiated, self.tier.limit()) {
            let counted = last_tier != 0 && self.tier_24h.covers(last_tier);
            let used = u64::from(self.tier_24h.sum());
            if !counted && used >= limit {
                hits.push((
                    Hit::new(Signal::TierLimit24h, used as f64, limit as f64),
                    sig.tier_limit_24h.action,
                    sig.tier_limit_24h.weight,
                ));
            }
        }
        let ramp = &sig.new_business_ramp_1h;
        if self.is_new(ts, ramp.hours) {
            let hour = u64::from(self.msgs_1h.sum());
            if hour > ramp.per_hour {
                hits.push((
                    Hit::new(Signal::NewBusinessRamp1h, hour as f64, ramp.per_hour as f64),
                    ramp.action,
                    ramp.weight,
                ));
            }
        }
        let fatigue = &sig.recipient_fatigue_24h;
        if marketing && ctx.recipient_marketing_24h > fatigue.cap {
            hits.push((
                Hit::new(
                    Signal::RecipientFatigue24h,
                    ctx.recipient_marketing_24h as f64,
                    fatigue.cap as f64,
                ),
                fatigue.action,
                fatigue.weight,
            ));
        }

        if let Some(out) = explain {
            out.extend(self.business_readings(policy, true));
            out.extend(content_readings(
                content,
                &content_hits,
                ctx,
                policy,
                m.category,
            ));
            out.push(
                Reading::new(Signal::OptedOut, f64::from(u8::from(opted_out)), 1.0, 0, 0)
                    .fired(marketing && opted_out)
                    .noted((!marketing).then_some("not marketing")),
            );
            let used = u64::from(self.tier_24h.sum());
            let counted = last_tier != 0 && self.tier_24h.covers(last_tier);
            let (limit, note) = match self.tier.limit() {
                None => (0, Some("unlimited tier")),
                Some(_) if !business_initiated => {
                    (0, Some("inside the customer-service window: not counted"))
                }
                Some(_) if counted => (0, Some("recipient already counted in the moving 24 h")),
                Some(l) => (l, None),
            };
            let limit = if limit == 0 {
                self.tier.limit().unwrap_or(0)
            } else {
                limit
            };
            out.push(
                Reading::new(Signal::TierLimit24h, used as f64, limit as f64, used, 0)
                    .fired(hits.iter().any(|h| h.0.signal == Signal::TierLimit24h))
                    .noted(note),
            );
            let hour = u64::from(self.msgs_1h.sum());
            out.push(
                Reading::new(
                    Signal::NewBusinessRamp1h,
                    hour as f64,
                    ramp.per_hour as f64,
                    hour,
                    0,
                )
                .fired(hits.iter().any(|h| h.0.signal == Signal::NewBusinessRamp1h))
                .noted((!self.is_new(ts, ramp.hours)).then_some("not a new business")),
            );
            let n = ctx.recipient_marketing_24h;
            out.push(
                Reading::new(
                    Signal::RecipientFatigue24h,
                    n as f64,
                    fatigue.cap as f64,
                    n,
                    0,
                )
                .fired(marketing && n > fatigue.cap)
                .noted((!marketing).then_some("not marketing")),
            );
        }

        // Combine with the business's standing.
        let mut action = self.status.action();
        let mut reasons: Vec<Hit> = Vec::with_capacity(self.standing.len() + hits.len());
        let mut keep = 1.0;
        for h in &self.standing {
            keep *= 1.0 - business_weight(policy, h.signal);
            reasons.push(h.clone());
        }
        if self.status == Status::Suspended {
            for h in &self.status_reasons {
                if !reasons.iter().any(|r| r.signal == h.signal) {
                    keep *= 1.0 - business_weight(policy, h.signal);
                    reasons.push(h.clone());
                }
            }
        }
        for (h, a, weight) in hits.into_iter().chain(content_hits) {
            keep *= 1.0 - weight;
            action = action.max(a.action());
            reasons.push(h);
        }
        reasons.sort_by_key(|h| h.signal);
        let score = crate::signal::round_sig(1.0 - keep);
        if score >= policy.score.block {
            action = action.max(Action::Block);
        } else if score >= policy.score.hold {
            action = action.max(Action::Hold);
        }

        if action != Action::Allow && self.first_action.is_none() {
            self.first_action = Some(FirstAction {
                ts,
                message: m.id.clone(),
                action,
                allowed_before: self.totals.allowed,
            });
        }
        match action {
            Action::Allow => self.totals.allowed += 1,
            Action::Throttle => self.totals.throttled += 1,
            Action::Hold => self.totals.held += 1,
            Action::Block => self.totals.blocked += 1,
        }
        let uniq = self.uniq_24h.sum();
        let h = self.hour_entry(ts);
        h.messages += 1;
        h.recipients_24h = uniq;
        match action {
            Action::Allow => h.allowed += 1,
            Action::Throttle => h.throttled += 1,
            Action::Hold => h.held += 1,
            Action::Block => h.blocked += 1,
        }
        // Only a message that goes out uses the tier's allowance.
        if action == Action::Allow && business_initiated {
            let new_tier = last_tier.max(ts);
            self.tier_24h.move_key(last_tier, new_tier);
            self.tier_7d.move_key(last_tier, new_tier);
            if let Some(r) = self.recipients.get_mut(&recipient) {
                r.last_tier = new_tier;
            }
        }
        Verdict {
            message: m.id.clone(),
            business: m.business.clone(),
            action,
            score,
            reasons,
        }
    }

    /// The content signals of one message; its links join the business's link history.
    fn content_hits(
        &mut self,
        m: &Message,
        c: &ContentFacts,
        ctx: MessageContext,
        policy: &Policy,
    ) -> Vec<(Hit, MessageAction, f64)> {
        let s = &policy.signals;
        let mut hits = Vec::new();
        let r = &s.content_classifier;
        if let (true, Some(p)) = (c.classifier_spam(r.min_probability), c.spam_probability) {
            hits.push((
                Hit::new(
                    Signal::ContentClassifier,
                    p,
                    c.classifier_line(r.min_probability),
                ),
                r.action,
                r.weight,
            ));
        }
        let r = &s.content_rules;
        if c.rule_score >= r.threshold {
            hits.push((
                Hit::new(Signal::ContentRules, c.rule_score, r.threshold).with_detail(&c.rules),
                r.action,
                r.weight,
            ));
        }
        if let Some(why) = &c.phishing {
            let r = &s.phishing_link;
            hits.push((
                Hit::new(Signal::PhishingLink, 1.0, 1.0).with_detail(why),
                r.action,
                r.weight,
            ));
        }
        let r = &s.obfuscation;
        if c.obfuscation >= r.threshold {
            hits.push((
                Hit::new(Signal::Obfuscation, c.obfuscation, r.threshold),
                r.action,
                r.weight,
            ));
        }
        let known = self.link_domains.len();
        if let Some(domain) = self.link_history(m.ts, c, policy) {
            let r = &s.new_link_domain;
            hits.push((
                Hit::new(Signal::NewLinkDomain, known as f64, 0.0).with_detail(domain),
                r.action,
                r.weight,
            ));
        }
        let r = &s.campaign_24h;
        if ctx.campaign_businesses >= r.min_businesses
            && r.categories.contains(&m.category)
            && (!r.young_only || self.is_young(policy))
            && c.spam_probability.unwrap_or(0.0) >= r.min_spam_probability
        {
            hits.push((
                Hit::new(
                    Signal::Campaign24h,
                    f64::from(ctx.campaign_businesses),
                    f64::from(r.min_businesses),
                ),
                r.action,
                r.weight,
            ));
        }
        hits
    }

    /// Folds a message's linked domains into the link history; returns the first domain never
    /// linked before, if the history is long enough to judge by.
    fn link_history(&mut self, ts: Timestamp, c: &ContentFacts, policy: &Policy) -> Option<String> {
        if c.domains.is_empty() {
            return None;
        }
        let rule = &policy.signals.new_link_domain;
        let ready = self.linked_messages >= rule.min_linked_messages
            && self
                .first_linked
                .is_some_and(|f| ts.saturating_sub(f) >= rule.min_hours * HOUR);
        let mut new = None;
        for (key, domain) in &c.domains {
            match self.link_domains.iter().position(|k| k == key) {
                Some(i) => {
                    let k = self.link_domains.remove(i);
                    self.link_domains.push(k);
                }
                None => {
                    if ready && new.is_none() {
                        new = Some(domain.clone());
                    }
                    if self.link_domains.len() >= MAX_DOMAINS {
                        self.link_domains.remove(0);
                    }
                    self.link_domains.push(*key);
                }
            }
        }
        self.linked_messages += 1;
        self.first_linked.get_or_insert(ts);
        new
    }

    fn is_new(&self, ts: Timestamp, hours: u64) -> bool {
        let born = match (self.established, self.created) {
            (true, Some(c)) => c,
            _ => self.first_seen,
        };
        ts.saturating_sub(born) < hours * HOUR
    }

    /// What a business-level hit does to this business: the policy's action, except that content
    /// alone suspends no established business unless `trust.content_suspends_established`
    /// (one spammy-looking template of a shop is throttled until it stops, not suspended;
    /// complaints and bought lists still suspend it).
    fn business_action(&self, policy: &Policy, hit: &Hit) -> BusinessAction {
        let action = policy_action(policy, hit);
        if hit.signal == Signal::FlaggedContentRate24h
            && !policy.trust.content_suspends_established
            && !self.is_young(policy)
        {
            action.min(BusinessAction::Throttle)
        } else {
            action
        }
    }

    /// Whether the account (the `created` of its business record, else its first event) is
    /// younger than `trust.young_days`.
    fn is_young(&self, policy: &Policy) -> bool {
        self.is_new(self.now, policy.trust.young_days * 24)
    }

    /// The scale on rate priors: young businesses have not earned the benefit of the doubt.
    fn prior_scale(&self, policy: &Policy) -> f64 {
        if self.is_young(policy) {
            policy.trust.young_prior_scale
        } else {
            1.0
        }
    }

    fn maybe_evaluate(&mut self, policy: &Policy, trigger: Trigger<'_>) {
        let every = (u64::from(self.uniq_24h.sum()) / 32).max(8);
        if self.dirty || self.messages_since_eval >= every || self.now - self.last_eval >= 60_000 {
            self.evaluate(policy, trigger);
        }
    }

    /// Moves the clock to `ts` (if later) and re-evaluates: used at the end of a replay and when
    /// a service is asked for a business's standing.
    pub fn settle(&mut self, ts: Timestamp, policy: &Policy) {
        if ts > self.now {
            self.now_only(ts);
        }
        self.evaluate(policy, Trigger::Time);
    }

    /// Advances the windows without counting an event as seen.
    fn now_only(&mut self, ts: Timestamp) {
        let last_seen = self.last_seen;
        self.advance(ts);
        self.last_seen = last_seen;
    }

    /// Business-level signals firing now.
    fn business_hits(&self, policy: &Policy) -> Vec<Hit> {
        self.business_readings(policy, false)
            .into_iter()
            .filter(|r| r.fired)
            .map(Reading::into_hit)
            .collect()
    }

    /// Every business-level signal's reading at the business's clock. With `all` false only
    /// readings that could fire are computed (the evaluation path, where posteriors cost); with
    /// `all` true every signal gets a reading, with a note where it cannot judge yet.
    pub fn business_readings(&self, policy: &Policy, all: bool) -> Vec<Reading> {
        let s = &policy.signals;
        let day = self.day.sum();
        let week = self.week.sum();
        let uniq_day = u64::from(self.uniq_24h.sum());
        let uniq_week = u64::from(self.uniq_7d.sum());
        let scale = self.prior_scale(policy);
        // Room for every reading below (eight rates, reads, burst, frequency): no regrowth.
        let mut out = Vec::with_capacity(11);
        let mut rate = |signal, rule: &RateRule, count: u64, of: u64| {
            let ready = count >= rule.min_count && of > 0;
            if !ready && !all {
                return;
            }
            let value = if of == 0 {
                0.0
            } else {
                count as f64 / of.max(count) as f64
            };
            let mut r = Reading::new(signal, value, rule.threshold, count, of);
            if ready {
                let prior = rule.prior(scale);
                // Outside explanations only what fires is kept, and a tail certainly below its
                // confidence does not fire.
                if all || prior.may_be_above(count, of, rule.threshold, rule.confidence) {
                    let p = prior.prob_above(count, of, rule.threshold);
                    r = r.with_probability(p);
                    r.fired = p >= rule.confidence;
                }
            } else {
                r.note = Some(if of == 0 { NOTE_EMPTY } else { NOTE_FEW });
            }
            out.push(r);
        };
        rate(
            Signal::ComplaintRate24h,
            &s.complaint_rate_24h,
            day.complaints(),
            uniq_day,
        );
        rate(
            Signal::ComplaintRate7d,
            &s.complaint_rate_7d,
            week.complaints(),
            uniq_week,
        );
        rate(
            Signal::ComplaintWarn7d,
            &s.complaint_warn_7d,
            week.complaints(),
            uniq_week,
        );
        rate(
            Signal::OptOutRate24h,
            &s.opt_out_rate_24h,
            u64::from(day.opt_outs),
            uniq_day,
        );
        let deliveries = u64::from(day.deliveries);
        rate(
            Signal::InvalidNumberRate24h,
            &s.invalid_number_rate_24h,
            u64::from(day.invalid),
            deliveries,
        );
        rate(
            Signal::InvalidNumberRate7d,
            &s.invalid_number_rate_7d,
            u64::from(week.invalid),
            u64::from(week.deliveries),
        );
        rate(
            Signal::FailedDeliveryRate24h,
            &s.failed_delivery_rate_24h,
            u64::from(day.failed),
            deliveries,
        );
        rate(
            Signal::FlaggedContentRate24h,
            &s.flagged_content_rate_24h,
            u64::from(day.flagged),
            u64::from(day.messages),
        );

        let read = &s.low_read_rate_7d;
        let delivered = u64::from(week.delivered);
        let reads = u64::from(week.reads).min(delivered);
        let ready = delivered >= read.min_count;
        if ready || all {
            let value = if delivered == 0 {
                0.0
            } else {
                reads as f64 / delivered as f64
            };
            let mut r = Reading::new(
                Signal::LowReadRate7d,
                value,
                read.threshold,
                reads,
                delivered,
            );
            if ready {
                let prior = read.prior(scale);
                // As for the rates above.
                if all || prior.may_be_below(reads, delivered, read.threshold, read.confidence) {
                    let p = prior.prob_below(reads, delivered, read.threshold);
                    r = r.with_probability(p);
                    r.fired = p >= read.confidence;
                }
            } else {
                r.note = Some(NOTE_FEW);
            }
            out.push(r);
        }

        let burst = &s.volume_burst_1h;
        let ready = self.baseline.hours >= burst.min_baseline_hours;
        if ready || all {
            let count = u64::from(self.msgs_1h.sum());
            let lambda = self
                .baseline
                .ewma
                .max(burst.peak_share * self.baseline.peak)
                .max(1.0);
            let mut r = Reading::new(
                Signal::VolumeBurst1h,
                count as f64,
                burst.min_ratio * lambda,
                count,
                0,
            );
            if ready {
                // The tail is only worth computing past the cheap tests (or when explaining).
                if all || (count >= burst.min_count && count as f64 >= burst.min_ratio * lambda) {
                    let p = poisson_upper_tail(lambda, count);
                    r.p_value = Some(crate::signal::round_sig(p));
                    r.fired = count >= burst.min_count
                        && count as f64 >= burst.min_ratio * lambda
                        && p <= burst.p_value;
                }
            } else {
                r.note = Some("no baseline yet: too little history");
            }
            out.push(r);
        }

        let freq = &s.recipient_frequency_24h;
        let marketing = u64::from(day.marketing);
        let people = u64::from(self.marketing_24h.sum());
        let ready = marketing >= freq.min_count && people > 0;
        if ready || all {
            let value = if people == 0 {
                0.0
            } else {
                marketing as f64 / people as f64
            };
            let mut r = Reading::new(
                Signal::RecipientFrequency24h,
                value,
                freq.threshold,
                marketing,
                people,
            );
            if ready {
                r.fired = value >= freq.threshold;
            } else {
                r.note = Some(NOTE_FEW);
            }
            out.push(r);
        }
        out
    }

    /// Recomputes standing, status, quality and tier.
    fn evaluate(&mut self, policy: &Policy, trigger: Trigger<'_>) {
        self.dirty = false;
        self.messages_since_eval = 0;
        self.last_eval = self.now;
        let hits = self.business_hits(policy);
        let now = self.now;

        // Status.
        let target = hits
            .iter()
            .map(|h| match self.business_action(policy, h) {
                BusinessAction::None => Status::Active,
                BusinessAction::Throttle => Status::Throttled,
                BusinessAction::Suspend => Status::Suspended,
            })
            .max()
            .unwrap_or(Status::Active);
        let held = self.status == Status::Suspended
            && now.saturating_sub(self.status_since) < policy.status.suspend_hours * HOUR;
        if target != self.status && !held {
            let reasons: Vec<Hit> = hits
                .iter()
                .filter(|h| self.business_action(policy, h) != BusinessAction::None)
                .cloned()
                .collect();
            if self.changes.len() == MAX_CHANGES {
                self.changes.remove(0);
            }
            self.changes.push(StatusChange {
                ts: now,
                from: self.status,
                to: target,
                trigger: trigger.describe(),
                reasons: reasons.clone(),
            });
            self.status = target;
            self.status_since = now;
            self.status_reasons = reasons;
            if target != Status::Active && self.first_flagged.is_none() {
                self.first_flagged = Some(now);
            }
        }

        // Quality and the tier ladder.
        self.quality = hits
            .iter()
            .map(|h| h.signal.quality_impact())
            .max()
            .unwrap_or(Quality::High);
        let tiers = &policy.tiers;
        if self.quality == Quality::Low {
            let since = *self.low_since.get_or_insert(now);
            if now - since >= tiers.downgrade_after_hours * HOUR {
                if let Some(down) = self.tier.down() {
                    self.tier = down;
                    self.tier_since = now;
                }
                self.low_since = Some(now);
            }
        } else {
            self.low_since = None;
            let settled = now - self.tier_since >= tiers.min_hours_at_tier * HOUR;
            let path_open =
                self.tier != Tier::T250 || self.verified || !tiers.verified_for_first_upgrade;
            if let (Some(limit), Some(up)) = (self.tier.limit(), self.tier.up()) {
                let used = f64::from(self.tier_7d.sum());
                if self.status == Status::Active
                    && settled
                    && path_open
                    && used >= tiers.upgrade_usage * limit as f64
                {
                    self.tier = up;
                    self.tier_since = now;
                }
            }
        }
        self.standing = hits;
    }

    /// The business's standing now (its clock, not the caller's).
    pub fn standing(&self, policy: &Policy) -> Standing {
        let level = policy.status.interval_level;
        let s = &policy.signals;
        let scale = self.prior_scale(policy);
        let day = self.day.sum();
        let week = self.week.sum();
        let uniq_day = u64::from(self.uniq_24h.sum());
        let uniq_week = u64::from(self.uniq_7d.sum());
        let ratios = Ratios {
            complaint_rate_24h: Rate::new(
                day.complaints(),
                uniq_day,
                s.complaint_rate_24h.prior(scale),
                level,
            ),
            complaint_rate_7d: Rate::new(
                week.complaints(),
                uniq_week,
                s.complaint_rate_7d.prior(scale),
                level,
            ),
            opt_out_rate_24h: Rate::new(
                u64::from(day.opt_outs),
                uniq_day,
                s.opt_out_rate_24h.prior(scale),
                level,
            ),
            invalid_number_rate_24h: Rate::new(
                u64::from(day.invalid),
                u64::from(day.deliveries),
                s.invalid_number_rate_24h.prior(scale),
                level,
            ),
            invalid_number_rate_7d: Rate::new(
                u64::from(week.invalid),
                u64::from(week.deliveries),
                s.invalid_number_rate_7d.prior(scale),
                level,
            ),
            failed_delivery_rate_24h: Rate::new(
                u64::from(day.failed),
                u64::from(day.deliveries),
                s.failed_delivery_rate_24h.prior(scale),
                level,
            ),
            read_rate_7d: Rate::new(
                u64::from(week.reads).min(u64::from(week.delivered)),
                u64::from(week.delivered),
                s.low_read_rate_7d.prior(scale),
                level,
            ),
        };
        let burst = &s.volume_burst_1h;
        let volume = Volume {
            messages_1m: u64::from(self.msgs_1m.sum()),
            messages_1h: u64::from(self.msgs_1h.sum()),
            messages_24h: u64::from(day.messages),
            messages_7d: u64::from(week.messages),
            recipients_1m: u64::from(self.uniq_1m.sum()),
            recipients_1h: u64::from(self.uniq_1h.sum()),
            recipients_24h: uniq_day,
            recipients_7d: uniq_week,
            tier_recipients_24h: u64::from(self.tier_24h.sum()),
            baseline_1h: (self.baseline.hours >= burst.min_baseline_hours).then(|| {
                crate::signal::round_sig(
                    self.baseline
                        .ewma
                        .max(burst.peak_share * self.baseline.peak),
                )
            }),
        };
        let mut reasons = self.standing.clone();
        if self.status == Status::Suspended {
            for h in &self.status_reasons {
                if !reasons.iter().any(|r| r.signal == h.signal) {
                    reasons.push(h.clone());
                }
            }
        }
        reasons.sort_by_key(|h| h.signal);
        Standing {
            status: self.status,
            status_since: self.status_since,
            first_flagged: self.first_flagged,
            quality: self.quality,
            tier: self.tier,
            verified: self.verified,
            established: self.established,
            young: scale < 1.0,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            totals: self.totals,
            ratios,
            volume,
            reasons,
            changes: self.changes.clone(),
            first_action: self.first_action.clone(),
            history: self.history.iter().copied().collect(),
        }
    }
}

/// The rate rule behind a business-level signal, if it is a rate.
fn rate_rule(policy: &Policy, signal: Signal) -> Option<&RateRule> {
    let s = &policy.signals;
    Some(match signal {
        Signal::ComplaintRate24h => &s.complaint_rate_24h,
        Signal::ComplaintRate7d => &s.complaint_rate_7d,
        Signal::ComplaintWarn7d => &s.complaint_warn_7d,
        Signal::OptOutRate24h => &s.opt_out_rate_24h,
        Signal::InvalidNumberRate24h => &s.invalid_number_rate_24h,
        Signal::InvalidNumberRate7d => &s.invalid_number_rate_7d,
        Signal::FailedDeliveryRate24h => &s.failed_delivery_rate_24h,
        Signal::LowReadRate7d => &s.low_read_rate_7d,
        Signal::FlaggedContentRate24h => &s.flagged_content_rate_24h,
        _ => return None,
    })
}

/// What a business-level hit does to its business, escalation included.
/// The action the policy gives a business-level hit, before [`BusinessState::business_action`]
/// weighs it against the business's standing.
fn policy_action(policy: &Policy, hit: &Hit) -> BusinessAction {
    if let Some(rule) = rate_rule(policy, hit.signal) {
        return rule.action_at(hit.probability.unwrap_or(0.0));
    }
    let s = &policy.signals;
    match hit.signal {
        Signal::VolumeBurst1h => s.volume_burst_1h.action,
        Signal::RecipientFrequency24h => s.recipient_frequency_24h.action,
        _ => BusinessAction::None,
    }
}

fn business_weight(policy: &Policy, signal: Signal) -> f64 {
    if let Some(rule) = rate_rule(policy, signal) {
        return rule.weight;
    }
    let s = &policy.signals;
    match signal {
        Signal::VolumeBurst1h => s.volume_burst_1h.weight,
        Signal::RecipientFrequency24h => s.recipient_frequency_24h.weight,
        Signal::OptedOut => s.opted_out.weight,
        Signal::TierLimit24h => s.tier_limit_24h.weight,
        Signal::NewBusinessRamp1h => s.new_business_ramp_1h.weight,
        Signal::RecipientFatigue24h => s.recipient_fatigue_24h.weight,
        Signal::ContentClassifier => s.content_classifier.weight,
        Signal::ContentRules => s.content_rules.weight,
        Signal::PhishingLink => s.phishing_link.weight,
        Signal::Obfuscation => s.obfuscation.weight,
        Signal::NewLinkDomain => s.new_link_domain.weight,
        Signal::Campaign24h => s.campaign_24h.weight,
        _ => 0.0,
    }
}

#[cfg(test)]
#[path = "business_tests.rs"]
mod tests;
