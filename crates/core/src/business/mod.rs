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

mod standing;

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use bincode::{Decode, Encode};
use serde::Serialize;

use crate::content::ContentFacts;
use crate::decide::{self, decide};
use crate::event::{
    BusinessInfo, Category, Delivery, DeliveryStatus, Feedback, FeedbackKind, Message, Tier,
    Timestamp,
};
use crate::policy::Policy;
use crate::signal::Hit;
use crate::signals::content::LinkHistory;
use crate::signals::rates::Counts;
use crate::signals::recipients::TierUse;
use crate::signals::templates::Templates;
use crate::signals::volume::Baseline;
use crate::signals::{self, Reading, Readings};
use crate::time::{DAY, HOUR, MINUTE, Millis};
use crate::verdict::{Action, Quality, Status, StatusChange, Verdict};
use crate::window::{Ring, Span};

use standing::Tipped;
pub use standing::{Rate, Ratios, Standing, Volume};

/// Status changes kept per business (the most recent ones).
const MAX_CHANGES: usize = 256;
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

/// What the business's state remembers of one recipient. Times are [`Timestamp::EPOCH`] for
/// "never".
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
    /// The template of the latest message that went out to the recipient (its
    /// [`template_key`](crate::signals::templates)), 0 for none: what its feedback is credited to.
    last_template: u64,
    /// When that message was sent.
    last_out: Timestamp,
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
    /// Blocks and reports from recipients the business had sent nothing in the 7 days before:
    /// counted here (and in `blocks`, `reports`), never in a rate (see
    /// [`BusinessState::on_feedback`]).
    pub unverified_complaints: u64,
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
    /// Complaints (blocks + reports) counted in the 24 h rates: from recipients the business had
    /// sent a message in the 24 h before.
    pub complaints: u32,
    /// The hour's other complaints: from recipients it had not messaged in the 24 h before.
    pub unverified: u32,
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
    /// The domains it has linked.
    links: LinkHistory,
    /// Its templates: quality, pauses.
    templates: Templates,

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
            links: LinkHistory::default(),
            templates: Templates::default(),
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
        if self.now.saturating_since(self.last_sweep) >= Span::Day.millis() {
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
        self.templates.sweep(horizon);
        self.last_sweep = self.now;
    }

    /// The history entry for the hour of `ts`, created in order if missing.
    fn hour_entry(&mut self, ts: Timestamp) -> &mut HourCounts {
        let hour = ts.floor(HOUR);
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
        self.evaluate(policy, Tipped::Business);
    }

    /// Applies a recipient's feedback.
    ///
    /// A complaint (block or report) counts toward a rate only if its reporter is someone the
    /// business messaged within that rate's window before it: the 24 h rates count it if the
    /// business sent the reporter a message in the 24 h before the complaint, the 7 d rates if
    /// in the 7 days before. Complaints from anyone else (report brigading: accounts that never
    /// heard from the business reporting it en masse) are counted apart and move no rate, so no
    /// quality and no status. The numerator of a rate is thus drawn from the recipients its
    /// denominator counts.
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
        let complaint = matches!(f.kind, FeedbackKind::Block | FeedbackKind::Report);
        if complaint {
            let (day, week) = self.messaged_before(recipient, f.ts);
            if week {
                self.credit_complaint(recipient, f.ts, policy);
            }
            self.day.add(f.ts, if day { c } else { Counts::default() });
            self.week
                .add(f.ts, if week { c } else { Counts::default() });
            if !week {
                self.totals.unverified_complaints += 1;
            }
            let h = self.hour_entry(f.ts);
            if day {
                h.complaints += 1;
            } else {
                h.unverified += 1;
            }
        } else {
            self.count(f.ts, c);
        }
        let t = &mut self.totals;
        match f.kind {
            FeedbackKind::Block => t.blocks += 1,
            FeedbackKind::Report => t.reports += 1,
            FeedbackKind::OptOut => t.opt_outs += 1,
            FeedbackKind::Read => t.reads += 1,
            FeedbackKind::Reply => t.replies += 1,
        }
        match f.kind {
            FeedbackKind::Read => self.credit_engagement(recipient, true, f.ts),
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
        self.maybe_evaluate(policy, Tipped::Feedback(f.kind, &f.recipient));
    }

    /// The template of the latest message that went out to `recipient` (its key) and when it
    /// went out, if it had one: what the recipient's feedback and receipts are credited to.
    fn last_out(&self, recipient: u64) -> Option<(u64, Timestamp)> {
        self.recipients
            .get(&recipient)
            .filter(|r| r.last_template != 0)
            .map(|r| (r.last_template, r.last_out))
    }

    /// Credits a verified complaint to the template of the latest message that went out to the
    /// recipient, which may pause it.
    fn credit_complaint(&mut self, recipient: u64, ts: Timestamp, policy: &Policy) {
        if let Some((key, sent)) = self.last_out(recipient) {
            self.templates.complaint(key, sent, policy, self.now, ts);
        }
    }

    /// Credits a delivered receipt or a read to the template of the latest message that went out
    /// to the recipient.
    fn credit_engagement(&mut self, recipient: u64, read: bool, ts: Timestamp) {
        if let Some((key, sent)) = self.last_out(recipient) {
            self.templates.engagement(key, sent, read, self.now, ts);
        }
    }

    /// Whether the business sent `recipient` a message in the 24 h, and in the 7 days, before
    /// `ts` (a message stamped after `ts` but already seen counts: events may arrive a little
    /// out of order).
    fn messaged_before(&self, recipient: u64, ts: Timestamp) -> (bool, bool) {
        let last = self
            .recipients
            .get(&recipient)
            .map_or(Timestamp::EPOCH, |r| r.last_msg);
        if last == Timestamp::EPOCH {
            return (false, false);
        }
        let ago = ts.saturating_since(last);
        (ago < Span::Day.millis(), ago < Span::Week.millis())
    }

    /// Applies a delivery receipt; `recipient` is [`recipient_key`] of its recipient.
    pub fn on_delivery(&mut self, d: &Delivery, recipient: u64, policy: &Policy) {
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
            DeliveryStatus::Delivered => {
                self.totals.delivered += 1;
                self.credit_engagement(recipient, false, d.ts);
            }
            DeliveryStatus::Failed => {
                self.totals.failed += 1;
                self.dirty = true;
            }
        }
        if invalid {
            self.totals.invalid_numbers += 1;
        }
        self.maybe_evaluate(policy, Tipped::Delivery(&d.message));
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

    /// Judges a message: its content first (whether it is flagged counts toward the business's
    /// rate), then it is counted, the standing re-evaluated when due, and the message-level
    /// signals read; one `decide` makes the verdict of the standing and the readings. With
    /// `explain`, every signal's reading goes there: the ones the verdict was made of, and the
    /// ones that did not fire.
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
        let all = explain.is_some();
        let mut content_readings = Vec::new();
        let seen = signals::content::Seen {
            ts: m.ts,
            category: m.category,
            facts: content,
            context: ctx,
            young: self.is_young(policy),
        };
        let flagged = signals::content::readings(
            &mut self.links,
            &seen,
            policy,
            &mut Readings::new(&mut content_readings, all),
        );
        let before = self.count_message(m, recipient, flagged, policy);
        self.messages_since_eval += 1;
        self.maybe_evaluate(policy, Tipped::Message(&m.id));

        let mut readings = Vec::new();
        let business_initiated = self.message_readings(
            m,
            &before,
            ctx,
            policy,
            &mut Readings::new(&mut readings, all),
        );
        let standing = decide::Standing {
            status: self.status,
            hits: &self.standing,
            status_reasons: &self.status_reasons,
        };
        let d = decide(policy, &standing, readings.iter().chain(&content_readings));
        self.count_abuse(m.ts, d.action, &d.reasons);
        if let Some(out) = explain {
            out.extend(self.business_readings(policy, true));
            out.append(&mut content_readings);
            out.append(&mut readings);
        }
        self.record(m, recipient, &before, business_initiated, d.action);
        Verdict {
            message: m.id.clone(),
            business: m.business.clone(),
            action: d.action,
            score: d.score,
            reasons: d.reasons,
        }
    }

    /// Counts a message held or blocked for abuse (`signals::rates::ABUSE_SIGNALS` among its
    /// reasons) toward `abuse_hold_rate_24h`.
    fn count_abuse(&mut self, ts: Timestamp, action: Action, reasons: &[Hit]) {
        if !matches!(action, Action::Hold | Action::Block) {
            return;
        }
        let [campaign, opted_out] =
            signals::rates::ABUSE_SIGNALS.map(|s| reasons.iter().any(|h| h.signal == s));
        if campaign || opted_out {
            self.count(
                ts,
                Counts {
                    held_abuse: 1,
                    held_campaign: u32::from(campaign),
                    held_opted_out: u32::from(opted_out),
                    ..Counts::default()
                },
            );
        }
    }

    /// Counts a message: windows, totals, the baseline and its recipient. Returns what was
    /// remembered of the recipient before it.
    fn count_message(
        &mut self,
        m: &Message,
        recipient: u64,
        flagged: bool,
        policy: &Policy,
    ) -> Recipient {
        let ts = m.ts;
        let marketing = m.category == Category::Marketing;
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
        let burst = &policy.signals.volume_burst_1h;
        self.baseline
            .add(ts, burst.ewma_alpha, burst.peak_half_life_hours);
        let entry = self.recipients.entry(recipient).or_default();
        let before = *entry;
        entry.last_msg = before.last_msg.max(ts);
        if marketing {
            entry.last_marketing = before.last_marketing.max(ts);
        }
        let (new, new_marketing) = (entry.last_msg, entry.last_marketing);
        for ring in [
            &mut self.uniq_1m,
            &mut self.uniq_1h,
            &mut self.uniq_24h,
            &mut self.uniq_7d,
        ] {
            ring.move_key(before.last_msg, new);
        }
        if marketing {
            self.marketing_24h
                .move_key(before.last_marketing, new_marketing);
        }
        before
    }

    /// The message-level readings other than content, in the order they combine: opted out, the
    /// tier's limit, the ramp, fatigue. Returns whether the message is business-initiated (outside
    /// a customer-service window the recipient opened).
    fn message_readings(
        &self,
        m: &Message,
        before: &Recipient,
        ctx: MessageContext,
        policy: &Policy,
        out: &mut Readings<'_>,
    ) -> bool {
        let marketing = m.category == Category::Marketing;
        signals::recipients::opted_out(marketing, before.opted_out, out);
        let window = policy.tiers.service_window_hours * HOUR;
        let reply = before.last_reply;
        let in_service_window = reply != Timestamp::EPOCH
            && m.ts
                .checked_since(reply)
                .is_some_and(|since| since < window);
        let tier = TierUse {
            tier: self.tier,
            used: u64::from(self.tier_24h.sum()),
            counted: before.last_tier != Timestamp::EPOCH && self.tier_24h.covers(before.last_tier),
            business_initiated: !in_service_window,
        };
        signals::recipients::tier_limit(&tier, out);
        let is_new = self.is_new(m.ts, policy.signals.new_business_ramp_1h.hours * HOUR);
        signals::volume::ramp(policy, is_new, u64::from(self.msgs_1h.sum()), out);
        signals::recipients::fatigue(policy, marketing, ctx.recipient_marketing_24h, out);
        self.templates
            .readings(&policy.templates, m.template.as_deref(), m.ts, out);
        !in_service_window
    }

    /// Records what was done with a message: totals, its hour, the first action, and (for an
    /// allowed business-initiated message) its recipient in the tier's count.
    fn record(
        &mut self,
        m: &Message,
        recipient: u64,
        before: &Recipient,
        business_initiated: bool,
        action: Action,
    ) {
        let ts = m.ts;
        let last_tier = before.last_tier;
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
        // A message that goes out is its template's, and the recipient's feedback from now on is
        // credited to it (unless a later message already went out to them).
        let went_out = matches!(action, Action::Allow | Action::Throttle);
        match (&m.template, went_out) {
            (Some(id), true) => {
                let key = self.templates.sent(id, self.now, ts);
                if ts >= before.last_msg
                    && let Some(r) = self.recipients.get_mut(&recipient)
                {
                    r.last_template = key;
                    r.last_out = ts;
                }
            }
            (Some(id), false) => self.templates.seen(id, ts),
            (None, true) if ts >= before.last_msg => {
                if let Some(r) = self.recipients.get_mut(&recipient) {
                    r.last_template = 0;
                    r.last_out = ts;
                }
            }
            (None, _) => {}
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
    }

    /// Whether the account is younger than `age` at `ts`.
    fn is_new(&self, ts: Timestamp, age: Millis) -> bool {
        let born = match (self.established, self.created) {
            (true, Some(c)) => c,
            _ => self.first_seen,
        };
        ts.saturating_since(born) < age
    }

    /// Whether the account (the `created` of its business record, else its first event) is
    /// younger than `trust.young_days`.
    fn is_young(&self, policy: &Policy) -> bool {
        self.is_new(self.now, policy.trust.young_days * DAY)
    }

    /// The scale on rate priors: young businesses have not earned the benefit of the doubt.
    fn prior_scale(&self, policy: &Policy) -> f64 {
        if self.is_young(policy) {
            policy.trust.young_prior_scale
        } else {
            1.0
        }
    }

    fn maybe_evaluate(&mut self, policy: &Policy, tipped: Tipped<'_>) {
        let every = (u64::from(self.uniq_24h.sum()) / 32).max(8);
        if self.dirty
            || self.messages_since_eval >= every
            || self.now.saturating_since(self.last_eval) >= MINUTE
        {
            self.evaluate(policy, tipped);
        }
    }

    /// Moves the clock to `ts` (if later) and re-evaluates: used at the end of a replay and when
    /// a service is asked for a business's standing.
    pub fn settle(&mut self, ts: Timestamp, policy: &Policy) {
        if ts > self.now {
            self.now_only(ts);
        }
        self.evaluate(policy, Tipped::Time);
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
            .map(Reading::into_hit)
            .collect()
    }

    /// Every business-level signal's reading at the business's clock. With `all` false only
    /// readings that fire are kept, and only readings that could fire are computed (the
    /// evaluation path, where posteriors cost); with `all` true every signal gets a reading, with
    /// a note where it cannot judge yet.
    pub fn business_readings(&self, policy: &Policy, all: bool) -> Vec<Reading> {
        // Room for every reading (eight rates, reads, burst, frequency): no regrowth.
        let mut readings = Vec::with_capacity(11);
        let out = &mut Readings::new(&mut readings, all);
        let window = signals::rates::Window {
            day: self.day.sum(),
            week: self.week.sum(),
            recipients_day: u64::from(self.uniq_24h.sum()),
            recipients_week: u64::from(self.uniq_7d.sum()),
            prior_scale: self.prior_scale(policy),
        };
        signals::rates::readings(&window, policy, out);
        signals::volume::readings(
            &self.baseline,
            u64::from(self.msgs_1h.sum()),
            u64::from(window.day.marketing),
            u64::from(self.marketing_24h.sum()),
            policy,
            out,
        );
        readings
    }
}

#[cfg(test)]
mod tests;
