//! `spamward filter`: the pipe mode of the streaming filter, JSON Lines events in, verdicts out.
//!
//! Events arrive on standard input one per line, in the JSON Lines form of the log contract. Each
//! message gets exactly one verdict line on standard output, in input order, byte for byte what
//! `spamward replay --verdicts` writes for the same log; feedback, delivery and business events
//! update state and print nothing. A line that is not an event (malformed, an unknown type, a
//! bad field, invalid UTF-8, longer than 1 MiB) prints `{"type":"error","line":N,"error":"..."}`
//! in its place and the stream goes on; blank lines are skipped.
//!
//! Lines are read straight from the input's buffer, so most are never copied; only a line cut by
//! a refill goes through a reused scratch buffer, and an over-long one is skipped as it streams
//! past without being held. Output is written when the input has nothing more buffered: a
//! delivery process that writes a message and waits gets its verdict at once, while a bulk input
//! is answered a buffer at a time, not a line at a time.
//!
//! Two ends run at once. A reader thread cuts the input into lines and, in chunks of
//! [`PENDING_LINES`], parses them and analyses their messages' content in parallel on the rayon
//! pool (both depend on the line alone); the calling thread applies the chunks one line after
//! another in input order and writes the answers. The verdicts are those of applying the lines
//! one at a time, for any number of threads, and the sequential applying never waits for a
//! chunk to be read or analysed unless the reader is behind.
//!
//! # Durable state (`--state-dir DIR`)
//!
//! With a state directory, every accepted event is appended to a write-ahead journal before it
//! is applied, and the journal is committed (one `fdatasync`) before any verdict is written:
//! a verdict a reader has seen means its event is on disk — *acknowledged means durable*. The
//! cost is one sync per input piece: a bulk input arrives in large pieces and pays a few, a live
//! stream that hands over one message at a time pays one per message. A snapshot of the whole
//! state is written every `--snapshot-every` events (at the end of an input piece, after its
//! verdicts) and at the end of the input. On start the filter restores the newest good snapshot,
//! replays the journal after it, and says on standard error how far it got:
//! `restored N events (snapshot at S, journal S..N); continue the input after event N`.
//!
//! The exactly-once protocol after a crash: the client restarts the filter with
//! `--resume-after ID`, ID being the last message whose verdict it received. Before reading any
//! input the filter prints the recomputed verdicts of every journaled message after ID (of every
//! one since the snapshot if ID is not in the journal after it) — the verdicts the crash kept
//! from the client. The client then sends its input from event N + 1 on (events: well-formed
//! lines; bad and blank lines are not counted). Every message thus gets exactly one verdict.

use std::io::{self, BufRead, BufReader, Write};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::Serialize;
#[cfg(test)]
use spamward_core::Policy;
use spamward_core::{ContentFacts, Event};
use spamward_filter::durable::{Durable, DurableOptions, Restored};
use spamward_filter::{Filter, FilterBuilder, FilterCounts, Partition};
use spamward_log::{Decoded, ReadErrorKind, decode_line};

use crate::util::thousands;

/// The longest line accepted, in bytes without its newline: as the log reader's.
pub const MAX_LINE_BYTES: usize = spamward_log::DEFAULT_MAX_LINE_BYTES;
/// Input buffer of the command: large, so bulk input is answered in large writes.
const INPUT_BYTES: usize = 1 << 20;
/// Lines parsed and analysed together while the chunk before them is applied: enough to share
/// among threads, and a few chunks to an input buffer so that most of the applying overlaps.
const PENDING_LINES: usize = 1024;
/// Chunks parsed and analysed ahead of the one being applied.
const CHUNKS_IN_FLIGHT: usize = 2;

/// What a pipe run saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipeStats {
    /// Physical input lines, blank and bad ones included.
    pub lines: u64,
    /// Lines answered with an error record.
    pub bad_lines: u64,
    /// Events applied and verdicts given, by type and action.
    pub counts: FilterCounts,
}

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

/// The record printed in place of a bad line.
#[derive(Serialize)]
struct ErrorRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    line: u64,
    error: &'a str,
}

/// Runs the filter over `input` until its end, writing verdicts and error records to `output`.
/// Fails only when reading the input or writing the output fails, after writing everything
/// answered so far.
#[cfg(test)]
pub fn run(policy: Policy, input: impl BufRead + Send, output: impl Write) -> Result<PipeStats> {
    run_with(Filter::builder().policy(policy), input, output)
}

