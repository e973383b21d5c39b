//! The filter as a pipe: JSON Lines events in, one verdict line per message out, in input order.
//!
//! A [`Pipe`] reads events from a byte stream ([`BufRead`]), one per line in the JSON Lines form
//! of the log contract, and writes to another ([`Write`]): each message gets exactly one verdict
//! line, in input order, byte for byte what `spamward replay --verdicts` writes for the same log;
//! feedback, delivery and business events update state and print nothing. A line that is not an
//! event (malformed, an unknown type, a bad field, invalid UTF-8, longer than [`MAX_LINE_BYTES`],
//! a business another partition owns) gets `{"type":"error","line":N,"error":"..."}` in its
//! place and the stream goes on; blank lines are skipped. `spamward filter` is this over standard
//! input and output.
//!
//! Lines are read straight from the input's buffer, so most are never copied; only a line cut by
//! a refill goes through a reused scratch buffer, and an over-long one is skipped as it streams
//! past without being held. Output is written and flushed when the input has nothing more
//! buffered (each piece [`BufRead::fill_buf`] hands over is answered before the next is asked
//! for): a delivery process that writes a message and waits gets its verdict at once, while a
//! bulk input is answered a buffer at a time, not a line at a time.
//!
//! Two ends run at once. A reader thread cuts the input into lines and, in chunks of
//! [`CHUNK_LINES`] (or fewer, when the input has nothing more buffered), parses them and analyses
//! their messages' content in parallel on a rayon pool (both depend on the line alone), up to
//! [`CHUNKS_AHEAD`] chunks ahead; the calling thread applies the chunks one line after another in
//! input order and writes the answers. The verdicts are those of applying the lines one at a
//! time, for any number of threads and any chunk size, and the sequential applying never waits
//! for a chunk to be read or analysed unless the reader is behind.
//!
//! # Durable state
//!
//! A pipe made from a restored state directory ([`Pipe::restored`], after
//! [`Durable::open`](crate::durable::Durable::open)) appends every accepted event to the
//! write-ahead journal before it is applied, and commits the journal (one `fdatasync`) before any
//! verdict is written: a verdict a reader has seen means its event is on disk — *acknowledged
//! means durable*. The cost is one sync per input piece: a bulk input arrives in large pieces and
//! pays a few, a live stream that hands over one message at a time pays one per message. A
//! snapshot of the whole state is written once
//! [`DurableOptions::snapshot_every`](crate::durable::DurableOptions::snapshot_every) events have
//! been appended since the last (at the end of an input piece, after its verdicts) and at the
//! clean end of the input.
//!
//! The exactly-once protocol after a crash: the client restarts with
//! [`DurableOptions::resume_after`](crate::durable::DurableOptions::resume_after) set to the last
//! message whose verdict it received. Before reading any input, [`Pipe::run`] writes the
//! recomputed verdicts of every journaled message after it
//! ([`Recovery::unacknowledged`](crate::durable::Recovery::unacknowledged)) — the verdicts the
//! crash kept from the client. The client then sends its input from event
//! [`Recovery::applied`](crate::durable::Recovery::applied) + 1 on (events: well-formed lines
//! this instance owns; bad and blank lines are not counted). Every message thus gets exactly one
//! verdict.

use std::fmt;
use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};

use rayon::ThreadPool;
use serde::Serialize;
use spamward_core::Verdict;

use crate::durable::{Durable, DurableError, Restored};
use crate::{Filter, FilterCounts};

mod reader;

use reader::{Chunk, Reader, Ready};

/// The longest line accepted, in bytes without its newline: the log reader's limit. A longer
/// line is answered with an error record and skipped without being held in memory.
pub const MAX_LINE_BYTES: usize = spamward_log::DEFAULT_MAX_LINE_BYTES;
/// Lines parsed and analysed together while the chunk before them is applied, by default: enough
/// to share among threads, and a few chunks to a large input buffer, so that most of the applying
/// overlaps the reading.
pub const CHUNK_LINES: usize = 1024;
/// Chunks parsed and analysed ahead of the one being applied.
pub const CHUNKS_AHEAD: usize = 2;

/// What one [`Pipe::run`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipeStats {
    /// Physical input lines, blank and bad ones included.
    pub lines: u64,
    /// Lines answered with an error record.
    pub bad_lines: u64,
    /// Events applied and verdicts given in this run, by type and action (a restored filter's
    /// earlier events are not among them).
    pub counts: FilterCounts,
}

