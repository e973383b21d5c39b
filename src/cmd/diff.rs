//! `spamward diff`: what a policy change would have done to a log (shadow mode on history).
//!
//! Both policies run over one read of the log through the pipelined driver (`spamward_drive`),
//! batch by batch and side by side, each message analysed once for both, so the two verdicts on
//! every message are compared as they are made (this file's sink) and the log never has to fit
//! in memory. The output lists only what changed: the same policy twice gives a
//! diff with no business and no message in it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use spamward_core::{Action, Engine, Event, Hit, Policy, Standing, Status, Timestamp, Verdict};

use spamward_drive::{Pair, Reader};

use crate::truth::{self, ReportBusiness};
use crate::util::{ActionCounts, create, pct, thousands};

/// Options of a diff.
pub struct DiffOptions {
    /// The content heuristics, the same under both policies.
    pub content: crate::analyses::Heuristics,
    /// The logs, one stream.
    pub logs: Vec<PathBuf>,
    /// The policy in force, and its file.
    pub old: (PathBuf, Policy),
    /// The candidate policy, and its file.
    pub new: (PathBuf, Policy),
    /// The generator's truth, to score both.
    pub truth: Option<PathBuf>,
    /// Where the JSON diff goes.
    pub out: Option<PathBuf>,
    /// Messages listed per direction.
    pub sample: usize,
    /// Bad lines tolerated.
    pub max_errors: u64,
    /// No progress display.
    pub quiet: bool,
    /// Where the content analyses are kept between runs over the same logs.
    pub analyses: Option<crate::analyses::Analyses>,
}

/// One side of a changed verdict.
#[derive(Serialize)]
struct Side {
    action: Action,
    score: f64,
    reasons: Vec<Hit>,
}

impl From<Verdict> for Side {
    fn from(v: Verdict) -> Side {
        Side {
            action: v.action,
            score: v.score,
            reasons: v.reasons,
        }
    }
}

/// A message whose action changed.
#[derive(Serialize)]
struct MessageChange {
    message: String,
    business: String,
    ts: Timestamp,
    text: String,
    old: Side,
    new: Side,
}

/// One side of a changed business.
#[derive(Serialize)]
struct BusinessSide {
    status: Status,
    first_flagged: Option<Timestamp>,
    reasons: Vec<Hit>,
    allowed: u64,
    blocked: u64,
}

impl From<&Standing> for BusinessSide {
    fn from(s: &Standing) -> BusinessSide {
        BusinessSide {
            status: s.status,
            first_flagged: s.first_flagged,
            reasons: s.reasons.clone(),
            allowed: s.totals.allowed,
            blocked: s.totals.blocked,
        }
    }
}

/// A business whose status at the end, or whether it was ever flagged, changed.
#[derive(Serialize)]
struct BusinessChange {
    business: String,
    old: BusinessSide,
    new: BusinessSide,
}

/// Precision and losses under one policy.
#[derive(Serialize)]
struct Score {
    precision: f64,
    recall: f64,
    f1: f64,
    legitimate_flagged: u64,
    legitimate_messages_not_allowed: u64,
    abusive_messages_allowed: u64,
}

/// The whole diff, as written by `--out`.
#[derive(Serialize)]
struct Diff {
    policies: [String; 2],
    messages: u64,
    actions: [ActionCounts; 2],
    /// Messages whose action changed.
    changed: u64,
    /// Messages allowed under the old policy and not under the new.
    newly_stopped: u64,
    /// Messages not allowed under the old policy and allowed under the new.
    newly_allowed: u64,
    /// Messages whose action changed between two non-allow actions.
    other_changed: u64,
    /// Messages whose action stayed but whose score or reasons changed.
    rescored: u64,
    /// Counts of `old -> new` action pairs that changed.
    transitions: BTreeMap<String, u64>,
    businesses: Vec<BusinessChange>,
    stopped_sample: Vec<MessageChange>,
    allowed_sample: Vec<MessageChange>,
    other_sample: Vec<MessageChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    truth: Option<[Score; 2]>,
}

