//! `spamward explain`: why a business stands where it does, and why one message got its verdict.
//!
//! The log is replayed through the same engine and driver as `replay` (so the numbers are the
//! report's), in batches, except the batch holding the message to explain, which goes one event
//! at a time so that message can be judged with every signal's reading (`spamward_drive::Explain`).
//! This file's sink keeps the business's message texts, so each status change can show the
//! message that tipped it, and what its messages' content reasons were.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::Serialize;
use spamward_core::Reading;
use spamward_core::event::Message;
use spamward_core::signal::Family;
use spamward_core::verdict::StatusChange;
use spamward_core::{Engine, Event, Policy, Signal, Standing, Timestamp, Verdict};
use spamward_drive::{Explain, Explained, Reader};

use crate::timeline::{Hour, timeline};
use crate::util::{fmt_ts, thousands};

/// Options of an explanation.
pub struct ExplainOptions {
    /// The logs, one stream.
    pub logs: Vec<PathBuf>,
    /// The policy.
    pub policy: Policy,
    /// The content heuristics.
    pub content: crate::analyses::Heuristics,
    /// The business to explain.
    pub business: String,
    /// A message of it to explain, down to each signal.
    pub message: Option<String>,
    /// Print JSON instead of text.
    pub json: bool,
    /// Bad lines tolerated.
    pub max_errors: u64,
    /// No progress display.
    pub quiet: bool,
    /// Where the content analyses are kept between runs over the same logs.
    pub analyses: Option<crate::analyses::Analyses>,
}

/// A message as the explanation shows it.
#[derive(Clone, Serialize)]
struct Shown {
    id: String,
    ts: Timestamp,
    recipient: String,
    category: spamward_core::Category,
    text: String,
}

impl From<&Message> for Shown {
    fn from(m: &Message) -> Shown {
        Shown {
            id: m.id.clone(),
            ts: m.ts,
            recipient: m.recipient.clone(),
            category: m.category,
            text: m.text.clone(),
        }
    }
}

/// A status change and the message that tipped it, if a message did.
#[derive(Serialize)]
struct Change<'a> {
    #[serde(flatten)]
    change: &'a StatusChange,
    message: Option<Shown>,
}

/// The message explained.
#[derive(Serialize)]
struct MessageExplained {
    message: Shown,
    verdict: Verdict,
    readings: Vec<Reading>,
}

/// What the business's messages said: content reasons over the whole log.
#[derive(Default, Serialize)]
struct ContentSummary {
    /// Messages with each content reason, by code.
    signals: BTreeMap<&'static str, u64>,
    /// Messages each rule fired on, by rule id.
    rules: BTreeMap<String, u64>,
    /// Suspect and new domains linked (the reasons' details), with their message counts.
    domains: BTreeMap<String, u64>,
    /// The campaign clusters the business's messages belonged to.
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign: Option<CampaignSeen>,
}

/// The business in near-identical-text clusters.
#[derive(Serialize)]
struct CampaignSeen {
    /// Messages that carried `campaign_24h`.
    messages: u64,
    /// The most distinct businesses seen sending the text at once.
    largest: u64,
    /// First and last such message.
    first: Shown,
    last: Shown,
}

