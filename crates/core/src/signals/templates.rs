//! The template family: the platform rates every template a business sends from (green, yellow,
//! red) on the feedback to the messages that used it, pauses a template that turns red (3 h the
//! first time, 6 h the second, disabled the third, by default), and rejects its messages
//! meanwhile. The business's other templates are unaffected.
//!
//! A template is known by its business and its `template` id. Feedback and delivery receipts do
//! not name templates, so each is credited to the template of the latest message the business
//! sent the recipient that went out (allowed or throttled): the message a recipient reacts to is
//! almost always the latest one. A complaint is credited only when it would count toward the
//! business's 7 d complaint rate (the recipient was messaged in the 7 days before it).
//!
//! Quality is judged on the template's counts over the last 7 days since its latest pause, on Beta
//! posteriors as the business's rates are: **red** when its complaint rate is probably above
//! `templates.red_complaint_rate`; **yellow** when it is probably above
//! `templates.yellow_complaint_rate`, or its read rate probably below `templates.low_read_rate`;
//! **green** otherwise. A pause wipes the counts: the evidence that paused it has been acted on,
//! and what comes after the pause is judged on its own.
//!
//! State: a business's templates are forgotten a week after their last message, unless disabled
//! (a disabled template stays disabled).

use std::collections::BTreeMap;
use std::ops::{AddAssign, SubAssign};

use bincode::{Decode, Encode};
use serde::Serialize;

use super::{Reading, Readings};
use crate::event::Timestamp;
use crate::policy::{Policy, TemplateConfig};
use crate::signal::Signal;
use crate::stats::Prior;
use crate::time::{HOUR, MINUTE};
use crate::window::{Counter, Ring, Span};

/// A template's quality rating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum TemplateQuality {
    /// Nothing against it.
    Green,
    /// Complaints above the yellow line, or few reads: watched, paced when marketing.
    Yellow,
    /// Complaints above the red line: paused.
    Red,
}

impl TemplateQuality {
    /// The name reports use: `green`, `yellow`, `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateQuality::Green => "green",
            TemplateQuality::Yellow => "yellow",
            TemplateQuality::Red => "red",
        }
    }
}

impl std::fmt::Display for TemplateQuality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The stable 64-bit key of a template id within its business.
pub(crate) fn template_key(id: &str) -> u64 {
    // 0 means "no template" in the recipients' memory; an id hashing to it is moved off it.
    crate::corpus::fnv1a64(id.as_bytes()).max(1)
}

/// Counts per time bucket of one template.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
struct Use {
    /// Messages that went out (allowed or throttled).
    sent: u32,
    /// Blocks and reports credited to it.
    complaints: u32,
    /// Delivered receipts credited to it.
    delivered: u32,
    /// Reads credited to it.
    reads: u32,
}

impl AddAssign for Use {
    fn add_assign(&mut self, o: Use) {
        self.sent += o.sent;
        self.complaints += o.complaints;
        self.delivered += o.delivered;
        self.reads += o.reads;
    }
}

impl SubAssign for Use {
    fn sub_assign(&mut self, o: Use) {
        self.sent -= o.sent;
        self.complaints -= o.complaints;
        self.delivered -= o.delivered;
        self.reads -= o.reads;
    }
}

impl Counter for Use {
    fn checked_add(self, o: Use) -> Option<Use> {
        Some(Use {
            sent: self.sent.checked_add(o.sent)?,
            complaints: self.complaints.checked_add(o.complaints)?,
            delivered: self.delivered.checked_add(o.delivered)?,
            reads: self.reads.checked_add(o.reads)?,
        })
    }
}

/// What a business's state keeps of one template.
#[derive(Clone, Debug, Encode, Decode)]
struct Template {
    id: String,
    first_seen: Timestamp,
    last_used: Timestamp,
    /// Counts since the latest pause, in the moving 7 days.
    week: Ring<Use>,
    /// Lifetime counts: messages that went out, complaints, reads.
    total: [u64; 3],
    /// Pauses so far.
    pauses: u32,
    /// The latest pause: from, until.
    paused: Option<(Timestamp, Timestamp)>,
    /// When it was disabled.
    disabled: Option<Timestamp>,
}