/// Runs a diff; returns whether the whole log was read.
pub fn run(mut opts: DiffOptions) -> Result<bool> {
    let progress =
        crate::progress::Progress::new("diff", crate::progress::total_size(&opts.logs), opts.quiet);
    let reader = Reader::spawn(&opts.logs, opts.max_errors, progress.clone());

    // No heuristics in the engines: they are handed every message's facts, analysed once for both.
    let mut old = Engine::with_content(opts.old.1, None);
    let mut new = Engine::with_content(opts.new.1, None);
    let mut d = Diff {
        policies: [
            opts.old.0.display().to_string(),
            opts.new.0.display().to_string(),
        ],
        messages: 0,
        actions: [ActionCounts::default(); 2],
        changed: 0,
        newly_stopped: 0,
        newly_allowed: 0,
        other_changed: 0,
        rescored: 0,
        transitions: BTreeMap::new(),
        businesses: Vec::new(),
        stopped_sample: Vec::new(),
        allowed_sample: Vec::new(),
        other_sample: Vec::new(),
        truth: None,
    };
    let mut analysis = crate::analyses::Analysing::new(&opts.content, opts.analyses.take());
    let mut sink = Compare {
        diff: &mut d,
        sample: opts.sample,
    };
    let outcome = spamward_drive::run(
        reader,
        &mut analysis,
        &mut Pair(&mut old, &mut new),
        &mut sink,
    )?;
    progress.finish();
    let kept = analysis.finish(outcome.failure.is_none())?;

    let (sa, sb) = rayon::join(|| old.finish(), || new.finish());
    let sb: BTreeMap<String, Standing> = sb.into_iter().collect();
    for (b, a) in &sa {
        let Some(n) = sb.get(b) else { continue };
        if a.status != n.status || a.first_flagged.is_some() != n.first_flagged.is_some() {
            d.businesses.push(BusinessChange {
                business: b.clone(),
                old: a.into(),
                new: n.into(),
            });
        }
    }
    if let Some(truth) = &opts.truth {
        let truth = truth::load_truth(truth)?;
        let score = |standings: &mut dyn Iterator<Item = (&String, &Standing)>| -> Result<Score> {
            let records: Vec<ReportBusiness> = standings
                .map(|(b, s)| ReportBusiness::from_standing(b, s))
                .collect();
            let e = truth::evaluate_records(&truth, &records)?;
            Ok(Score {
                precision: e.precision,
                recall: e.recall,
                f1: e.f1,
                legitimate_flagged: e.false_positives,
                legitimate_messages_not_allowed: e.legitimate_messages_not_allowed,
                abusive_messages_allowed: e.abusive_messages_allowed,
            })
        };
        let a = score(&mut sa.iter().map(|(b, s)| (b, s)))?;
        let b = score(&mut sb.iter())?;
        d.truth = Some([a, b]);
    }
    if let Some(p) = &opts.out {
        let mut w = create(p)?;
        serde_json::to_writer_pretty(&mut w, &d)
            .with_context(|| format!("cannot write {}", p.display()))?;
        writeln!(w)?;
        w.flush()?;
    }
    print(&d)?;
    if let Some(line) = kept {
        eprintln!("{line}");
    }
    if let Some(failure) = outcome.failure {
        eprintln!("error: {failure}");
        eprintln!("the diff covers everything read before the error");
        return Ok(false);
    }
    Ok(true)
}

/// The sink of a diff: each message's two verdicts compared, counted, and the first changes of
/// each direction kept as samples.
struct Compare<'a> {
    diff: &'a mut Diff,
    /// Messages kept per direction.
    sample: usize,
}

impl spamward_drive::Sink<(Vec<Verdict>, Vec<Verdict>)> for Compare<'_> {
    type Error = anyhow::Error;

    fn take(&mut self, events: &[Event], (va, vb): (Vec<Verdict>, Vec<Verdict>)) -> Result<()> {
        let d = &mut *self.diff;
        let messages = events.iter().filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        });
        for ((m, a), b) in messages.zip(va).zip(vb) {
            d.messages += 1;
            d.actions[0].add(a.action);
            d.actions[1].add(b.action);
            if a.action == b.action {
                if a.score != b.score || a.reasons != b.reasons {
                    d.rescored += 1;
                }
                continue;
            }
            d.changed += 1;
            *d.transitions
                .entry(format!("{} -> {}", a.action, b.action))
                .or_default() += 1;
            let sample = if a.action == Action::Allow {
                d.newly_stopped += 1;
                &mut d.stopped_sample
            } else if b.action == Action::Allow {
                d.newly_allowed += 1;
                &mut d.allowed_sample
            } else {
                d.other_changed += 1;
                &mut d.other_sample
            };
            if sample.len() < self.sample {
                sample.push(MessageChange {
                    message: m.id.clone(),
                    business: m.business.clone(),
                    ts: m.ts,
                    text: m.text.clone(),
                    old: a.into(),
                    new: b.into(),
                });
            }
        }
        Ok(())
    }
}