impl ContentSummary {
    fn add(&mut self, v: &Verdict, shown: impl Fn() -> Shown) {
        for h in &v.reasons {
            if h.signal.family() != Family::Content || h.signal == Signal::FlaggedContentRate24h {
                continue;
            }
            *self.signals.entry(h.signal.code()).or_default() += 1;
            match (h.signal, &h.detail) {
                (Signal::ContentRules, Some(ids)) => {
                    for id in ids.split(',').filter(|id| !id.is_empty()) {
                        *self.rules.entry(id.to_owned()).or_default() += 1;
                    }
                }
                (Signal::PhishingLink | Signal::NewLinkDomain, Some(d)) => {
                    *self.domains.entry(d.clone()).or_default() += 1;
                }
                (Signal::Campaign24h, _) => {
                    let size = h.value as u64;
                    match &mut self.campaign {
                        Some(c) => {
                            c.messages += 1;
                            c.largest = c.largest.max(size);
                            c.last = shown();
                        }
                        None => {
                            let first = shown();
                            self.campaign = Some(CampaignSeen {
                                messages: 1,
                                largest: size,
                                last: first.clone(),
                                first,
                            })
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// The whole explanation, as `--json` prints it.
#[derive(Serialize)]
struct Explanation<'a> {
    business: &'a str,
    #[serde(flatten)]
    standing: &'a Standing,
    readings: Vec<Reading>,
    content: ContentSummary,
    status_changes: Vec<Change<'a>>,
    hourly: Vec<Hour>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explained: Option<MessageExplained>,
}

/// Runs an explanation; returns whether the whole log was read.
pub fn run(mut opts: ExplainOptions) -> Result<bool> {
    let progress = crate::progress::Progress::new(
        "explain",
        crate::progress::total_size(&opts.logs),
        opts.quiet,
    );
    let reader = Reader::spawn(&opts.logs, opts.max_errors, progress.clone());

    // No heuristics in the engine: it is handed every message's facts.
    let mut engine = Engine::with_content(opts.policy.clone(), None);
    let mut analysis = crate::analyses::Analysing::new(&opts.content, opts.analyses.take());
    let mut sink = Business {
        business: &opts.business,
        texts: HashMap::new(),
        explained: None,
        content: ContentSummary::default(),
    };
    let mut scoring = Explain::new(&mut engine, &opts.business, opts.message.as_deref());
    let outcome = spamward_drive::run(reader, &mut analysis, &mut scoring, &mut sink)?;
    progress.finish();
    if let Some(line) = analysis.finish(outcome.failure.is_none())? {
        eprintln!("{line}");
    }
    let Business {
        texts,
        explained,
        content,
        ..
    } = sink;
    if let Some(failure) = &outcome.failure {
        eprintln!("error: {failure}");
        eprintln!("the explanation covers everything read before the error");
    }
    let standings = engine.finish();
    let Some((_, standing)) = standings.iter().find(|(b, _)| *b == opts.business) else {
        bail!("business {:?} does not appear in the log", opts.business);
    };
    if let Some(id) = &opts.message
        && explained.is_none()
    {
        bail!(
            "message {id:?} of business {:?} does not appear in the log",
            opts.business
        );
    }
    let readings = engine.readings(&opts.business).unwrap_or_default();
    let status_changes = standing
        .changes
        .iter()
        .map(|c| Change {
            change: c,
            message: c.trigger.message().and_then(|id| texts.get(id)).cloned(),
        })
        .collect();
    let hourly = timeline(standing, engine.policy());
    let e = Explanation {
        business: &opts.business,
        standing,
        readings,
        content,
        status_changes,
        hourly,
        explained,
    };
    let mut o = std::io::stdout().lock();
    if opts.json {
        serde_json::to_writer_pretty(&mut o, &e)?;
        writeln!(o)?;
    } else {
        print(&mut o, &e)?;
    }
    Ok(outcome.failure.is_none())
}

/// The sink of an explanation: the business's message texts by id, its content reasons, and the
/// message explained.
struct Business<'a> {
    business: &'a str,
    texts: HashMap<String, Shown>,
    explained: Option<MessageExplained>,
    content: ContentSummary,
}

impl spamward_drive::Sink<Explained> for Business<'_> {
    type Error = anyhow::Error;

    fn take(&mut self, events: &[Event], scored: Explained) -> Result<()> {
        if let Some(t) = scored.target
            && let Event::Message(m) = &events[t.event]
        {
            self.explained = Some(MessageExplained {
                message: m.into(),
                verdict: t.verdict,
                readings: t.readings,
            });
        }
        let mut mine = scored
            .verdicts
            .iter()
            .filter(|v| v.business == self.business);
        for ev in events {
            if let Event::Message(m) = ev
                && m.business == self.business
            {
                self.texts.insert(m.id.clone(), m.into());
                if let Some(v) = mine.next() {
                    self.content.add(v, || m.into());
                }
            }
        }
        Ok(())
    }
}

fn category(c: spamward_core::Category) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A number short enough for a table: scientific notation when tiny or huge.
fn num(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e9) {
        format!("{x:.3e}")
    } else {
        x.to_string()
    }
}

fn pct(x: f64) -> String {
    format!("{:.3}%", 100.0 * x)
}

fn print(o: &mut impl Write, e: &Explanation<'_>) -> Result<()> {
    let s = e.standing;
    writeln!(
        o,
        "business {}: {} since {}; first flagged {}; quality {}; tier {}; {}; {}",
        e.business,
        s.status,
        fmt_ts(s.status_since),
        s.first_flagged.map_or("never".into(), fmt_ts),
        s.quality,
        s.tier,
        if s.established {
            "known before the log"
        } else {
            "new (no business record)"
        },
        if s.verified { "verified" } else { "unverified" }
    )?;
    writeln!(
        o,
        "seen {} to {}",
        fmt_ts(s.first_seen),
        fmt_ts(s.last_seen)
    )?;
    let t = &s.totals;
    writeln!(
        o,
        "messages {} (marketing {}): allowed {}, throttled {}, held {}, blocked {}",
        thousands(t.messages),
        thousands(t.marketing),
        thousands(t.allowed),
        thousands(t.throttled),
        thousands(t.held),
        thousands(t.blocked)
    )?;
    writeln!(
        o,
        "deliveries: {} delivered, {} failed ({} invalid numbers); feedback: {} blocks, {} reports, {} opt-outs, {} reads, {} replies",
        thousands(t.delivered),
        thousands(t.failed),
        thousands(t.invalid_numbers),
        thousands(t.blocks),
        thousands(t.reports),
        thousands(t.opt_outs),
        thousands(t.reads),
        thousands(t.replies)
    )?;
    let unverified: u64 = s.history.iter().map(|h| u64::from(h.unverified)).sum();
    if t.unverified_complaints > 0 || unverified > 0 {
        let peak = s
            .history
            .iter()
            .max_by_key(|h| (h.unverified, std::cmp::Reverse(h.hour)));
        writeln!(
            o,
            "unverified complaints: {} from recipients it had sent nothing in the 7 days before \
             (they move no rate); by hour, {} from recipients it had sent nothing in the 24 h \
             before (column `unverified`: not in the 24 h rates){}",
            thousands(t.unverified_complaints),
            thousands(unverified),
            peak.filter(|h| h.unverified > 0)
                .map_or(String::new(), |h| format!(
                    ", most in the hour of {} ({})",
                    &fmt_ts(h.hour)[..16],
                    thousands(u64::from(h.unverified))
                ))
        )?;
    }
    if !s.templates.is_empty() {
        writeln!(
            o,
            "templates (the last 7 days since each one's latest pause; lifetime on the right):"
        )?;
        writeln!(
            o,
            "  {:<20} {:<7} {:<9} {:>6} {:>8} {:>11} {:>10} {:>8} {:>10} {:>11}",
            "template",
            "quality",
            "state",
            "pauses",
            "sent 7d",
            "complaints",
            "delivered",
            "reads",
            "sent",
            "complaints"
        )?;
        for t in &s.templates {
            let state = match (t.paused_until, t.disabled_at) {
                (_, Some(at)) => format!("disabled since {}", fmt_ts(at)),
                (Some(until), _) => format!("paused until {}", fmt_ts(until)),
                _ => t.state.to_owned(),
            };
            writeln!(
                o,
                "  {:<20} {:<7} {:<9} {:>6} {:>8} {:>11} {:>10} {:>8} {:>10} {:>11}",
                t.template,
                t.quality,
                t.state,
                t.pauses,
                thousands(t.sent_7d),
                thousands(t.complaints_7d),
                thousands(t.delivered_7d),
                thousands(t.reads_7d),
                thousands(t.sent),
                thousands(t.complaints)
            )?;
            if t.state != "active" {
                writeln!(o, "      {state}")?;
            }
        }
    }
    if let Some(f) = &s.first_action {
        writeln!(
            o,
            "first message not allowed: {} at {} ({}), after {} allowed",
            f.message,
            fmt_ts(f.ts),
            f.action,
            thousands(f.allowed_before)
        )?;
    }

    writeln!(o, "\nstatus changes:")?;
    if e.status_changes.is_empty() {
        writeln!(o, "  none")?;
    }
    for c in &e.status_changes {
        writeln!(
            o,
            "  {}  {} -> {}, tipped by {}",
            fmt_ts(c.change.ts),
            c.change.from,
            c.change.to,
            c.change.trigger
        )?;
        if let Some(m) = &c.message {
            writeln!(
                o,
                "      {} to {}: {:?}",
                category(m.category),
                m.recipient,
                m.text
            )?;
        }
        for h in &c.change.reasons {
            writeln!(o, "      {h}")?;
        }
    }

    let c = &e.content;
    writeln!(o, "\ncontent:")?;
    if c.signals.is_empty() {
        writeln!(o, "  no content reason on any message")?;
    }
    for (code, n) in &c.signals {
        writeln!(o, "  {code:<26} {} messages", thousands(*n))?;
    }
    if !c.rules.is_empty() {
        let mut rules: Vec<_> = c.rules.iter().collect();
        rules.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let list: Vec<String> = rules.iter().map(|(id, n)| format!("{id} {n}")).collect();
        writeln!(o, "  rules fired: {}", list.join(", "))?;
    }
    for (d, n) in &c.domains {
        writeln!(o, "  domain {d}: {} messages", thousands(*n))?;
    }
    if let Some(k) = &c.campaign {
        writeln!(
            o,
            "  campaign: {} messages in clusters of up to {} businesses, {} to {}; e.g. {}: {:?}",
            thousands(k.messages),
            k.largest,
            fmt_ts(k.first.ts),
            fmt_ts(k.last.ts),
            k.first.id,
            k.first.text
        )?;
    }

    writeln!(o, "\nsignals at the end of the log:")?;
    print_readings(o, &e.readings)?;

    if let Some(x) = &e.explained {
        writeln!(
            o,
            "\nmessage {} at {} ({}, to {}): {:?}",
            x.message.id,
            fmt_ts(x.message.ts),
            category(x.message.category),
            x.message.recipient,
            x.message.text
        )?;
        writeln!(
            o,
            "verdict: {} (score {})",
            x.verdict.action, x.verdict.score
        )?;
        for h in &x.verdict.reasons {
            writeln!(o, "  because {h}")?;
        }
        writeln!(
            o,
            "every signal at that moment (business signals as of the business's clock):"
        )?;
        print_readings(o, &x.readings)?;
    }

    writeln!(
        o,
        "\nhourly (UTC). Complaint rate: observed over the trailing 24 h [the posterior's credible \
         interval; the prior pulls small samples toward the usual rate]:"
    )?;
    writeln!(
        o,
        "  {:<17} {:>8} {:>8} {:>9} {:>6} {:>8} {:>10} {:>10} {:>13} {:>10}  complaint rate 24h",
        "hour",
        "messages",
        "allowed",
        "throttled",
        "held",
        "blocked",
        "complaints",
        "unverified",
        "recipients24h",
        "tier limit",
    )?;
    for h in &e.hourly {
        let c = &h.counts;
        writeln!(
            o,
            "  {:<17} {:>8} {:>8} {:>9} {:>6} {:>8} {:>10} {:>10} {:>13} {:>10}  {} [{}, {}]",
            &fmt_ts(c.hour)[..16],
            c.messages,
            c.allowed,
            c.throttled,
            c.held,
            c.blocked,
            c.complaints,
            c.unverified,
            c.recipients_24h,
            h.tier_limit.map_or("-".into(), |l| l.to_string()),
            pct(h.complaint_rate_24h),
            pct(h.complaint_rate_low),
            pct(h.complaint_rate_high)
        )?;
    }
    Ok(())
}

fn print_readings(o: &mut impl Write, readings: &[Reading]) -> Result<()> {
    writeln!(
        o,
        "  {:<26} {:>12} {:>12} {:>11} {:>9} {:>9}  {:<5}  note",
        "signal", "value", "threshold", "probability", "count", "of", "fired"
    )?;
    for r in readings {
        let p = match (r.probability, r.p_value) {
            (Some(p), _) => num(p),
            (None, Some(p)) => format!("tail {}", num(p)),
            _ => "-".into(),
        };
        writeln!(
            o,
            "  {:<26} {:>12} {:>12} {:>11} {:>9} {:>9}  {:<5}  {}",
            r.signal.code(),
            num(r.value),
            num(r.threshold),
            p,
            r.count,
            r.of,
            if r.fired { "yes" } else { "no" },
            match (r.note, &r.detail) {
                (Some(n), Some(d)) => format!("{n}; {d}"),
                (Some(n), None) => n.to_owned(),
                (None, Some(d)) => d.clone(),
                (None, None) => String::new(),
            }
        )?;
    }
    Ok(())
}
