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

use std::io::{self, BufRead, BufReader, Write};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use spamward_core::{Event, Policy};
use spamward_filter::{Filter, FilterCounts};

use crate::util::thousands;

/// The longest line accepted, in bytes without its newline: as the log reader's.
pub const MAX_LINE_BYTES: usize = spamward_log::DEFAULT_MAX_LINE_BYTES;
/// Input buffer of the command: large, so bulk input is answered in large writes.
const INPUT_BYTES: usize = 1 << 20;
/// Output held before it is written even though more input is buffered.
const OUTPUT_BYTES: usize = 1 << 20;
/// A UTF-8 byte order mark, accepted at the very start of the stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

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
pub fn run(policy: Policy, mut input: impl BufRead, mut output: impl Write) -> Result<PipeStats> {
    let mut pipe = Pipe {
        filter: Filter::new(policy),
        out: Vec::with_capacity(64 << 10),
        lines: 0,
        bad_lines: 0,
    };
    let mut partial = Partial::default();
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                pipe.write(&mut output, true)?;
                return Err(e).context("cannot read the input");
            }
        };
        if buf.is_empty() {
            break;
        }
        let mut rest = buf;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            if partial.is_open() {
                partial.push(&rest[..end]);
                pipe.finish(&mut partial);
            } else if end <= MAX_LINE_BYTES {
                pipe.line(&rest[..end]);
            } else {
                pipe.too_long(end as u64);
            }
            rest = &rest[end + 1..];
            if pipe.out.len() >= OUTPUT_BYTES {
                pipe.write(&mut output, false)?;
            }
        }
        partial.push(rest);
        let n = buf.len();
        input.consume(n);
        // Everything buffered is answered: whoever waits for these verdicts gets them now.
        pipe.write(&mut output, true)?;
    }
    if partial.is_open() {
        pipe.finish(&mut partial);
    }
    pipe.write(&mut output, true)?;
    Ok(PipeStats {
        lines: pipe.lines,
        bad_lines: pipe.bad_lines,
        counts: pipe.filter.counts(),
    })
}

/// `spamward filter`: standard input to standard output, a summary on standard error at the end.
pub fn run_stdio(policy: Policy) -> Result<()> {
    let started = Instant::now();
    let input = BufReader::with_capacity(INPUT_BYTES, io::stdin().lock());
    let stats = run(policy, input, io::stdout().lock())?;
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
    Ok(())
}

/// The filter and what it has to say.
struct Pipe {
    filter: Filter,
    /// Verdicts and error records not yet written.
    out: Vec<u8>,
    lines: u64,
    bad_lines: u64,
}

impl Pipe {
    /// One whole line, without its newline.
    fn line(&mut self, mut line: &[u8]) {
        self.lines += 1;
        if self.lines == 1
            && let Some(rest) = line.strip_prefix(BOM)
        {
            line = rest;
        }
        if let Some(rest) = line.strip_suffix(b"\r") {
            line = rest;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if let Err(e) = std::str::from_utf8(line) {
            let why = format!("invalid UTF-8 at byte {} of the line", e.valid_up_to());
            return self.bad(&why);
        }
        match Event::from_json(line) {
            Ok(ev) => {
                if let Some(v) = self.filter.observe(&ev) {
                    v.write_json(&mut self.out);
                    self.out.push(b'\n');
                }
            }
            Err(e) => self.bad(&e.to_string()),
        }
    }

    /// One line over the limit, skipped.
    fn too_long(&mut self, length: u64) {
        self.lines += 1;
        self.bad(&format!(
            "line of {length} bytes is longer than the limit of {MAX_LINE_BYTES} bytes; skipped"
        ));
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

    fn bad(&mut self, error: &str) {
        self.bad_lines += 1;
        let record = ErrorRecord {
            kind: "error",
            line: self.lines,
            error,
        };
        serde_json::to_writer(&mut self.out, &record).expect("an error record serialises");
        self.out.push(b'\n');
    }

    /// Writes what is pending, and flushes if asked.
    fn write(&mut self, output: &mut impl Write, flush: bool) -> Result<()> {
        if !self.out.is_empty() {
            output
                .write_all(&self.out)
                .context("cannot write verdicts")?;
            self.out.clear();
        }
        if flush {
            output.flush().context("cannot write verdicts")?;
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
    }

    impl io::Read for Pieces {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            unreachable!("read through BufRead only")
        }
    }

    impl BufRead for Pieces {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
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
