//! The reading stage: the logs streamed on their own thread in batches, bad lines counted and
//! skipped up to a limit, a fatal error (truncation, corruption) ending the stream with its reason.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::mpsc;

use spamward_core::Event;
use spamward_log::{LogReader, ReadError};

/// Events per batch handed to the engine. About five batches are in flight (read, queued,
/// analysed, applied); batches this small reuse the same memory while it is still warm in cache
/// (docs/performance.md has the measurements that chose the size).
pub const BATCH: usize = 1 << 13;

/// Events read between two calls of [`Watch::progress`].
const PROGRESS_EVERY: u64 = 4096;

/// How the reading went.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    /// Bad lines counted and skipped.
    pub bad_lines: u64,
    /// What stopped the reading early, if anything.
    pub failure: Option<String>,
}

/// What the reader tells as it reads, called on its thread: how far it got, and each line it
/// skipped. A command shows these on its terminal; the reader itself prints nothing.
pub trait Watch: Send + 'static {
    /// Every 4,096 events: the bytes read so far (of all the logs, the current one up to where
    /// it is) and the events read so far. [`ControlFlow::Break`] stops the reading there, with
    /// the failure `interrupted`.
    fn progress(&mut self, bytes: u64, events: u64) -> ControlFlow<()>;

    /// A bad line (or record) was skipped: `error` says which and why, and `bad_lines` is how many
    /// have been skipped so far, this one included.
    fn skipped(&mut self, bad_lines: u64, error: &ReadError);
}

/// The logs read on their own thread, two batches ahead of their consumer.
pub struct Reader {
    /// The batches, in log order.
    pub batches: mpsc::Receiver<Vec<Event>>,
    /// Where a batch goes once its consumer is done with it.
    pub spent: Spent,
    thread: std::thread::JoinHandle<ReadOutcome>,
}

/// The reader's thread panicked: the logs' reading has no outcome.
#[derive(Debug)]
pub struct ReaderPanicked;

impl std::fmt::Display for ReaderPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the log reader thread panicked")
    }
}

impl std::error::Error for ReaderPanicked {}

impl Reader {
    /// Starts reading `logs`, one after another as one stream, telling `watch` how it goes. More
    /// than `max_errors` bad lines stop the reading.
    pub fn spawn(logs: &[PathBuf], max_errors: u64, watch: impl Watch) -> Reader {
        let (tx, batches) = mpsc::sync_channel(2);
        let (spent, back) = mpsc::channel();
        let logs = logs.to_vec();
        let thread = std::thread::spawn(move || read_all(&logs, max_errors, tx, back, watch));
        Reader {
            batches,
            spent: Spent(spent),
            thread,
        }
    }

    /// How the reading went, once every batch was taken (or the consumer stopped taking them).
    pub fn finish(self) -> Result<ReadOutcome, ReaderPanicked> {
        drop(self.batches);
        self.thread.join().map_err(|_| ReaderPanicked)
    }
}

/// The way back to the [`Reader`] for batches that were used.
pub struct Spent(mpsc::Sender<Vec<Event>>);

impl Spent {
    /// Hands a used batch back, to be emptied and refilled on the reader's thread. Once the
    /// reader is gone (the logs are read) the batch is dropped here.
    pub fn give_back(&self, batch: Vec<Event>) {
        let _ = self.0.send(batch);
    }
}

/// Streams the logs to `tx` in batches, counting and skipping bad lines. Batches sent back on
/// `spent` are emptied here and filled again: their events' strings were allocated on this
/// thread, and freeing them where they were allocated is the allocator's fast path (freed on the
/// applying threads, they were 4% of a replay reading kept analyses).
fn read_all(
    logs: &[PathBuf],
    max_errors: u64,
    tx: mpsc::SyncSender<Vec<Event>>,
    spent: mpsc::Receiver<Vec<Event>>,
    mut watch: impl Watch,
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
            if events.is_multiple_of(PROGRESS_EVERY)
                && watch
                    .progress(done_bytes + reader.bytes_read(), events)
                    .is_break()
            {
                out.failure = Some("interrupted".into());
                break 'logs;
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
                    watch.skipped(out.bad_lines, &e);
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