/// Whether a template may be used at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Open,
    Paused { number: u32, until: Timestamp },
    Disabled,
}

impl Template {
    fn new(id: &str, ts: Timestamp) -> Template {
        let mut week = Ring::new(Span::Week);
        week.advance(ts);
        Template {
            id: id.to_owned(),
            first_seen: ts,
            last_used: ts,
            week,
            total: [0; 3],
            pauses: 0,
            paused: None,
            disabled: None,
        }
    }

    fn gate(&self, ts: Timestamp) -> Gate {
        if self.disabled.is_some_and(|at| ts >= at) {
            return Gate::Disabled;
        }
        match self.paused {
            Some((from, until)) if (from..until).contains(&ts) => Gate::Paused {
                number: self.pauses,
                until,
            },
            _ => Gate::Open,
        }
    }

    /// Counts `u` at `ts`, about a message sent at `sent`: in the window only if that message
    /// went out after the latest pause began (what came before was acted on).
    fn add(&mut self, now: Timestamp, ts: Timestamp, sent: Timestamp, u: Use) {
        let before_pause = self.paused.is_some_and(|(from, _)| sent < from);
        if !before_pause && self.disabled.is_none() {
            self.week.advance(now);
            self.week.add(ts, u);
        }
        for (total, n) in self.total.iter_mut().zip([u.sent, u.complaints, u.reads]) {
            *total += u64::from(n);
        }
    }
}

/// The quality of a template whose window holds `w`.
fn quality(w: Use, cfg: &TemplateConfig, read_prior: Prior) -> TemplateQuality {
    let (complaints, sent) = (u64::from(w.complaints), u64::from(w.sent));
    let of = sent.max(complaints);
    let prior = Prior {
        rate: cfg.prior_rate,
        strength: cfg.prior_strength,
    };
    let judged = complaints >= cfg.min_complaints && of > 0;
    if judged && prior.prob_above(complaints, of, cfg.red_complaint_rate) >= cfg.confidence {
        return TemplateQuality::Red;
    }
    if judged && prior.prob_above(complaints, of, cfg.yellow_complaint_rate) >= cfg.confidence {
        return TemplateQuality::Yellow;
    }
    let delivered = u64::from(w.delivered);
    let reads = u64::from(w.reads).min(delivered);
    if delivered >= cfg.min_deliveries
        && read_prior.prob_below(reads, delivered, cfg.low_read_rate) >= cfg.confidence
    {
        return TemplateQuality::Yellow;
    }
    TemplateQuality::Green
}

impl Template {
    /// Pauses the template at `now`, or disables it once its pauses are used up; the counts
    /// start again.
    fn pause(&mut self, cfg: &TemplateConfig, now: Timestamp) {
        self.pauses += 1;
        match cfg.pause_hours.get(self.pauses as usize - 1) {
            Some(&hours) => self.paused = Some((now, now + hours * HOUR)),
            None => self.disabled = Some(now),
        }
        self.week = Ring::new(Span::Week);
        self.week.advance(now);
    }
}

/// A business's templates, by [`template_key`].
#[derive(Clone, Debug, Default, Encode, Decode)]
pub(crate) struct Templates {
    by_key: BTreeMap<u64, Template>,
}