/// [`run`] with a filter built by `builder` (a policy, a partition).
pub fn run_with(
    builder: &FilterBuilder,
    input: impl BufRead + Send,
    output: impl Write,
) -> Result<PipeStats> {
    run_pipe(builder.build(), None, input, output)
}

/// Restores the filter kept in `state.dir`, prints the verdicts owed to the client (see the
/// module documentation), and runs it over `input` as [`run`] does, journaling every event.
/// Notes about the restore (a cut journal tail, a bad snapshot skipped) and the restore line go
/// to `report`.
pub fn run_durable(
    builder: &FilterBuilder,
    state: &StateOptions,
    input: impl BufRead + Send,
    mut output: impl Write,
    report: &mut dyn FnMut(&str),
) -> Result<PipeStats> {
    let options = DurableOptions {
        snapshot_every: state.snapshot_every,
        resume_after: state.resume_after.clone(),
    };
    let Restored {
        filter,
        durable,
        recovery,
    } = Durable::open(&state.dir, builder, &options)
        .context("cannot restore the filter's state")?;
    for note in &recovery.notes {
        report(note);
    }
    report(&recovery.to_string());
    let mut owed = Vec::new();
    for v in &recovery.unacknowledged {
        v.write_json(&mut owed);
        owed.push(b'\n');
    }
    output.write_all(&owed).context("cannot write verdicts")?;
    output.flush().context("cannot write verdicts")?;
    run_pipe(filter, Some(durable), input, output)
}

