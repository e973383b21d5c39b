//! `spamward filter`: the pipe mode of the streaming filter, JSON Lines events on standard input,
//! verdicts on standard output.
//!
//! The pipeline — reading, parallel parsing and content analysis, applying in input order, the
//! journal and snapshots, the verdicts owed after a crash — is [`spamward_filter::pipe`]; this
//! command opens the state directory, reports the restore, wires the pipe to standard input and
//! output and prints a summary on standard error at the end.

use std::io::{self, BufReader};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use spamward_filter::FilterBuilder;
use spamward_filter::durable::{Durable, DurableOptions};
use spamward_filter::pipe::{Pipe, PipeStats};

use crate::util::thousands;

/// Input buffer of the command: large, so bulk input is answered in large writes.
const INPUT_BYTES: usize = 1 << 20;

/// Where and how a durable filter keeps its state.
#[derive(Clone, Debug)]
pub struct StateOptions {
    /// The state directory: journal segments and snapshots.
    pub dir: PathBuf,
    /// Events between snapshots.
    pub snapshot_every: u64,
    /// The last message whose verdict the client received before a crash.
    pub resume_after: Option<String>,
}

/// `spamward filter`: standard input to standard output, a summary on standard error at the end.
pub fn run_stdio(builder: &FilterBuilder) -> Result<()> {
    run_stdio_pipe(Pipe::new(builder.build()), Instant::now())
}

/// `spamward filter --state-dir`: restores the filter kept in `state.dir`, says on standard error
/// what was restored (notes about a cut journal tail or a bad snapshot set aside, then the restore
/// line), and runs the pipe on standard input and output, journaling every event.
pub fn run_stdio_durable(builder: &FilterBuilder, state: &StateOptions) -> Result<()> {
    let started = Instant::now();
    let options = DurableOptions {
        snapshot_every: state.snapshot_every,
        resume_after: state.resume_after.clone(),
    };
    let restored = Durable::open(&state.dir, builder, &options)
        .context("cannot restore the filter's state")?;
    for note in &restored.recovery.notes {
        eprintln!("{note}");
    }
    eprintln!("{}", restored.recovery);
    run_stdio_pipe(Pipe::restored(restored), started)
}

/// Runs `pipe` from standard input to standard output, then prints the summary (its rates over
/// the time since `started`).
fn run_stdio_pipe(mut pipe: Pipe, started: Instant) -> Result<()> {
    // Unlocked: the pipe's reader thread reads it (a lock cannot move between threads); reads of
    // up to a megabyte make its per-read locking rare.
    let input = BufReader::with_capacity(INPUT_BYTES, io::stdin());
    let stats = pipe.run(input, io::stdout().lock())?;
    summary(&stats, started);
    Ok(())
}

/// The last line on standard error.
fn summary(stats: &PipeStats, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let c = &stats.counts;
    eprintln!(
        "filtered {} events ({} messages, {} bad lines) in {secs:.2} s: {:.0} events/s, {:.0} \
         messages/s",
        thousands(c.events),
        thousands(c.messages),
        thousands(stats.bad_lines),
        c.events as f64 / secs,
        c.messages as f64 / secs,
    );
}