/// A template's standing, as reports show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TemplateStanding {
    /// The template id.
    pub template: String,
    /// Its quality now.
    pub quality: TemplateQuality,
    /// `active`, `paused` or `disabled`.
    pub state: &'static str,
    /// Pauses so far.
    pub pauses: u32,
    /// End of the current pause, if paused.
    pub paused_until: Option<Timestamp>,
    /// When it was disabled, if it was.
    pub disabled_at: Option<Timestamp>,
    /// First and last message that used it.
    pub first_seen: Timestamp,
    /// Last message that used it.
    pub last_used: Timestamp,
    /// Lifetime: messages that went out with it.
    pub sent: u64,
    /// Lifetime: complaints credited to it.
    pub complaints: u64,
    /// Lifetime: reads credited to it.
    pub reads: u64,
    /// Since the latest pause, last 7 days: messages that went out.
    pub sent_7d: u64,
    /// The same: complaints.
    pub complaints_7d: u64,
    /// The same: delivered receipts.
    pub delivered_7d: u64,
    /// The same: reads.
    pub reads_7d: u64,
}

impl Templates {
    /// The message readings of a message using `template` at `ts`: paused, disabled.
    pub(crate) fn readings(
        &self,
        cfg: &TemplateConfig,
        template: Option<&str>,
        ts: Timestamp,
        out: &mut Readings<'_>,
    ) {
        let found = template.and_then(|id| self.by_key.get(&template_key(id)));
        let gate = found.map_or(Gate::Open, |t| t.gate(ts));
        let note = match (template, found) {
            (None, _) => Some("no template"),
            (Some(_), None) => Some("a template not seen before"),
            _ => None,
        };
        let detail = || template.map(str::to_owned);
        let pauses = found.map_or(0, |t| t.pauses);
        out.push(matches!(gate, Gate::Paused { .. }), || {
            let (number, until) = match gate {
                Gate::Paused { number, until } => (number, until),
                _ => (pauses, ts),
            };
            // Value: the pause's number; threshold: the pauses before it is disabled; count: the
            // minutes of the pause left.
            Reading::new(
                Signal::TemplatePaused,
                f64::from(number),
                cfg.pause_hours.len() as f64,
                until.saturating_since(ts) / MINUTE,
                0,
            )
            .noted(note)
            .detailed(detail())
        });
        out.push(gate == Gate::Disabled, || {
            Reading::new(
                Signal::TemplateDisabled,
                f64::from(pauses),
                cfg.pause_hours.len() as f64 + 1.0,
                0,
                0,
            )
            .noted(note)
            .detailed(detail())
        });
    }

    /// The template `id`, remembered from `ts` if new, with its use at `ts` noted; and its key.
    fn touch(&mut self, id: &str, ts: Timestamp) -> (u64, &mut Template) {
        let key = template_key(id);
        let t = self
            .by_key
            .entry(key)
            .or_insert_with(|| Template::new(id, ts));
        t.first_seen = t.first_seen.min(ts);
        t.last_used = t.last_used.max(ts);
        (key, t)
    }

    /// Counts a message that went out with `template` (the recipient will credit its feedback to
    /// it); returns the template's key.
    pub(crate) fn sent(&mut self, id: &str, now: Timestamp, ts: Timestamp) -> u64 {
        let (key, t) = self.touch(id, ts);
        t.add(
            now,
            ts,
            ts,
            Use {
                sent: 1,
                ..Use::default()
            },
        );
        key
    }

    /// Notes that a message with `template` was seen, even if it did not go out (a paused
    /// template's messages keep it remembered).
    pub(crate) fn seen(&mut self, id: &str, ts: Timestamp) {
        self.touch(id, ts);
    }

    /// Credits a complaint about a message sent at `sent` to the template `key`; pauses the
    /// template if that turns it red.
    pub(crate) fn complaint(
        &mut self,
        key: u64,
        sent: Timestamp,
        policy: &Policy,
        now: Timestamp,
        ts: Timestamp,
    ) {
        let Some(t) = self.by_key.get_mut(&key) else {
            return;
        };
        t.add(
            now,
            ts,
            sent,
            Use {
                complaints: 1,
                ..Use::default()
            },
        );
        if t.gate(now) != Gate::Open {
            return;
        }
        let cfg = &policy.templates;
        let read_prior = policy.signals.low_read_rate_7d.prior(1.0);
        if quality(t.week.sum(), cfg, read_prior) == TemplateQuality::Red {
            t.pause(cfg, now);
        }
    }