/// The pipe loop, with or without a journal: a reader thread reads, parses and analyses (see
/// [`Reader`]), and this thread applies and answers (see [`Sink::run`]).
fn run_pipe(
    filter: Filter,
    durable: Option<Durable>,
    input: impl BufRead + Send,
    mut output: impl Write,
) -> Result<PipeStats> {
    // A restored filter has counted the events before this run; the stats are this run's.
    let before = filter.counts();
    let mut sink = Sink {
        durable,
        out: Vec::with_capacity(64 << 10),
        bad_lines: 0,
    };
    let (tx, rx) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
    let (read, applied) = std::thread::scope(|scope| {
        let reader = Reader {
            filter: &filter,
            chunks: tx,
            pending: Vec::new(),
            text: Vec::new(),
            lines: 0,
        };
        let reading = scope.spawn(move || reader.run(input));
        // Returning early drops the receiver, which stops the reader at its next chunk.
        let applied = sink.run(&filter, rx, &mut output);
        let read = reading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (read, applied)
    });
    applied?;
    let lines = read.context("cannot read the input")?;
    sink.snapshot(&filter, true)?;
    Ok(PipeStats {
        lines,
        bad_lines: sink.bad_lines,
        counts: since(before, filter.counts()),
    })
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

/// `spamward filter`: standard input to standard output, a summary on standard error at the end.
pub fn run_stdio(builder: &FilterBuilder) -> Result<()> {
    let started = Instant::now();
    // Unlocked: the reader thread reads it (a lock cannot move between threads); reads of up to
    // a megabyte make its per-read locking rare.
    let input = BufReader::with_capacity(INPUT_BYTES, io::stdin());
    let stats = run_with(builder, input, io::stdout().lock())?;
    summary(&stats, started);
    Ok(())
}

/// `spamward filter --state-dir`: [`run_durable`] on standard input and output.
pub fn run_stdio_durable(builder: &FilterBuilder, state: &StateOptions) -> Result<()> {
    let started = Instant::now();
    let input = BufReader::with_capacity(INPUT_BYTES, io::stdin());
    let stats = run_durable(builder, state, input, io::stdout().lock(), &mut |line| {
        eprintln!("{line}")
    })?;
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

/// The reading end of the pipe: cuts the input into lines, and chunks of lines into parsed,
/// analysed [`Chunk`]s for the applying end.
struct Reader<'f> {
    filter: &'f Filter,
    chunks: SyncSender<Chunk>,
    /// Lines read but not yet parsed, in input order, and the bytes of those to parse.
    pending: Vec<Pending>,
    text: Vec<u8>,
    /// Physical lines read so far.
    lines: u64,
}

/// Why [`Reader::read`] stopped before the end of its input.
enum ReadEnd {
    /// Reading failed; everything read before was sent to be answered.
    Input(io::Error),
    /// The applying end is gone (it failed).
    Stopped,
}

/// Lines parsed and analysed, in input order, on their way to be applied.
struct Chunk {
    ready: Vec<Ready>,
    /// The input had nothing more buffered after these lines: answer everything now.
    answer: bool,
}

/// A line waiting to be parsed.
enum Pending {
    /// A line to parse: its number and where its bytes are in [`Reader::text`].
    Line(u64, Range<usize>),
    /// A bad line: its number and what is wrong with it.
    Bad(u64, String),
}

/// A pending line parsed, with its message's content analysed.
// Nearly every line is an event: boxing the large variant would cost an allocation per line.
#[allow(clippy::large_enum_variant)]
enum Ready {
    Event(Event, Option<ContentFacts>),
    Bad(u64, String),
}

impl Reader<'_> {
    /// Reads `input` to its end; returns the number of physical lines. Stops early when the
    /// applying end is gone: its failure is the one to report.
    fn run(mut self, input: impl BufRead) -> io::Result<u64> {
        match self.read(input) {
            Ok(()) | Err(ReadEnd::Stopped) => Ok(self.lines),
            Err(ReadEnd::Input(e)) => Err(e),
        }
    }

    fn read(&mut self, mut input: impl BufRead) -> Result<(), ReadEnd> {
        let mut partial = Partial::default();
        loop {
            let buf = match input.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.send(true)?;
                    return Err(ReadEnd::Input(e));
                }
            };
            if buf.is_empty() {
                break;
            }
            let mut rest = buf;
            while let Some(end) = memchr::memchr(b'\n', rest) {
                if partial.is_open() {
                    partial.push(&rest[..end]);
                    self.finish(&mut partial);
                } else if end <= MAX_LINE_BYTES {
                    self.line(&rest[..end]);
                } else {
                    self.too_long(end as u64);
                }
                rest = &rest[end + 1..];
                if self.pending.len() >= PENDING_LINES {
                    self.send(false)?;
                }
            }
            partial.push(rest);
            let n = buf.len();
            input.consume(n);
            // Everything buffered is to be answered: whoever waits for these verdicts gets them.
            self.send(true)?;
        }
        if partial.is_open() {
            self.finish(&mut partial);
        }
        self.send(true)
    }

    /// Parses and analyses the pending lines (in parallel on the pool) and sends them on; with
    /// none, sends only the word to answer.
    fn send(&mut self, answer: bool) -> Result<(), ReadEnd> {
        let pending = std::mem::take(&mut self.pending);
        let ready = if pending.is_empty() {
            Vec::new()
        } else {
            prepare(self.filter, pending, &self.text)
        };
        self.text.clear();
        self.chunks
            .send(Chunk { ready, answer })
            .map_err(|_| ReadEnd::Stopped)
    }

    /// One whole line, without its newline: pending until the next [`Reader::send`].
    fn line(&mut self, line: &[u8]) {
        self.lines += 1;
        let start = self.text.len();
        self.text.extend_from_slice(line);
        self.pending
            .push(Pending::Line(self.lines, start..self.text.len()));
    }

    /// One line over the limit, skipped.
    fn too_long(&mut self, length: u64) {
        self.lines += 1;
        let why = ReadErrorKind::LineTooLong {
            limit: MAX_LINE_BYTES,
            length,
        };
        self.pending.push(Pending::Bad(self.lines, why.to_string()));
    }

    /// The line gathered across refills.
    fn finish(&mut self, partial: &mut Partial) {
        if partial.len > MAX_LINE_BYTES as u64 {
            self.too_long(partial.len);
        } else {
            self.line(&partial.bytes);
        }
        partial.clear();
    }
}

/// The applying end of the pipe: the state's journal and the output.
struct Sink {
    /// The journal and snapshots, with `--state-dir`.
    durable: Option<Durable>,
    /// Verdicts and error records not yet written.
    out: Vec<u8>,
    bad_lines: u64,
}