/// Why [`Pipe::run`] stopped before the end of its input. Everything answered before the failure
/// was written first, except after [`PipeError::Output`], where writing itself failed.
///
/// Its message says what failed (`cannot read the input`, `cannot write verdicts`, ...); the
/// cause is its [`source`](std::error::Error::source).
#[derive(Debug)]
pub enum PipeError {
    /// Reading the input failed.
    Input(io::Error),
    /// Writing or flushing the output failed.
    Output(io::Error),
    /// Appending an event to the journal failed; the event was not applied.
    Journal(DurableError),
    /// Committing the journal failed; the verdicts waiting for it were not written.
    Commit(DurableError),
    /// Writing a snapshot failed (the verdicts before it were written).
    Snapshot(DurableError),
}

impl fmt::Display for PipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PipeError::Input(_) => "cannot read the input",
            PipeError::Output(_) => "cannot write verdicts",
            PipeError::Journal(_) => "cannot journal an event",
            PipeError::Commit(_) => "cannot commit the journal",
            PipeError::Snapshot(_) => "cannot write a snapshot",
        })
    }
}

impl std::error::Error for PipeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PipeError::Input(e) | PipeError::Output(e) => Some(e),
            PipeError::Journal(e) | PipeError::Commit(e) | PipeError::Snapshot(e) => Some(e),
        }
    }
}

/// A filter driven by a stream of event lines, with or without durable state. See the module
/// documentation for what it reads, writes and guarantees.
#[derive(Debug)]
pub struct Pipe {
    filter: Filter,
    /// The journal and snapshots, for a restored pipe.
    durable: Option<Durable>,
    /// The verdicts a restore recomputed for the client, written at the start of the next run;
    /// `Some` (perhaps empty) until then, for a restored pipe only.
    owed: Option<Vec<Verdict>>,
    chunk_lines: usize,
    pool: Option<Arc<ThreadPool>>,
}

impl Pipe {
    /// A pipe over `filter`, keeping no state on disk. Content is analysed on rayon's global pool
    /// in chunks of [`CHUNK_LINES`].
    pub fn new(filter: Filter) -> Pipe {
        Pipe {
            filter,
            durable: None,
            owed: None,
            chunk_lines: CHUNK_LINES,
            pool: None,
        }
    }

    /// A pipe over a filter restored from its state directory, journaling every event it applies
    /// and writing snapshots there. The verdicts the restore recomputed for the client
    /// ([`Recovery::unacknowledged`](crate::durable::Recovery::unacknowledged)) are written
    /// first, by the next [`Pipe::run`]; the rest of the recovery (its notes, its summary line)
    /// is the caller's to report, before handing `restored` over.
    pub fn restored(restored: Restored) -> Pipe {
        let Restored {
            filter,
            durable,
            recovery,
        } = restored;
        Pipe {
            durable: Some(durable),
            owed: Some(recovery.unacknowledged),
            ..Pipe::new(filter)
        }
    }

    /// Lines parsed and analysed together (at least 1; default [`CHUNK_LINES`]). Changes speed
    /// and memory, never output.
    pub fn chunk_lines(mut self, lines: usize) -> Pipe {
        self.chunk_lines = lines.max(1);
        self
    }

    /// Parses lines and analyses content on `pool` rather than rayon's global pool. Changes
    /// speed, never output.
    pub fn pool(mut self, pool: Arc<ThreadPool>) -> Pipe {
        self.pool = Some(pool);
        self
    }

    /// The filter: its policy, content heuristics, standings and counts.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The state directory's journal and snapshots, for a restored pipe.
    pub fn durable(&self) -> Option<&Durable> {
        self.durable.as_ref()
    }

