//! Reading logs for the commands that replay them (replay, diff, explain): the logs streamed on
//! their own thread in batches, bad lines counted, reported and skipped up to `--max-errors`, a
//! fatal error (truncation, corruption) ending the stream with its reason.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{Context, Result};
use spamward_core::Event;
use spamward_log::LogReader;

use crate::progress::Progress;

/// Events per batch handed to the engine. About five batches are in flight (read, queued,
/// analysed, applied); batches this small reuse the same memory while it is still warm in cache
/// (docs/performance.md has the measurements that chose the size).
const BATCH: usize = 1 << 13;
/// Bad lines printed one by one before only the count goes on.
const SHOWN_ERRORS: u64 = 20;

/// How the reading went.
#[derive(Debug, Default)]
pub(crate) struct ReadOutcome {
    /// Bad lines counted and skipped.
    pub(crate) bad_lines: u64,
    /// What stopped the reading early, if anything.
    pub(crate) failure: Option<String>,
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
