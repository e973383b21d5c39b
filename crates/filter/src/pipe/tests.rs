//! The pipe: pieces of input answered as they come, bad lines in place, the journal and the
//! verdicts owed after a crash, and the same output for any chunk size and pool.

use std::error::Error as _;
use std::io;
use std::path::Path;

use spamward_core::{Event, Policy};

use super::*;
use crate::Partition;
use crate::durable::DurableOptions;

const MESSAGE: &str = r#"{"type":"message","id":"m-1","ts":1764000000000,"business":"b-17","recipient":"r-9312","category":"marketing","template":"t-3","text":"Flash sale!"}"#;
const FEEDBACK: &str = r#"{"type":"feedback","ts":1764000060000,"business":"b-17","recipient":"r-9312","kind":"read","message":"m-1"}"#;

/// Input handed over in the given pieces, one per `fill_buf`, as a pipe would.
struct Pieces {
    pieces: Vec<Vec<u8>>,
    at: usize,
    /// Fail after the last piece instead of ending (a broken input: no clean end).
    fail: bool,
}

impl Pieces {
    fn new(pieces: &[&[u8]], fail: bool) -> Pieces {
        Pieces {
            pieces: pieces.iter().map(|p| p.to_vec()).collect(),
            at: 0,
            fail,
        }
    }
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

fn lines_of(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn run_pieces(pieces: &[&[u8]]) -> (Vec<String>, Recorder, PipeStats) {
    let mut rec = Recorder::default();
    let stats = Pipe::new(Filter::new(Policy::default()))
        .run(Pieces::new(pieces, false), &mut rec)
        .unwrap();
    (lines_of(&rec.written), rec, stats)
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
                    "line of {} bytes is longer than the limit of {MAX_LINE_BYTES} bytes; skipped",
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

#[test]
fn another_partitions_business_is_refused_in_place() {
    let owner = |b: &str| Partition::of(b, 2);
    let (mine, theirs) = match (owner("b-17"), owner("b-18")) {
        (0, 1) => ("b-17", "b-18"),
        (1, 0) => ("b-18", "b-17"),
        _ => panic!("b-17 and b-18 share a partition: pick other ids"),
    };
    let filter = Filter::builder()
        .partition(Partition::new(0, 2).unwrap())
        .build();
    let input = format!(
        "{}\n{}\n",
        MESSAGE.replace("b-17", theirs),
        MESSAGE.replace("b-17", mine).replace("m-1", "m-2")
    );
    let mut rec = Recorder::default();
    let stats = Pipe::new(filter)
        .run(Pieces::new(&[input.as_bytes()], false), &mut rec)
        .unwrap();
    let lines = lines_of(&rec.written);
    assert_eq!(
        error_line(&lines[0]),
        (
            1,
            format!("business \"{theirs}\" belongs to partition 1/2, not to this instance (0/2)")
        )
    );
    assert!(lines[1].starts_with(r#"{"message":"m-2""#), "{lines:?}");
    assert_eq!((stats.bad_lines, stats.counts.events), (1, 1));
}

/// A generated world's log gives, through the pipe, the verdicts of a filter fed its events one
/// by one: for any piece size, chunk size and pool.
#[test]
fn a_world_gets_the_filters_verdicts_for_any_chunk_size_and_pool() {
    let events = crate::tests::world_of(12, 4_000, 2, 11);
    let mut log = Vec::new();
    for ev in &events {
        ev.write_json(&mut log);
        log.push(b'\n');
    }
    let direct = Filter::new(Policy::default());
    let mut expected = Vec::new();
    for v in events.iter().filter_map(|ev| direct.observe(ev)) {
        v.write_json(&mut expected);
        expected.push(b'\n');
    }
    let messages = events
        .iter()
        .filter(|ev| matches!(ev, Event::Message(_)))
        .count();
    assert!(messages > 1_000, "{messages}");

    let pool = |n| {
        Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap(),
        )
    };
    let runs = [
        (log.len(), CHUNK_LINES, None),
        (64 << 10, 1, Some(pool(1))),
        (1_000, 7, Some(pool(3))),
    ];
    for (piece, chunk, pool) in runs {
        let mut pipe = Pipe::new(Filter::new(Policy::default())).chunk_lines(chunk);
        if let Some(pool) = pool {
            pipe = pipe.pool(pool);
        }
        let pieces: Vec<&[u8]> = log.chunks(piece).collect();
        let mut rec = Recorder::default();
        let stats = pipe.run(Pieces::new(&pieces, false), &mut rec).unwrap();
        assert!(
            rec.written == expected,
            "pieces of {piece}, chunks of {chunk}: not the filter's verdicts"
        );
        assert_eq!(stats.counts.messages, messages as u64);
        assert_eq!(stats.lines, events.len() as u64);
        assert_eq!(pipe.filter().counts(), stats.counts);
    }
}

/// Output that takes `room` bytes, then fails.
struct Full {
    room: usize,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.room {
            return Err(io::Error::other("no room"));
        }
        self.room -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A failure says what failed and why; a failed output stops the reader too.
#[test]
fn failures_name_what_failed_and_their_cause() {
    let full = |e: &PipeError| format!("{e}: {}", e.source().unwrap());
    let bulk: String = (0..5_000)
        .map(|i| MESSAGE.replace("m-1", &format!("m-{i}")) + "\n")
        .collect();
    let pieces: Vec<&[u8]> = bulk.as_bytes().chunks(4096).collect();
    let mut pipe = Pipe::new(Filter::new(Policy::default()));
    let e = pipe
        .run(Pieces::new(&pieces, false), Full { room: 10 })
        .unwrap_err();
    assert!(matches!(e, PipeError::Output(_)), "{e:?}");
    assert_eq!(full(&e), "cannot write verdicts: no room");
    assert!(
        pipe.filter().counts().messages < 5_000,
        "the reader stopped early"
    );

    let one = format!("{MESSAGE}\n");
    let mut rec = Recorder::default();
    let e = Pipe::new(Filter::new(Policy::default()))
        .run(Pieces::new(&[one.as_bytes()], true), &mut rec)
        .unwrap_err();
    assert_eq!(full(&e), "cannot read the input: input broken");
    assert_eq!(lines_of(&rec.written).len(), 1, "answered before failing");
}

/// Opens the state in `dir` and runs a pipe over `pieces`; returns its output, its report lines
/// (the recovery's notes and summary) and the pipe.
fn run_durable_pieces(
    dir: &Path,
    pieces: &[&[u8]],
    fail: bool,
    resume_after: Option<&str>,
    snapshot_every: u64,
) -> (Vec<String>, Vec<String>, Pipe) {
    let options = DurableOptions {
        snapshot_every,
        resume_after: resume_after.map(str::to_owned),
    };
    let restored = Durable::open(dir, &Filter::builder(), &options).unwrap();
    let mut report = restored.recovery.notes.clone();
    report.push(restored.recovery.to_string());
    let mut pipe = Pipe::restored(restored);
    let mut rec = Recorder::default();
    let result = pipe.run(Pieces::new(pieces, fail), &mut rec);
    assert_eq!(result.is_err(), fail, "{result:?}");
    (lines_of(&rec.written), report, pipe)
}

#[test]
fn a_durable_pipe_journals_accepted_events_only_and_restores_them() {
    let dir = tempfile::tempdir().unwrap();
    let (m2, m3) = (MESSAGE.replace("m-1", "m-2"), MESSAGE.replace("m-1", "m-3"));
    let first = format!("{MESSAGE}\nnot json\n{FEEDBACK}\n");
    let second = format!("{m2}\n\n{m3}\n");
    let pieces = [first.as_bytes(), second.as_bytes()];
    let (lines, report, _) = run_durable_pieces(dir.path(), &pieces, false, None, 1_000);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(
        report,
        ["restored 0 events (no snapshot, journal 0..0); continue the input after event 0"]
    );
    // Four events, the bad and the blank line not among them, and a snapshot at the end.
    let (lines, report, mut pipe) = run_durable_pieces(dir.path(), &[], false, None, 1_000);
    assert!(lines.is_empty());
    assert_eq!(
        report,
        ["restored 4 events (snapshot at 4, journal 4..4); continue the input after event 4"]
    );
    // The restored events are the filter's, not this run's.
    assert_eq!(pipe.filter().counts().events, 4);
    let stats = pipe.run(Pieces::new(&[], false), io::sink()).unwrap();
    assert_eq!(stats.counts.events, 0);
}

/// Inputs that break off (no clean end, so no snapshot): the verdicts a client did not get
/// are recomputed from the journal and written before any input is read.
#[test]
fn verdicts_owed_after_a_broken_run_come_first() {
    let dir = tempfile::tempdir().unwrap();
    let m2 = MESSAGE.replace("m-1", "m-2");
    let (a, b) = (format!("{m2}\n{FEEDBACK}\n"), format!("{MESSAGE}\n"));
    let run = |pieces: &[&[u8]], resume_after| {
        run_durable_pieces(dir.path(), pieces, true, resume_after, 1_000)
    };
    let run_a = run(&[a.as_bytes()], None).0;
    let (run_b, report, _) = run(&[b.as_bytes()], None);
    assert_eq!((run_a.len(), run_b.len()), (1, 1));
    assert!(
        report[0].ends_with("continue the input after event 2"),
        "{report:?}"
    );
    let owed = |id| run(&[], Some(id)).0;
    assert_eq!(owed("m-2"), run_b);
    assert_eq!(owed("m-1"), Vec::<String>::new());
    assert_eq!(owed("m-unknown"), [run_a, run_b].concat());
}

/// A snapshot is written at the end of the input piece that makes one due, and at the end.
#[test]
fn snapshots_follow_input_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let messages: Vec<String> = (0..6)
        .map(|i| MESSAGE.replace("m-1", &format!("m-{i}")) + "\n")
        .collect();
    let (a, b, c) = (
        messages[..3].concat(),
        messages[3].clone(),
        messages[4..].concat(),
    );
    let pieces = [a.as_bytes(), b.as_bytes(), c.as_bytes()];
    let (lines, _, pipe) = run_durable_pieces(dir.path(), &pieces, false, None, 2);
    assert_eq!(lines.len(), 6);
    let durable = pipe.durable().unwrap();
    // Due after 3 events, not after 4, due after 6; at the end, 6 is already written.
    assert_eq!(durable.snapshots(), [3, 6]);
    assert_eq!(durable.applied(), 6);
}