    /// Runs the filter over `input` until its end, writing verdicts and error records to
    /// `output` and flushing it after each input piece; a restored pipe first writes the verdicts
    /// owed to the client, and at the end writes a snapshot. The input is read on a thread of its
    /// own, hence `Send`.
    ///
    /// Fails when reading the input, writing the output or keeping the state fails, after
    /// writing everything answered so far (see [`PipeError`]). After a failure to keep the state
    /// the pipe should not be run again: restore it from its directory instead.
    pub fn run(
        &mut self,
        input: impl BufRead + Send,
        mut output: impl Write,
    ) -> Result<PipeStats, PipeError> {
        if let Some(owed) = self.owed.take() {
            let mut out = Vec::new();
            for v in &owed {
                v.write_json(&mut out);
                out.push(b'\n');
            }
            output.write_all(&out).map_err(PipeError::Output)?;
            output.flush().map_err(PipeError::Output)?;
        }
        let filter = &self.filter;
        // A restored filter has counted the events before this run; the stats are this run's.
        let before = filter.counts();
        let mut sink = Sink {
            durable: self.durable.as_mut(),
            out: Vec::with_capacity(64 << 10),
            bad_lines: 0,
        };
        let (tx, rx) = mpsc::sync_channel(CHUNKS_AHEAD);
        let (read, applied) = std::thread::scope(|scope| {
            let reader = Reader::new(filter, self.pool.as_deref(), self.chunk_lines, tx);
            let reading = scope.spawn(move || reader.run(input));
            // Returning early drops the receiver, which stops the reader at its next chunk.
            let applied = sink.run(filter, rx, &mut output);
            let read = reading
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (read, applied)
        });
        applied?;
        let lines = read.map_err(PipeError::Input)?;
        sink.snapshot(filter, true)?;
        Ok(PipeStats {
            lines,
            bad_lines: sink.bad_lines,
            counts: since(before, filter.counts()),
        })
    }
}

/// The counts from `before` to `after`.
fn since(before: FilterCounts, after: FilterCounts) -> FilterCounts {
    FilterCounts {
        events: after.events - before.events,
        messages: after.messages - before.messages,
        feedback: after.feedback - before.feedback,
        deliveries: after.deliveries - before.deliveries,
        business_records: after.business_records - before.business_records,
        allowed: after.allowed - before.allowed,
        throttled: after.throttled - before.throttled,
        held: after.held - before.held,
        blocked: after.blocked - before.blocked,
    }
}

/// The record written in place of a bad line.
#[derive(Serialize)]
struct ErrorRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    line: u64,
    error: &'a str,
}

/// The applying end of the pipe: the state's journal and the output.
struct Sink<'d> {
    /// The journal and snapshots, for a restored pipe.
    durable: Option<&'d mut Durable>,
    /// Verdicts and error records not yet written.
    out: Vec<u8>,
    bad_lines: u64,
}

impl Sink<'_> {
    /// Applies the chunks in the order they come, answering when a chunk says so, until the
    /// reader is done. Stops at the first failure to journal or to write.
    fn run(
        &mut self,
        filter: &Filter,
        chunks: Receiver<Chunk>,
        output: &mut impl Write,
    ) -> Result<(), PipeError> {
        for chunk in chunks {
            self.apply(filter, chunk.ready)?;
            if chunk.answer {
                self.write(output)?;
                self.snapshot(filter, false)?;
            }
        }
        Ok(())
    }

    /// Writes what the applied lines say, and flushes. With a journal, commits it first: no
    /// verdict leaves before its event is durable.
    fn write(&mut self, output: &mut impl Write) -> Result<(), PipeError> {
        if let Some(durable) = &mut self.durable {
            durable.commit().map_err(PipeError::Commit)?;
        }
        if !self.out.is_empty() {
            output.write_all(&self.out).map_err(PipeError::Output)?;
            self.out.clear();
        }
        output.flush().map_err(PipeError::Output)
    }

    /// With a journal, writes a snapshot if one is due (or, at the end, always). Called after
    /// verdicts are written, so a snapshot never delays them.
    fn snapshot(&mut self, filter: &Filter, end: bool) -> Result<(), PipeError> {
        if let Some(durable) = &mut self.durable
            && (end || durable.snapshot_due())
        {
            durable.snapshot(filter).map_err(PipeError::Snapshot)?;
        }
        Ok(())
    }

    /// Applies parsed lines in input order: verdicts and error records go to the output buffer.
    fn apply(&mut self, filter: &Filter, ready: Vec<Ready>) -> Result<(), PipeError> {
        for r in ready {
            match r {
                Ready::Event(ev, content) => {
                    // Journaled before it is applied; made durable before its verdict is written.
                    if let Some(durable) = &mut self.durable {
                        durable.append(&ev).map_err(PipeError::Journal)?;
                    }
                    if let Some(v) = filter.observe_analyzed(&ev, content) {
                        v.write_json(&mut self.out);
                        self.out.push(b'\n');
                    }
                }
                Ready::Bad(line, error) => {
                    self.bad_lines += 1;
                    let record = ErrorRecord {
                        kind: "error",
                        line,
                        error: &error,
                    };
                    serde_json::to_writer(&mut self.out, &record)
                        .expect("an error record serialises");
                    self.out.push(b'\n');
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
