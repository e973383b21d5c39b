//! `spamward replay`: a log in, per-message verdicts and per-business standing out.
//!
//! The logs go through the pipelined driver (`spamward_drive`) in batches, so a log never has to
//! fit in memory; this file is the sink that counts and writes each batch's verdicts, and the
//! report and summary at the end. Bad lines are counted, reported and skipped up to
//! `--max-errors`; a fatal read error (truncation, corruption) stops the replay after writing
//! everything complete so far, and the exit code says it failed.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use spamward_core::engine::EngineCounts;
use spamward_core::{Engine, Event, Policy, Standing, Status, Verdict};
use spamward_drive::{One, Reader};

use crate::progress::{Progress, total_size};
use crate::util::{ActionCounts, create, fmt_ts, pct, thousands};

/// Options of a replay.
pub struct ReplayOptions {
    /// The logs, replayed one after another as one stream.
    pub logs: Vec<PathBuf>,
    /// The policy.
    pub policy: Policy,
    /// The content heuristics.
    pub content: crate::analyses::Heuristics,
    /// Where verdicts go, one JSON line per message.
    pub verdicts: Option<PathBuf>,
    /// Where the per-business report goes.
    pub report: Option<PathBuf>,
    /// Where the HTML report goes.
    pub html: Option<PathBuf>,
    /// Where the content analyses are kept between replays of the same logs.
    pub analyses: Option<crate::analyses::Analyses>,
    /// Bad lines tolerated before the replay stops.
    pub max_errors: u64,
    /// Flagged businesses listed in the summary.
    pub top: usize,
    /// No progress display.
    pub quiet: bool,
}

/// The report file.
#[derive(Serialize)]
struct ReportSummary {
    logs: Vec<String>,
    #[serde(flatten)]
    counts: EngineCounts,
    bad_lines: u64,
    complete: bool,
    verdicts: ActionCounts,
    statuses: StatusCounts,
    /// Written only when false (`--no-content`), so that a report made without content signals
    /// cannot pass for one made with them.
    #[serde(skip_serializing_if = "is_true")]
    content_signals: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Default, Serialize)]
struct StatusCounts {
    active: u64,
    throttled: u64,
    suspended: u64,
    ever_flagged: u64,
}

/// One business in the report.
#[derive(Serialize)]
struct BusinessRecord<'a> {
    business: &'a str,
    #[serde(flatten)]
    standing: &'a Standing,
}

/// Runs a replay; returns whether everything was read (false: the exit code must say so).
pub fn run(mut opts: ReplayOptions) -> Result<bool> {
    let started = Instant::now();
    let mut sink = Verdicts {
        actions: ActionCounts::default(),
        out: match &opts.verdicts {
            Some(p) => Some(create(p)?),
            None => None,
        },
        line: Vec::with_capacity(256),
    };
    let progress = Progress::new("replay", total_size(&opts.logs), opts.quiet);
    let reader = Reader::spawn(&opts.logs, opts.max_errors, progress.clone());

    // No heuristics in the engine: it is handed every message's facts (see `analyses::Heuristics`).
    let mut engine = Engine::with_content(opts.policy.clone(), None);
    let mut analysis = crate::analyses::Analysing::new(&opts.content, opts.analyses.take());
    let outcome = spamward_drive::run(reader, &mut analysis, &mut One(&mut engine), &mut sink)?;
    progress.finish();
    let kept = analysis.finish(outcome.failure.is_none())?;
    let Verdicts { actions, out, .. } = sink;
    if let Some(mut out) = out {
        out.flush().context("cannot write verdicts")?;
    }

    let standings = engine.finish();
    let mut statuses = StatusCounts::default();
    for (_, s) in &standings {
        match s.status {
            Status::Active => statuses.active += 1,
            Status::Throttled => statuses.throttled += 1,
            Status::Suspended => statuses.suspended += 1,
        }
        if s.first_flagged.is_some() {
            statuses.ever_flagged += 1;
        }
    }
    let counts = engine.counts();
    let summary = ReportSummary {
        logs: opts.logs.iter().map(|p| p.display().to_string()).collect(),
        counts,
        bad_lines: outcome.bad_lines,
        complete: outcome.failure.is_none(),
        verdicts: actions,
        statuses,
        content_signals: !opts.content.is_off(),
    };
    if let Some(p) = &opts.report {
        write_report(p, &summary, &standings)?;
    }
    if let Some(p) = &opts.html {
        let page = crate::html::Page {
            logs: &summary.logs,
            events: counts.events,
            messages: counts.messages,
            bad_lines: outcome.bad_lines,
            actions: [
                summary.verdicts.allow,
                summary.verdicts.throttle,
                summary.verdicts.hold,
                summary.verdicts.block,
            ],
            standings: &standings,
            policy: &opts.policy,
        };
        std::fs::write(p, crate::html::render(&page))
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    print_summary(&summary, &standings, opts.top)?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "replayed {} events ({} messages) in {secs:.2} s: {:.0} events/s, {:.0} messages/s",
        thousands(counts.events),
        thousands(counts.messages),
        counts.events as f64 / secs.max(1e-9),
        counts.messages as f64 / secs.max(1e-9),
    );
    if let Some(line) = kept {
        eprintln!("{line}");
    }
    if let Some(failure) = outcome.failure {
        eprintln!("error: {failure}");
        eprintln!("the report and verdicts above cover everything read before the error");
        return Ok(false);
    }
    Ok(true)
}

