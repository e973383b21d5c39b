//! `spamward replay`: a log in, per-message verdicts and per-business standing out.
//!
//! A reader thread streams the logs in batches while the engine scores the previous batch on the
//! rayon pool, so a log never has to fit in memory. Bad lines are counted, reported and skipped up
//! to `--max-errors`; a fatal read error (truncation, corruption) stops the replay after writing
//! everything complete so far, and the exit code says it failed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use spamward_core::engine::EngineCounts;
use spamward_core::{Action, Analyzed, Engine, Event, Policy, Prepared, Standing, Status, Verdict};
use spamward_log::LogReader;

use crate::progress::{Progress, total_size};
use crate::util::{fmt_ts, thousands};

/// Events per batch handed to the engine. About five batches are in flight (read, queued,
/// analysed, applied); at 65,536 events they held ~100 MB that was touched afresh as it went,
/// and the kernel zeroing new pages took a tenth of a replay's CPU. At 8,192 the same memory is
/// reused while still warm: default-world replay 9.6-10.9 s to 9.1-9.4 s, peak RSS 396 to
/// 280 MB, same verdicts.
const BATCH: usize = 1 << 13;
/// Bad lines printed one by one before only the count goes on.
const SHOWN_ERRORS: u64 = 20;

/// A batch ready for the per-business pass: its events, their content facts, and its
/// cross-business pass when that ran ahead.
type Ready = (Vec<Event>, Analyzed, Option<Prepared>);

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

/// How the reading went.
#[derive(Debug, Default)]
pub(crate) struct ReadOutcome {
    /// Bad lines counted and skipped.
    pub(crate) bad_lines: u64,
    /// What stopped the reading early, if anything.
    pub(crate) failure: Option<String>,
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ActionCounts {
    pub(crate) allow: u64,
    pub(crate) throttle: u64,
    pub(crate) hold: u64,
    pub(crate) block: u64,
}

impl ActionCounts {
    pub(crate) fn add(&mut self, a: Action) {
        match a {
            Action::Allow => self.allow += 1,
            Action::Throttle => self.throttle += 1,
            Action::Hold => self.hold += 1,
            Action::Block => self.block += 1,
        }
    }
    pub(crate) fn total(&self) -> u64 {
        self.allow + self.throttle + self.hold + self.block
    }
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
    let mut verdict_out = match &opts.verdicts {
        Some(p) => Some(create(p)?),
        None => None,
    };
    let progress = Progress::new("replay", total_size(&opts.logs), opts.quiet);
    let reader = Reader::spawn(&opts.logs, opts.max_errors, &progress);

