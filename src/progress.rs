//! Progress on stderr for long runs, the log reader's skipped lines, and a clean stop on Ctrl-C.
//!
//! A bar shows only when stderr is a terminal and `--quiet` was not given, so logs and pipes stay
//! clean; the first bad lines a log reader skips are printed whatever the terminal. The first
//! Ctrl-C asks the running command to stop: readers stop at the next record, and everything
//! complete so far is written (verdicts, reports, the partial output file) before the process
//! exits with code 130. A second Ctrl-C exits at once.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use spamward_log::ReadError;

use crate::util::thousands;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit code after an interrupt (128 + SIGINT).
pub const INTERRUPTED_EXIT: u8 = 130;

/// Installs the Ctrl-C handler (once, at start).
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(INTERRUPTED_EXIT));
        }
        eprintln!("\nstopping: writing what is complete (Ctrl-C again to quit at once)");
    });
}

/// The flag a stop request sets, for loops that poll it.
pub fn interrupt_flag() -> &'static AtomicBool {
    &INTERRUPTED
}

/// Set by a command that caught SIGINT itself (the HTTP service), so that the exit code says
/// it was interrupted whether or not the Ctrl-C handler's thread has run yet. Kept apart from
/// the handler's flag, which counts presses.
static INTERRUPT_SEEN: AtomicBool = AtomicBool::new(false);

/// Records that SIGINT stopped the command.
pub fn mark_interrupted() {
    INTERRUPT_SEEN.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for.
pub fn interrupted() -> bool {
    INTERRUPT_SEEN.load(Ordering::Relaxed) || INTERRUPTED.load(Ordering::Relaxed)
}

/// A progress display over bytes read (when the total is known) and events processed.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for reading `total_bytes` (None: unknown, a spinner), labelled `what`; hidden unless
    /// stderr is a terminal and `quiet` is false.
    pub fn new(what: &str, total_bytes: Option<u64>, quiet: bool) -> Progress {
        let visible = !quiet && std::io::stderr().is_terminal();
        let bar = match total_bytes {
            Some(n) if visible => ProgressBar::new(n),
            _ if visible => ProgressBar::new_spinner(),
            _ => {
                return Progress {
                    bar: ProgressBar::hidden(),
                };
            }
        };
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        let template = if total_bytes.is_some() {
            "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}"
        } else {
            "{prefix} {spinner} [{elapsed_precise}] {msg}"
        };
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar }
    }

    /// Bytes read so far (of the total) and events so far.
    pub fn update(&self, bytes: u64, events: u64) {
        if self.bar.is_hidden() {
            return;
        }
        self.bar.set_position(bytes);
        let secs = self.bar.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{} events, {:.0}/s",
            thousands(events),
            events as f64 / secs
        ));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Bad lines printed one by one before only the count goes on.
const SHOWN_ERRORS: u64 = 20;

/// What a log reader tells: progress on the bar, a stop when one was asked for, and the first
/// bad lines on stderr, then that the rest are only counted.
impl spamward_drive::Watch for Progress {
    fn progress(&mut self, bytes: u64, events: u64) -> ControlFlow<()> {
        self.update(bytes, events);
        if interrupted() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn skipped(&mut self, bad_lines: u64, error: &ReadError) {
        if bad_lines <= SHOWN_ERRORS {
            eprintln!("skipped: {error}");
        } else if bad_lines == SHOWN_ERRORS + 1 {
            eprintln!("(further bad lines are counted, not shown)");
        }
    }
}

/// The total size of the files, if every one has a known size.
pub fn total_size(paths: &[std::path::PathBuf]) -> Option<u64> {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).ok().map(|m| m.len()))
        .sum()
}
