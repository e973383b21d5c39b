//! The reading end of the pipe: input pieces cut into lines, chunks of lines parsed and their
//! messages' content analysed in parallel, handed on in input order.

use std::io::{self, BufRead};
use std::ops::Range;
use std::sync::mpsc::SyncSender;

use rayon::ThreadPool;
use rayon::prelude::*;
use spamward_core::{ContentFacts, Event};
use spamward_log::{Decoded, ReadErrorKind, decode_line};

use super::MAX_LINE_BYTES;
use crate::{Filter, Partition};

/// Cuts the input into lines, and chunks of lines into parsed, analysed [`Chunk`]s for the
/// applying end.
pub(super) struct Reader<'f> {
    filter: &'f Filter,
    /// Where lines are parsed and analysed; `None`: rayon's global pool.
    pool: Option<&'f ThreadPool>,
    /// Lines per chunk, at most.
    chunk_lines: usize,
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
pub(super) struct Chunk {
    pub(super) ready: Vec<Ready>,
    /// The input had nothing more buffered after these lines: answer everything now.
    pub(super) answer: bool,
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
pub(super) enum Ready {
    /// An event this instance owns, and its message's content facts (with content heuristics).
    Event(Event, Option<ContentFacts>),
    /// A bad line: its number and what is wrong with it.
    Bad(u64, String),
}

impl<'f> Reader<'f> {
    pub(super) fn new(
        filter: &'f Filter,
        pool: Option<&'f ThreadPool>,
        chunk_lines: usize,
        chunks: SyncSender<Chunk>,
    ) -> Reader<'f> {
        Reader {
            filter,
            pool,
            chunk_lines,
            chunks,
            pending: Vec::new(),
            text: Vec::new(),
            lines: 0,
        }
    }

    /// Reads `input` to its end; returns the number of physical lines. Stops early when the
    /// applying end is gone: its failure is the one to report.
    pub(super) fn run(mut self, input: impl BufRead) -> io::Result<u64> {
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
                if self.pending.len() >= self.chunk_lines {
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
            let work = || prepare(self.filter, pending, &self.text);
            match self.pool {
                Some(pool) => pool.install(work),
                None => work(),
            }
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

/// Parses lines and analyses their messages' content, in parallel on the current pool: neither
/// needs any state. Blank lines are dropped.
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