    /// Credits a delivered receipt (`read` false) or a read of a message sent at `sent` to the
    /// template `key`.
    pub(crate) fn engagement(
        &mut self,
        key: u64,
        sent: Timestamp,
        read: bool,
        now: Timestamp,
        ts: Timestamp,
    ) {
        if let Some(t) = self.by_key.get_mut(&key) {
            let u = if read {
                Use {
                    reads: 1,
                    ..Use::default()
                }
            } else {
                Use {
                    delivered: 1,
                    ..Use::default()
                }
            };
            t.add(now, ts, sent, u);
        }
    }

    /// Forgets templates with no message in the week before `horizon`'s end, unless disabled.
    pub(crate) fn sweep(&mut self, horizon: Timestamp) {
        self.by_key
            .retain(|_, t| t.disabled.is_some() || t.last_used >= horizon);
    }

    /// Every template's standing at `now`, by id.
    pub(crate) fn standing(&self, policy: &Policy, now: Timestamp) -> Vec<TemplateStanding> {
        let read_prior = policy.signals.low_read_rate_7d.prior(1.0);
        let mut out: Vec<TemplateStanding> = self
            .by_key
            .values()
            .map(|t| {
                let mut week = t.week.clone();
                week.advance(now);
                let w = week.sum();
                let gate = t.gate(now);
                TemplateStanding {
                    template: t.id.clone(),
                    quality: quality(w, &policy.templates, read_prior),
                    state: match gate {
                        Gate::Open => "active",
                        Gate::Paused { .. } => "paused",
                        Gate::Disabled => "disabled",
                    },
                    pauses: t.pauses,
                    paused_until: match gate {
                        Gate::Paused { until, .. } => Some(until),
                        _ => None,
                    },
                    disabled_at: t.disabled,
                    first_seen: t.first_seen,
                    last_used: t.last_used,
                    sent: t.total[0],
                    complaints: t.total[1],
                    reads: t.total[2],
                    sent_7d: u64::from(w.sent),
                    complaints_7d: u64::from(w.complaints),
                    delivered_7d: u64::from(w.delivered),
                    reads_7d: u64::from(w.reads),
                }
            })
            .collect();
        out.sort_by(|a, b| a.template.cmp(&b.template));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Millis;

    const T: Timestamp = Timestamp::from_millis(1_793_577_600_000);
    const MS: Millis = Millis::from_millis(1);

    fn cfg() -> TemplateConfig {
        Policy::default().templates
    }

    fn window(sent: u32, complaints: u32, delivered: u32, reads: u32) -> Use {
        Use {
            sent,
            complaints,
            delivered,
            reads,
        }
    }

    fn judge(w: Use) -> TemplateQuality {
        quality(
            w,
            &cfg(),
            Policy::default().signals.low_read_rate_7d.prior(1.0),
        )
    }

    #[test]
    fn qualities_are_named_as_in_reports() {
        let names: Vec<String> = [
            TemplateQuality::Green,
            TemplateQuality::Yellow,
            TemplateQuality::Red,
        ]
        .iter()
        .map(|q| format!("{q:>6}|{}", serde_json::to_string(q).unwrap()))
        .collect();
        assert_eq!(
            names,
            [" green|\"green\"", "yellow|\"yellow\"", "   red|\"red\""]
        );
    }

    #[test]
    fn no_template_id_has_the_key_of_none() {
        assert_ne!(template_key(""), 0);
        assert_ne!(template_key("t-1"), template_key("t-2"));
    }

    #[test]
    fn quality_needs_its_evidence_and_its_lines() {
        // Ten complaints in 300: red; the same rate with four complaints: too few to judge.
        assert_eq!(judge(window(300, 10, 0, 0)), TemplateQuality::Red);
        assert_eq!(judge(window(120, 4, 0, 0)), TemplateQuality::Green);
        // At `min_complaints` exactly it is judged.
        assert_eq!(judge(window(150, 5, 0, 0)), TemplateQuality::Yellow);
        // 0.6% of 2,000: above the yellow line, not credibly above the red one.
        assert_eq!(judge(window(2000, 12, 0, 0)), TemplateQuality::Yellow);
        assert_eq!(judge(window(20_000, 12, 0, 0)), TemplateQuality::Green);
        // Complaints beyond messages (feedback to messages out of the window) stay a rate of 1.
        assert_eq!(judge(window(0, 6, 0, 0)), TemplateQuality::Red);
        // Reads: judged from `min_deliveries` delivered receipts.
        assert_eq!(judge(window(400, 0, 199, 0)), TemplateQuality::Green);
        assert_eq!(judge(window(400, 0, 200, 0)), TemplateQuality::Yellow);
        assert_eq!(judge(window(400, 0, 200, 100)), TemplateQuality::Green);
        // Reads past the deliveries count as the deliveries.
        assert_eq!(judge(window(400, 0, 200, 900)), TemplateQuality::Green);
    }

    #[test]
    fn pauses_follow_the_schedule_then_disable() {
        let cfg = cfg();
        let mut t = Template::new("t", T);
        t.pause(&cfg, T);
        assert_eq!(
            t.gate(T),
            Gate::Paused {
                number: 1,
                until: T + 3 * HOUR
            }
        );
        assert_eq!(
            t.gate(T - MS),
            Gate::Open,
            "a late message from before the pause"
        );
        assert_eq!(t.gate(T + 3 * HOUR), Gate::Open);
        let later = T + 5 * HOUR;
        t.pause(&cfg, later);
        assert_eq!(
            t.gate(later + 6 * HOUR - MS),
            Gate::Paused {
                number: 2,
                until: later + 6 * HOUR
            }
        );
        t.pause(&cfg, later + 7 * HOUR);
        assert_eq!(t.gate(later + 7 * HOUR), Gate::Disabled);
        assert_eq!(t.gate(later + 7 * HOUR - MS), Gate::Open);
        assert_eq!(t.pauses, 3);
    }

    #[test]
    fn what_was_sent_before_a_pause_counts_only_in_the_lifetime() {
        let mut t = Template::new("t", T);
        let one = Use {
            complaints: 1,
            ..Use::default()
        };
        t.add(T, T, T, one);
        t.pause(&cfg(), T + HOUR);
        t.add(T + HOUR, T + HOUR, T, one);
        assert_eq!(t.week.sum().complaints, 0);
        t.add(T + HOUR, T + HOUR, T + HOUR, one);
        assert_eq!(t.week.sum().complaints, 1);
        assert_eq!(t.total, [0, 3, 0]);
        // Once disabled, nothing more is judged.
        t.disabled = Some(T + 2 * HOUR);
        t.add(T + 2 * HOUR, T + 2 * HOUR, T + 2 * HOUR, one);
        assert_eq!(t.week.sum().complaints, 1);
        assert_eq!(t.total, [0, 4, 0]);
    }

    #[test]
    fn a_message_without_template_or_of_an_unknown_one_reads_open() {
        let ts = Templates::default();
        let mut readings = Vec::new();
        ts.readings(&cfg(), None, T, &mut Readings::new(&mut readings, true));
        ts.readings(
            &cfg(),
            Some("new"),
            T,
            &mut Readings::new(&mut readings, true),
        );
        let notes: Vec<_> = readings
            .iter()
            .map(|r| (r.signal, r.fired, r.note))
            .collect();
        assert_eq!(
            notes,
            [
                (Signal::TemplatePaused, false, Some("no template")),
                (Signal::TemplateDisabled, false, Some("no template")),
                (
                    Signal::TemplatePaused,
                    false,
                    Some("a template not seen before")
                ),
                (
                    Signal::TemplateDisabled,
                    false,
                    Some("a template not seen before")
                ),
            ]
        );
    }
}