fn print(d: &Diff) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "old policy: {}\nnew policy: {}",
        d.policies[0], d.policies[1]
    )?;
    writeln!(
        o,
        "messages {}; action changed on {} ({}), newly stopped {}, newly allowed {}; rescored only {}",
        thousands(d.messages),
        thousands(d.changed),
        pct(d.changed, d.messages),
        thousands(d.newly_stopped),
        thousands(d.newly_allowed),
        thousands(d.rescored)
    )?;
    writeln!(
        o,
        "\n  {:<9} {:>12} {:>12} {:>10}",
        "action", "old", "new", "change"
    )?;
    let rows = |c: &ActionCounts| [c.allow, c.throttle, c.hold, c.block];
    let (a, b) = (rows(&d.actions[0]), rows(&d.actions[1]));
    for (i, action) in Action::ALL.iter().enumerate() {
        writeln!(
            o,
            "  {:<9} {:>12} {:>12} {:>+10}",
            action.as_str(),
            thousands(a[i]),
            thousands(b[i]),
            b[i] as i64 - a[i] as i64
        )?;
    }
    if !d.transitions.is_empty() {
        let t: Vec<String> = d
            .transitions
            .iter()
            .map(|(k, v)| format!("{k}: {}", thousands(*v)))
            .collect();
        writeln!(o, "  transitions: {}", t.join(", "))?;
    }
    writeln!(
        o,
        "\nbusinesses whose standing changed: {}",
        d.businesses.len()
    )?;
    for c in &d.businesses {
        let why = |s: &BusinessSide| {
            s.reasons
                .iter()
                .take(2)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        writeln!(
            o,
            "  {:<10} {} -> {}   old: {}   new: {}",
            c.business,
            c.old.status,
            c.new.status,
            if c.old.reasons.is_empty() {
                "-".into()
            } else {
                why(&c.old)
            },
            if c.new.reasons.is_empty() {
                "-".into()
            } else {
                why(&c.new)
            },
        )?;
    }
    for (title, sample) in [
        ("newly stopped", &d.stopped_sample),
        ("newly allowed", &d.allowed_sample),
        ("other changes", &d.other_sample),
    ] {
        if sample.is_empty() {
            continue;
        }
        writeln!(o, "\n{title} (first {}):", sample.len())?;
        for m in sample {
            let mut text: String = m.text.chars().take(70).collect();
            if m.text.chars().count() > 70 {
                text.push('…');
            }
            writeln!(
                o,
                "  {} {} {} -> {}  {:?}",
                m.message, m.business, m.old.action, m.new.action, text
            )?;
        }
    }
    if let Some([a, b]) = &d.truth {
        writeln!(o, "\nagainst the truth:        old        new")?;
        writeln!(
            o,
            "  precision           {:>9.4}  {:>9.4}",
            a.precision, b.precision
        )?;
        writeln!(
            o,
            "  recall              {:>9.4}  {:>9.4}",
            a.recall, b.recall
        )?;
        writeln!(o, "  business F1         {:>9.4}  {:>9.4}", a.f1, b.f1)?;
        writeln!(
            o,
            "  legitimate flagged  {:>9}  {:>9}",
            a.legitimate_flagged, b.legitimate_flagged
        )?;
        writeln!(
            o,
            "  legitimate messages not allowed {:>9}  {:>9}",
            a.legitimate_messages_not_allowed, b.legitimate_messages_not_allowed
        )?;
        writeln!(
            o,
            "  abusive messages allowed        {:>9}  {:>9}",
            a.abusive_messages_allowed, b.abusive_messages_allowed
        )?;
    }
    Ok(())
}

/// Loads the two policies of `--policy OLD --policy NEW`.
pub fn policies(paths: &[PathBuf]) -> Result<((PathBuf, Policy), (PathBuf, Policy))> {
    let [a, b] = paths else {
        anyhow::bail!("diff takes exactly two policies: --policy OLD.toml --policy NEW.toml");
    };
    let load = |p: &Path| crate::util::load_policy(Some(p)).map(|pol| (p.to_path_buf(), pol));
    Ok((load(a)?, load(b)?))
}