/// The sink of a replay: counts each batch's verdicts by action and writes them, one JSON line
/// each, when there is an output.
struct Verdicts {
    actions: ActionCounts,
    out: Option<BufWriter<Box<dyn Write + Send>>>,
    /// One verdict's line, reused.
    line: Vec<u8>,
}

impl spamward_drive::Sink<Vec<Verdict>> for Verdicts {
    type Error = anyhow::Error;

    fn take(&mut self, _events: &[Event], verdicts: Vec<Verdict>) -> Result<()> {
        for v in &verdicts {
            self.actions.add(v.action);
        }
        if let Some(out) = &mut self.out {
            for v in &verdicts {
                self.line.clear();
                v.write_json(&mut self.line);
                self.line.push(b'\n');
                out.write_all(&self.line).context("cannot write verdicts")?;
            }
        }
        Ok(())
    }
}

fn write_report(p: &Path, summary: &ReportSummary, standings: &[(String, Standing)]) -> Result<()> {
    let mut w = create(p)?;
    let ctx = || format!("cannot write {}", p.display());
    w.write_all(b"{\"summary\":").with_context(ctx)?;
    serde_json::to_writer(&mut w, summary).with_context(ctx)?;
    w.write_all(b",\n\"businesses\":[").with_context(ctx)?;
    for (i, (b, s)) in standings.iter().enumerate() {
        w.write_all(if i == 0 { b"\n" } else { b",\n" })
            .with_context(ctx)?;
        serde_json::to_writer(
            &mut w,
            &BusinessRecord {
                business: b,
                standing: s,
            },
        )
        .with_context(ctx)?;
    }
    w.write_all(b"\n]}\n").with_context(ctx)?;
    w.flush().with_context(ctx)?;
    Ok(())
}

fn print_summary(s: &ReportSummary, standings: &[(String, Standing)], top: usize) -> Result<()> {
    let mut o = std::io::stdout().lock();
    let c = &s.counts;
    if !s.content_signals {
        writeln!(
            o,
            "signals     content off (--no-content): no message text was analysed"
        )?;
    }
    writeln!(
        o,
        "events      {:>12}   messages {}, feedback {}, deliveries {}, business records {}, bad lines {}",
        thousands(c.events),
        thousands(c.messages),
        thousands(c.feedback),
        thousands(c.deliveries),
        thousands(c.business_records),
        thousands(s.bad_lines)
    )?;
    let v = &s.verdicts;
    let t = v.total();
    writeln!(
        o,
        "verdicts    {:>12}   allow {} ({}), throttle {} ({}), hold {} ({}), block {} ({})",
        thousands(t),
        thousands(v.allow),
        pct(v.allow, t),
        thousands(v.throttle),
        pct(v.throttle, t),
        thousands(v.hold),
        pct(v.hold, t),
        thousands(v.block),
        pct(v.block, t)
    )?;
    let st = &s.statuses;
    writeln!(
        o,
        "businesses  {:>12}   active {}, throttled {}, suspended {}; ever flagged {}",
        thousands(standings.len() as u64),
        st.active,
        st.throttled,
        st.suspended,
        st.ever_flagged
    )?;
    let mut flagged: Vec<&(String, Standing)> = standings
        .iter()
        .filter(|(_, s)| s.first_flagged.is_some())
        .collect();
    flagged.sort_by(|a, b| {
        b.1.status
            .cmp(&a.1.status)
            .then(a.1.first_flagged.cmp(&b.1.first_flagged))
            .then(a.0.cmp(&b.0))
    });
    if flagged.is_empty() {
        return Ok(());
    }
    writeln!(o, "\ntop flagged businesses (of {}):", flagged.len())?;
    writeln!(
        o,
        "  {:<12} {:<10} {:<21} {:>9} {:>9}  leading reasons",
        "business", "status", "first flagged", "messages", "allowed"
    )?;
    for (b, s) in flagged.into_iter().take(top) {
        let reasons = leading_reasons(s);
        writeln!(
            o,
            "  {:<12} {:<10} {:<21} {:>9} {:>9}  {}",
            b,
            s.status.as_str(),
            s.first_flagged.map(fmt_ts).unwrap_or_default(),
            thousands(s.totals.messages),
            thousands(s.totals.allowed),
            reasons
        )?;
    }
    Ok(())
}

/// The reasons that flagged the business first (its first status change), else its current ones.
fn leading_reasons(s: &Standing) -> String {
    let hits = s
        .changes
        .iter()
        .find(|c| c.to != Status::Active)
        .map(|c| &c.reasons)
        .unwrap_or(&s.reasons);
    hits.iter()
        .take(3)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