/// Line `number` as an event this instance owns, or what is wrong with it; `None` for a blank
/// line. Decoded as the log reader decodes a line, so both read a log alike.
fn parse(filter: &Filter, number: u64, line: &[u8]) -> Option<Result<Event, String>> {
    let ev = match decode_line(line, number == 1) {
        Decoded::Blank => return None,
        Decoded::Event(ev) => ev,
        Decoded::Bad(why) => return Some(Err(why.to_string())),
    };
    if !filter.owns(ev.business()) {
        let p = filter
            .partition()
            .expect("a filter that owns less has a partition");
        return Some(Err(format!(
            "business {:?} belongs to partition {}/{}, not to this instance ({p})",
            ev.business(),
            Partition::of(ev.business(), p.count()),
            p.count()
        )));
    }
    Some(Ok(ev))
}

/// Parses lines and analyses their messages' content, in parallel on the pool: neither needs
/// any state. Blank lines are dropped.
fn prepare(filter: &Filter, pending: Vec<Pending>, text: &[u8]) -> Vec<Ready> {
    let engine = filter.content();
    pending
        .into_par_iter()
        .with_min_len(32)
        .filter_map(|p| match p {
            Pending::Line(number, at) => Some(match parse(filter, number, &text[at])? {
                Ok(ev) => {
                    let content = match (&ev, &engine) {
                        (Event::Message(m), Some(engine)) => {
                            Some(ContentFacts::analyze(engine, &m.text))
                        }
                        _ => None,
                    };
                    Ready::Event(ev, content)
                }
                Err(why) => Ready::Bad(number, why),
            }),
            Pending::Bad(number, why) => Some(Ready::Bad(number, why)),
        })
        .collect()
}

