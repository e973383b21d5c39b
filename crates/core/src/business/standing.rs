//! A business's standing: the status machine (active, throttled, suspended) driven by its
//! business-level readings, its quality rating and its tier on the messaging-limit ladder, and the
//! [`Standing`] record reports and the service show.

use serde::Serialize;

use super::{BusinessState, FirstAction, HourCounts, MAX_CHANGES, Totals};
use crate::event::{FeedbackKind, Tier, Timestamp};
use crate::policy::{BusinessAction, Policy};
use crate::signal::{Hit, Signal, round_sig};
use crate::signals::templates::TemplateStanding;
use crate::stats::Prior;
use crate::time::HOUR;
use crate::verdict::{Quality, Status, StatusChange, Trigger};

/// What tipped a re-evaluation, borrowed from the event; made a [`Trigger`] only when the
/// status changes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Tipped<'a> {
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

impl Tipped<'_> {
    fn trigger(self) -> Trigger {
        match self {
            Tipped::Message(id) => Trigger::Message(id.to_owned()),
            Tipped::Feedback(kind, r) => Trigger::Feedback {
                kind,
                from: r.to_owned(),
            },
            Tipped::Delivery(id) => Trigger::Delivery(id.to_owned()),
            Tipped::Business => Trigger::Business,
            Tipped::Time => Trigger::Time,
        }
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
            value: round_sig(value),
            low: round_sig(low),
            high: round_sig(high),
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
    /// Its templates (those used in the last week, and any disabled), by id.
    pub templates: Vec<TemplateStanding>,
}

impl BusinessState {
    /// What a business-level hit does to this business: the policy's action, except that content
    /// alone suspends no established business unless `trust.content_suspends_established`
    /// (one spammy-looking template of a shop is throttled until it stops, not suspended;
    /// complaints and bought lists still suspend it).
    fn business_action(&self, policy: &Policy, hit: &Hit) -> BusinessAction {
        let action = policy
            .signals
            .rule(hit.signal)
            .business_action(hit.probability);
        if hit.signal == Signal::FlaggedContentRate24h
            && !policy.trust.content_suspends_established
            && !self.is_young(policy)
        {
            action.min(BusinessAction::Throttle)
        } else {
            action
        }
    }

    /// Recomputes standing, status, quality and tier.
    pub(super) fn evaluate(&mut self, policy: &Policy, tipped: Tipped<'_>) {
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
            && now.saturating_since(self.status_since) < policy.status.suspend_hours * HOUR;
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
                trigger: tipped.trigger(),
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
            .map(|h| quality_impact(h.signal))
            .max()
            .unwrap_or(Quality::High);
        let tiers = &policy.tiers;
        if self.quality == Quality::Low {
            let since = *self.low_since.get_or_insert(now);
            if now.saturating_since(since) >= tiers.downgrade_after_hours * HOUR {
                if let Some(down) = self.tier.down() {
                    self.tier = down;
                    self.tier_since = now;
                }
                self.low_since = Some(now);
            }
        } else {
            self.low_since = None;
            let settled = now.saturating_since(self.tier_since) >= tiers.min_hours_at_tier * HOUR;
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
            baseline_1h: self
                .baseline
                .ready(burst)
                .then(|| round_sig(self.baseline.level(burst))),
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
            templates: self.templates.standing(policy, self.now),
        }
    }
}

/// What a business-level hit does to the business's quality rating.
pub(crate) fn quality_impact(signal: Signal) -> Quality {
    match signal {
        Signal::ComplaintRate24h
        | Signal::ComplaintRate7d
        | Signal::InvalidNumberRate24h
        | Signal::InvalidNumberRate7d
        | Signal::FlaggedContentRate24h
        | Signal::AbuseHoldRate24h => Quality::Low,
        Signal::ComplaintWarn7d
        | Signal::OptOutRate24h
        | Signal::FailedDeliveryRate24h
        | Signal::LowReadRate7d
        | Signal::RecipientFrequency24h => Quality::Medium,
        _ => Quality::High,
    }
}