    // No heuristics in the engine: it is handed every message's facts (see `analyses::Heuristics`).
    let mut engine = Engine::with_content(opts.policy.clone(), None);
    let mut actions = ActionCounts::default();
    let mut line = Vec::with_capacity(256);
    // Two batches in flight: the next one's content is analysed while the engine applies this one
    // and its verdicts are written, so the engine's sequential pass does not leave a core idle.
    // Reading kept analyses is quick (and with content off there is nothing to get), so then the
    // next batch's cross-business pass (the engine's sequential part) runs beside this one's
    // per-business pass too; analysing is the longer side, so then it runs with the
    // per-business pass (measured both ways: each placement is the faster one for its case).
    // The verdicts are those of `engine.process`, batch after batch (see `Engine::split`).
    let heuristics = &opts.content;
    let mut analyses = opts.analyses.take();
    let ahead = heuristics.is_off()
        || analyses
            .as_ref()
            .is_some_and(crate::analyses::Analyses::reading);
    {
        let (mut cross, mut businesses) = engine.split();
        let mut applying: Option<Ready> = None;
        // The verdicts of the batch applied last, written beside the next batch's per-business
        // pass: written after it, they were a sequential tail that left a core idle.
        let mut applied: Vec<Verdict> = Vec::new();
        loop {
            let next = reader.batches.recv().ok();
            if next.is_none() && applying.is_none() {
                break;
            }
            let mut pass = Some(&mut cross);
            let cross_left = if ahead { pass.take() } else { None };
            let cross_right = pass;
            let to_write = std::mem::take(&mut applied);
            let (prepared, verdicts) = rayon::join(
                || -> Result<Option<Ready>> {
                    emit(&to_write, &mut actions, verdict_out.as_mut(), &mut line)?;
                    let Some(batch) = next else {
                        return Ok(None);
                    };
                    let facts = crate::analyses::analyze(analyses.as_mut(), heuristics, &batch)?;
                    let prepared = cross_left.map(|c| c.prepare(&batch, &facts));
                    Ok(Some((batch, facts, prepared)))
                },
                || -> Vec<Verdict> {
                    let Some((batch, facts, prepared)) = applying.take() else {
                        return Vec::new();
                    };
                    let prepared = match (prepared, cross_right) {
                        (Some(p), _) => p,
                        (None, Some(c)) => c.prepare(&batch, &facts),
                        (None, None) => unreachable!("a batch is prepared ahead or here"),
                    };
                    let verdicts = businesses.apply(&batch, &facts, prepared);
                    reader.spent.give_back(batch);
                    verdicts
                },
            );
            applied = verdicts;
            applying = prepared?;
        }
        emit(&applied, &mut actions, verdict_out.as_mut(), &mut line)?;
    }
    let outcome = reader.finish()?;
    progress.finish();
    let kept = crate::analyses::finish(analyses, outcome.failure.is_none())?;
    if let Some(mut out) = verdict_out {
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

/// Counts a batch's verdicts and writes them, one JSON line each, when there is an output.
fn emit(
    verdicts: &[Verdict],
    actions: &mut ActionCounts,
    out: Option<&mut BufWriter<Box<dyn Write + Send>>>,
    line: &mut Vec<u8>,
) -> Result<()> {
    for v in verdicts {
        actions.add(v.action);
    }
    if let Some(out) = out {
        for v in verdicts {
            line.clear();
            v.write_json(line);
            line.push(b'\n');
            out.write_all(line).context("cannot write verdicts")?;
        }
    }
    Ok(())
}

/// A buffered output file, or stdout for `-`.
pub(crate) fn create(p: &Path) -> Result<BufWriter<Box<dyn Write + Send>>> {
    // `Send`, so verdicts can be written from the pool; unlocked stdout is, and the buffer makes
    // its per-write locking rare.
    let w: Box<dyn Write + Send> = if p.as_os_str() == "-" {
        Box::new(std::io::stdout())
    } else {
        Box::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
    };
    Ok(BufWriter::with_capacity(1 << 20, w))
}

/// The logs read on their own thread ([`read_all`]), two batches ahead of their consumer.
pub(crate) struct Reader {
    /// The batches, in log order.
    pub(crate) batches: mpsc::Receiver<Vec<Event>>,
    /// Where a batch goes once applied.
    pub(crate) spent: Spent,
    thread: std::thread::JoinHandle<ReadOutcome>,
}

impl Reader {
    /// Starts reading `logs`, reporting to `progress`.
    pub(crate) fn spawn(logs: &[PathBuf], max_errors: u64, progress: &Progress) -> Reader {
        let (tx, batches) = mpsc::sync_channel(2);
        let (spent, back) = mpsc::channel();
        let (logs, bar) = (logs.to_vec(), progress.clone());
        let thread = std::thread::spawn(move || read_all(&logs, max_errors, tx, back, &bar));
        Reader {
            batches,
            spent: Spent(spent),
            thread,
        }
    }

    /// How the reading went, once every batch was taken.
    pub(crate) fn finish(self) -> Result<ReadOutcome> {
        drop(self.batches);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the log reader thread panicked"))
    }
}

/// The way back to the [`Reader`] for applied batches.
pub(crate) struct Spent(mpsc::Sender<Vec<Event>>);

impl Spent {
    /// Hands an applied batch back, to be emptied and refilled on the reader's thread. Once the
    /// reader is gone (the logs are read) the batch is dropped here.
    pub(crate) fn give_back(&self, batch: Vec<Event>) {
        let _ = self.0.send(batch);
    }
}

/// Streams the logs to `tx` in batches, counting, reporting and skipping bad lines. Batches sent
/// back on `spent` once applied are emptied here and filled again: their events' strings were
/// allocated on this thread, and freeing them where they were allocated is the allocator's fast
/// path (freed on the applying threads, they were 4% of a replay reading kept analyses).
fn read_all(
    logs: &[PathBuf],
    max_errors: u64,
    tx: mpsc::SyncSender<Vec<Event>>,
    spent: mpsc::Receiver<Vec<Event>>,
    progress: &Progress,
) -> ReadOutcome {
    let fresh = || match spent.try_recv() {
        Ok(mut used) => {
            used.clear();
            used
        }
        Err(_) => Vec::with_capacity(BATCH),
    };
    let mut out = ReadOutcome::default();
    let mut batch = fresh();
    let (mut done_bytes, mut events) = (0u64, 0u64);
    'logs: for path in logs {
        let mut reader = match LogReader::open(path) {
            Ok(r) => r,
            Err(e) => {
                out.failure = Some(e.to_string());
                break;
            }
        };
        while let Some(item) = reader.next_record() {
            events += 1;
            if events.is_multiple_of(4096) {
                progress.update(done_bytes + reader.bytes_read(), events);
                if crate::progress::interrupted() {
                    out.failure = Some("interrupted".into());
                    break 'logs;
                }
            }
            match item {
                Ok(rec) => {
                    batch.push(rec.event);
                    if batch.len() == BATCH
                        && tx.send(std::mem::replace(&mut batch, fresh())).is_err()
                    {
                        return out;
                    }
                }
                Err(e) if e.is_fatal() => {
                    out.failure = Some(e.to_string());
                    break 'logs;
                }
                Err(e) => {
                    out.bad_lines += 1;
                    if out.bad_lines <= SHOWN_ERRORS {
                        eprintln!("skipped: {e}");
                    } else if out.bad_lines == SHOWN_ERRORS + 1 {
                        eprintln!("(further bad lines are counted, not shown)");
                    }
                    if out.bad_lines > max_errors {
                        out.failure = Some(format!(
                            "more than {max_errors} bad lines (--max-errors); stopped at {e}"
                        ));
                        break 'logs;
                    }
                }
            }
        }
        done_bytes += reader.bytes_read();
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    out
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

pub(crate) fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.2}%", 100.0 * n as f64 / of as f64)
    }
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