impl Sink {
    /// Applies the chunks in the order they come, answering when a chunk says so, until the
    /// reader is done. Stops at the first failure to journal or to write.
    fn run(
        &mut self,
        filter: &Filter,
        chunks: Receiver<Chunk>,
        output: &mut impl Write,
    ) -> Result<()> {
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
    fn write(&mut self, output: &mut impl Write) -> Result<()> {
        if let Some(durable) = &mut self.durable {
            durable.commit().context("cannot commit the journal")?;
        }
        if !self.out.is_empty() {
            output
                .write_all(&self.out)
                .context("cannot write verdicts")?;
            self.out.clear();
        }
        output.flush().context("cannot write verdicts")
    }

    /// With a journal, writes a snapshot if one is due (or, at the end, always). Called after
    /// verdicts are written, so a snapshot never delays them.
    fn snapshot(&mut self, filter: &Filter, end: bool) -> Result<()> {
        if let Some(durable) = &mut self.durable
            && (end || durable.snapshot_due())
        {
            durable
                .snapshot(filter)
                .context("cannot write a snapshot")?;
        }
        Ok(())
    }

    /// Applies parsed lines in input order: verdicts and error records go to the output buffer.
    fn apply(&mut self, filter: &Filter, ready: Vec<Ready>) -> Result<()> {
        for r in ready {
            match r {
                Ready::Event(ev, content) => {
                    // Journaled before it is applied; made durable before its verdict is written.
                    if let Some(durable) = &mut self.durable {
                        durable.append(&ev).context("cannot journal an event")?;
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

/// A line cut by a buffer refill: its bytes while it stays within the limit, its length always.
#[derive(Default)]
struct Partial {
    bytes: Vec<u8>,
    len: u64,
}

impl Partial {
    fn is_open(&self) -> bool {
        self.len > 0
    }

    fn push(&mut self, piece: &[u8]) {
        self.len += piece.len() as u64;
        if self.len <= MAX_LINE_BYTES as u64 {
            self.bytes.extend_from_slice(piece);
        } else {
            self.bytes.clear();
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = r#"{"type":"message","id":"m-1","ts":1764000000000,"business":"b-17","recipient":"r-9312","category":"marketing","template":"t-3","text":"Flash sale!"}"#;
    const FEEDBACK: &str = r#"{"type":"feedback","ts":1764000060000,"business":"b-17","recipient":"r-9312","kind":"read","message":"m-1"}"#;

    /// Input handed over in the given pieces, one per `fill_buf`, as a pipe would.
    struct Pieces {
        pieces: Vec<Vec<u8>>,
        at: usize,
        /// Fail after the last piece instead of ending (a broken input: no clean end).
        fail: bool,
    }

    impl io::Read for Pieces {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            unreachable!("read through BufRead only")
        }
    }

    impl BufRead for Pieces {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            if self.fail && self.at == self.pieces.len() {
                return Err(io::Error::other("input broken"));
            }
            Ok(self.pieces.get(self.at).map_or(&[][..], |p| &p[..]))
        }
        fn consume(&mut self, n: usize) {
            assert_eq!(n, self.pieces[self.at].len(), "a piece is consumed whole");
            self.at += 1;
        }
    }

    /// Output that remembers what had been flushed at each flush.
    #[derive(Default)]
    struct Recorder {
        written: Vec<u8>,
        flushes: Vec<usize>,
    }

    impl Write for &mut Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.flushes.push(self.written.len());
            Ok(())
        }
    }

    fn run_pieces(pieces: &[&[u8]]) -> (Vec<String>, Recorder, PipeStats) {
        let input = Pieces {
            pieces: pieces.iter().map(|p| p.to_vec()).collect(),
            at: 0,
            fail: false,
        };
        let mut rec = Recorder::default();
        let stats = run(Policy::default(), input, &mut rec).unwrap();
        let lines = String::from_utf8(rec.written.clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        (lines, rec, stats)
    }

    fn error_line(out: &str) -> (u64, String) {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        assert_eq!(v["type"], "error", "{out}");
        (
            v["line"].as_u64().unwrap(),
            v["error"].as_str().unwrap().to_owned(),
        )
    }

    #[test]
    fn every_piece_of_input_is_answered_and_flushed_before_the_next_read() {
        let one = format!("{MESSAGE}\n");
        let (m2, m3) = (MESSAGE.replace("m-1", "m-2"), MESSAGE.replace("m-1", "m-3"));
        // A line cut in two, then two lines at once.
        let (head, tail) = m2.split_at(40);
        let rest = format!("{tail}\n{FEEDBACK}\n{m3}\n");
        let (lines, rec, stats) = run_pieces(&[one.as_bytes(), head.as_bytes(), rest.as_bytes()]);
        assert_eq!(lines.len(), 3, "{lines:?}");
        for (line, id) in lines.iter().zip(["m-1", "m-2", "m-3"]) {
            assert!(
                line.starts_with(&format!("{{\"message\":\"{id}\"")),
                "{line}"
            );
        }
        let first = lines[0].len() + 1;
        // After the first piece, its verdict; after the cut-off head, nothing new; after the
        // rest, everything; then the final flush at the end of the input.
        assert_eq!(
            rec.flushes,
            [first, first, rec.written.len(), rec.written.len()]
        );
        assert_eq!((stats.lines, stats.bad_lines), (4, 0));
        assert_eq!((stats.counts.events, stats.counts.messages), (4, 3));
    }

    /// Runs the durable pipe over `pieces` in `dir`; returns its output and its report lines.
    fn run_durable_pieces(
        dir: &std::path::Path,
        pieces: &[&[u8]],
        fail: bool,
        resume_after: Option<&str>,
    ) -> (Vec<String>, Vec<String>) {
        let input = Pieces {
            pieces: pieces.iter().map(|p| p.to_vec()).collect(),
            at: 0,
            fail,
        };
        let state = StateOptions {
            dir: dir.to_owned(),
            snapshot_every: 1_000,
            resume_after: resume_after.map(str::to_owned),
        };
        let mut rec = Recorder::default();
        let mut report = Vec::new();
        let result = run_durable(&Filter::builder(), &state, input, &mut rec, &mut |l| {
            report.push(l.to_owned())
        });
        assert_eq!(result.is_err(), fail, "{result:?}");
        let lines = String::from_utf8(rec.written).unwrap();
        (lines.lines().map(str::to_owned).collect(), report)
    }

    #[test]
    fn a_durable_pipe_journals_accepted_events_only_and_restores_them() {
        let dir = tempfile::tempdir().unwrap();
        let (m2, m3) = (MESSAGE.replace("m-1", "m-2"), MESSAGE.replace("m-1", "m-3"));
        let first = format!("{MESSAGE}\nnot json\n{FEEDBACK}\n");
        let second = format!("{m2}\n\n{m3}\n");
        let pieces = [first.as_bytes(), second.as_bytes()];
        let (lines, report) = run_durable_pieces(dir.path(), &pieces, false, None);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(
            report,
            ["restored 0 events (no snapshot, journal 0..0); continue the input after event 0"]
        );
        // Four events, the bad and the blank line not among them, and a snapshot at the end.
        let (lines, report) = run_durable_pieces(dir.path(), &[], false, None);
        assert_eq!(report.len(), 1, "{report:?}");
        assert!(lines.is_empty());
        assert_eq!(
            report,
            ["restored 4 events (snapshot at 4, journal 4..4); continue the input after event 4"]
        );
    }

    /// Inputs that break off (no clean end, so no snapshot): the verdicts a client did not get
    /// are recomputed from the journal and printed before any input is read.
    #[test]
    fn verdicts_owed_after_a_broken_run_come_first() {
        let dir = tempfile::tempdir().unwrap();
        let m2 = MESSAGE.replace("m-1", "m-2");
        let (a, b) = (format!("{m2}\n{FEEDBACK}\n"), format!("{MESSAGE}\n"));
        let run_a = run_durable_pieces(dir.path(), &[a.as_bytes()], true, None).0;
        let (run_b, report) = run_durable_pieces(dir.path(), &[b.as_bytes()], true, None);
        assert_eq!((run_a.len(), run_b.len()), (1, 1));
        assert!(
            report[0].ends_with("continue the input after event 2"),
            "{report:?}"
        );
        let owed = |id| run_durable_pieces(dir.path(), &[], true, Some(id)).0;
        assert_eq!(owed("m-2"), run_b);
        assert_eq!(owed("m-1"), Vec::<String>::new());
        assert_eq!(owed("m-unknown"), [run_a, run_b].concat());
    }

    #[test]
    fn bulk_input_is_not_flushed_line_by_line() {
        let bulk: String = (0..500)
            .map(|i| MESSAGE.replace("m-1", &format!("m-{i}")) + "\n")
            .collect();
        let (lines, rec, _) = run_pieces(&[bulk.as_bytes()]);
        assert_eq!(lines.len(), 500);
        assert_eq!(rec.flushes.len(), 2, "one piece, then the end");
    }

    #[test]
    fn bad_lines_are_answered_in_place_and_the_stream_goes_on() {
        let long = format!(
            "{{\"type\":\"message\",\"text\":\"{}\"}}",
            "x".repeat(MAX_LINE_BYTES)
        );
        let input = [
            format!("\u{feff}{MESSAGE}\r"),
            "not json".to_owned(),
            String::new(),
            "   ".to_owned(),
            MESSAGE.replace("1764000000000", "1764000000"),
            long.clone(),
            r#"{"type":"telegram","ts":1764000060000}"#.to_owned(),
            FEEDBACK.to_owned(),
            MESSAGE.replace("m-1", "m-2"),
        ]
        .join("\n");
        let mut bytes = input.into_bytes();
        // Invalid UTF-8 inside a string, after the last line (which has no newline).
        bytes.extend_from_slice(b"\n{\"type\":\"feedback\",\"business\":\"b\xff\"}");
        // Cut into pieces of every size, so lines straddle refills anywhere.
        for size in [7, 4096, bytes.len()] {
            let pieces: Vec<&[u8]> = bytes.chunks(size).collect();
            let (lines, _, stats) = run_pieces(&pieces);
            assert_eq!(lines.len(), 7, "pieces of {size}: {lines:?}");
            assert!(lines[0].starts_with(r#"{"message":"m-1""#));
            assert!(lines[5].starts_with(r#"{"message":"m-2""#));
            let errors: Vec<(u64, String)> = [1, 2, 3, 4, 6]
                .into_iter()
                .map(|i| error_line(&lines[i]))
                .collect();
            assert_eq!(errors[0].0, 2);
            assert!(errors[0].1.starts_with("malformed JSON"), "{errors:?}");
            assert_eq!(errors[1].0, 5);
            assert!(
                errors[1].1.starts_with("field `ts`: bad timestamp"),
                "{errors:?}"
            );
            assert_eq!(
                errors[2],
                (
                    6,
                    format!(
                        "line of {} bytes is longer than the limit of {MAX_LINE_BYTES} bytes; \
                         skipped",
                        long.len()
                    )
                )
            );
            assert_eq!(errors[3].0, 7);
            assert!(errors[3].1.starts_with("field `type`: unknown event type"));
            assert_eq!(
                errors[4],
                (10, "invalid UTF-8 at byte 32 of the line".to_owned())
            );
            assert_eq!((stats.lines, stats.bad_lines), (10, 5));
            assert_eq!((stats.counts.events, stats.counts.messages), (3, 2));
        }
    }
}
