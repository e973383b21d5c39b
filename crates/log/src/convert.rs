//! Converting a log from one format or compression to another, streaming.
//!
//! Conversion never loses what it has accepted: whatever stops it (a bad record in strict mode, too
//! many in lenient mode, a damaged input file, a write error), every event read before that point
//! is written and the output is finished (buffers flushed, zstd frame ended) before the error is
//! returned, so a partial output is a valid log of the events before the failure.

use std::fmt;
use std::ops::{Add, AddAssign};
use std::path::Path;

use crate::error::{Error, ReadError};
use crate::read::LogReader;
use crate::write::LogWriter;

/// How [`convert()`] treats bad records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Stop at the first bad record (the default). When false, bad records are reported to the
    /// caller and skipped. Damage to the file itself (I/O errors, truncation, a failed checksum)
    /// stops conversion either way.
    pub strict: bool,
    /// When not strict: fail once more than this many records have been skipped. `None` skips
    /// any number.
    pub max_errors: Option<u64>,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            strict: true,
            max_errors: None,
        }
    }
}

/// What a conversion did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConvertStats {
    /// Events written.
    pub events: u64,
    /// Bad records skipped.
    pub skipped: u64,
}

impl Add for ConvertStats {
    type Output = ConvertStats;

    fn add(mut self, rhs: ConvertStats) -> ConvertStats {
        self += rhs;
        self
    }
}

impl AddAssign for ConvertStats {
    fn add_assign(&mut self, rhs: ConvertStats) {
        self.events += rhs.events;
        self.skipped += rhs.skipped;
    }
}

/// Why a conversion stopped, and how far it got.
#[derive(Debug)]
pub struct ConvertError {
    kind: Box<ConvertErrorKind>,
    stats: ConvertStats,
    finish: Option<Error>,
}

/// The class of a [`ConvertError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ConvertErrorKind {
    /// The input could not be opened or is not a log this build reads.
    Input(Error),
    /// The output could not be created or written.
    Output(Error),
    /// Input and output are the same file.
    SameFile,
    /// A bad record in strict mode, or damage to the input file.
    Read(ReadError),
    /// More records were bad than allowed.
    TooManyErrors {
        /// The limit that was exceeded.
        max: u64,
        /// The bad record that went over it.
        last: ReadError,
    },
    /// The caller asked to stop (an interrupt); what was read so far is in the output.
    Stopped,
}

impl ConvertError {
    fn new(kind: ConvertErrorKind, stats: ConvertStats) -> ConvertError {
        ConvertError {
            kind: Box::new(kind),
            stats,
            finish: None,
        }
    }

    /// What stopped the conversion.
    pub fn kind(&self) -> &ConvertErrorKind {
        &self.kind
    }

    /// What was done before it stopped: these events are in the output.
    pub fn stats(&self) -> ConvertStats {
        self.stats
    }

    /// A second failure, to finish the output after the first; the output is then incomplete.
    pub fn finish_error(&self) -> Option<&Error> {
        self.finish.as_ref()
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            ConvertErrorKind::Input(e) | ConvertErrorKind::Output(e) => write!(f, "{e}")?,
            ConvertErrorKind::SameFile => {
                f.write_str("the output is the input file; convert into a new file")?
            }
            ConvertErrorKind::Read(e) => write!(f, "{e}")?,
            ConvertErrorKind::TooManyErrors { max, last } => write!(
                f,
                "more than {max} bad records, stopping at the next one: {last}"
            )?,
            ConvertErrorKind::Stopped => f.write_str("stopped on request")?,
        }
        if let Some(e) = &self.finish {
            write!(f, " (and finishing the output failed: {e})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConvertError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            ConvertErrorKind::Input(e) | ConvertErrorKind::Output(e) => Some(e),
            ConvertErrorKind::Read(e) | ConvertErrorKind::TooManyErrors { last: e, .. } => Some(e),
            ConvertErrorKind::SameFile | ConvertErrorKind::Stopped => None,
        }
    }
}

/// Converts the log at `input` into a new log at `output`, whose name picks the format and
/// compression (see [`LogWriter::create`]). Bad records go to `on_error` when they are skipped,
/// which is only when `opts.strict` is false. On failure, the output holds every event read before
/// it and is properly finished.
pub fn convert(
    input: &Path,
    output: &Path,
    opts: &ConvertOptions,
    on_error: impl FnMut(&ReadError),
) -> Result<ConvertStats, ConvertError> {
    convert_with(input, output, opts, on_error, |_, _| true)
}

/// [`convert()`] with a watcher, as [`convert_watched`] takes one: progress reports, and a way to
/// stop that keeps what was read.
pub fn convert_with(
    input: &Path,
    output: &Path,
    opts: &ConvertOptions,
    on_error: impl FnMut(&ReadError),
    watch: impl FnMut(&LogReader, &ConvertStats) -> bool,
) -> Result<ConvertStats, ConvertError> {
    let none = ConvertStats::default();
    let mut reader =
        LogReader::open(input).map_err(|e| ConvertError::new(ConvertErrorKind::Input(e), none))?;
    if same_file(input, output) {
        return Err(ConvertError::new(ConvertErrorKind::SameFile, none));
    }
    let writer = LogWriter::create(output)
        .map_err(|e| ConvertError::new(ConvertErrorKind::Output(e), none))?;
    convert_watched(&mut reader, writer, opts, on_error, watch)
}

/// [`convert()`] between an open reader and writer, for standard input and output. Finishes the
/// writer in every case.
pub fn convert_stream(
    reader: &mut LogReader,
    writer: LogWriter,
    opts: &ConvertOptions,
    on_error: impl FnMut(&ReadError),
) -> Result<ConvertStats, ConvertError> {
    convert_watched(reader, writer, opts, on_error, |_, _| true)
}

/// Records between two calls of a [`convert_watched`] watcher.
pub const WATCH_EVERY: u64 = 4096;

/// [`convert_stream`] with a watcher, called every [`WATCH_EVERY`] records with the reader (for
/// [`LogReader::bytes_read`]) and the counts so far: for progress reports, and to stop (return
/// false), in which case the output is finished with everything read so far and the error is
/// [`ConvertErrorKind::Stopped`].
pub fn convert_watched(
    reader: &mut LogReader,
    mut writer: LogWriter,
    opts: &ConvertOptions,
    mut on_error: impl FnMut(&ReadError),
    mut watch: impl FnMut(&LogReader, &ConvertStats) -> bool,
) -> Result<ConvertStats, ConvertError> {
    let mut stats = ConvertStats::default();
    let mut failure = None;
    let mut seen = 0u64;
    while let Some(item) = reader.next_record() {
        seen += 1;
        if seen.is_multiple_of(WATCH_EVERY) && !watch(reader, &stats) {
            failure = Some(ConvertErrorKind::Stopped);
            // This record was read: keep it, then stop.
            if let Ok(record) = &item
                && writer.write(&record.event).is_ok()
            {
                stats.events += 1;
            }
            break;
        }
        match item {
            Ok(record) => match writer.write(&record.event) {
                Ok(()) => stats.events += 1,
                Err(e) => {
                    failure = Some(ConvertErrorKind::Output(e));
                    break;
                }
            },
            Err(e) if e.is_fatal() || opts.strict => {
                failure = Some(ConvertErrorKind::Read(e));
                break;
            }
            Err(e) => {
                if let Some(max) = opts.max_errors
                    && stats.skipped >= max
                {
                    failure = Some(ConvertErrorKind::TooManyErrors { max, last: e });
                    break;
                }
                stats.skipped += 1;
                on_error(&e);
            }
        }
    }
    let finished = writer.finish();
    match (failure, finished) {
        (None, Ok(_)) => Ok(stats),
        (None, Err(e)) => Err(ConvertError::new(ConvertErrorKind::Output(e), stats)),
        // The finish error of a writer that already failed only repeats the first.
        (Some(kind @ ConvertErrorKind::Output(_)), _) => Err(ConvertError::new(kind, stats)),
        (Some(kind), finished) => {
            let mut err = ConvertError::new(kind, stats);
            err.finish = finished.err();
            Err(err)
        }
    }
}

/// Whether two paths name one existing file (converting a file onto itself would destroy it).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

    use spamward_core::Event;

    use super::*;
    use crate::testgen;

    fn lenient(max_errors: Option<u64>) -> ConvertOptions {
        ConvertOptions {
            strict: false,
            max_errors,
        }
    }

    fn read_back(path: &Path) -> Vec<Event> {
        LogReader::open(path)
            .unwrap()
            .map(|item| item.expect("the output reads back cleanly").event)
            .collect()
    }

    fn never(e: &ReadError) {
        panic!("unexpected bad record: {e}");
    }

    /// Good lines with bad ones at the given (1-based) lines.
    fn with_bad_lines(events: &[Event], bad: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut good = events.iter();
        for line in 1.. {
            if bad.contains(&line) {
                out.extend_from_slice(b"{\"type\":\"wave\"}\n");
            } else if let Some(event) = good.next() {
                event.write_json(&mut out);
                out.push(b'\n');
            } else {
                break;
            }
        }
        out
    }

    #[test]
    fn jsonl_survives_every_round_trip_byte_for_byte() {
        let events = testgen::events(400, 53);
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| -> PathBuf { dir.path().join(name) };
        let original = testgen::jsonl(&events);
        fs::write(p("a.jsonl"), &original).unwrap();
        let chain = [
            "a.jsonl",
            "b.bin",
            "c.jsonl",
            "d.bin.zst",
            "e.jsonl.zst",
            "f.bin",
            "g.jsonl.zst",
            "h.jsonl",
            "i.parquet",
            "j.bin",
            "k.parquet",
            "l.jsonl",
        ];
        for pair in chain.windows(2) {
            let stats = convert(&p(pair[0]), &p(pair[1]), &ConvertOptions::default(), never)
                .unwrap_or_else(|e| panic!("{} -> {}: {e}", pair[0], pair[1]));
            assert_eq!(
                stats,
                ConvertStats {
                    events: 400,
                    skipped: 0
                }
            );
        }
        for name in ["c.jsonl", "h.jsonl", "l.jsonl"] {
            assert!(fs::read(p(name)).unwrap() == original, "{name} differs");
        }
        assert!(fs::read(p("k.parquet")).unwrap() == fs::read(p("i.parquet")).unwrap());
        assert!(fs::read(p("b.bin")).unwrap() == testgen::binary(&events));
        assert!(fs::read(p("f.bin")).unwrap() == fs::read(p("b.bin")).unwrap());
        // Same events in, same bytes out, compressed too.
        convert(
            &p("h.jsonl"),
            &p("i.bin.zst"),
            &ConvertOptions::default(),
            never,
        )
        .unwrap();
        assert!(fs::read(p("i.bin.zst")).unwrap() == fs::read(p("d.bin.zst")).unwrap());
    }

    #[test]
    fn a_watcher_sees_progress_and_can_stop_keeping_what_was_read() {
        let n = 3 * WATCH_EVERY as usize + 10;
        let events = testgen::events(n, 67);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        fs::write(&input, testgen::jsonl(&events)).unwrap();
        let output = dir.path().join("out.bin");
        let mut reader = LogReader::open(&input).unwrap();
        let writer = LogWriter::create(&output).unwrap();
        let mut calls = Vec::new();
        let err = convert_watched(
            &mut reader,
            writer,
            &ConvertOptions::default(),
            never,
            |r, s| {
                calls.push((r.bytes_read(), s.events));
                calls.len() < 2
            },
        )
        .unwrap_err();
        assert!(matches!(err.kind(), ConvertErrorKind::Stopped), "{err}");
        assert_eq!(calls.len(), 2);
        assert!(
            calls[0].0 > 0 && calls[1].0 >= calls[0].0,
            "bytes read grow: {calls:?}"
        );
        let kept = 2 * WATCH_EVERY as usize;
        assert_eq!(err.stats().events as usize, kept);
        assert_eq!(read_back(&output), events[..kept]);
    }

    #[test]
    fn strict_stops_at_the_first_bad_record_keeping_what_came_before() {
        let events = testgen::events(10, 59);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        fs::write(&input, with_bad_lines(&events, &[5, 8])).unwrap();
        for out in ["out.bin", "out.jsonl.zst"] {
            let output = dir.path().join(out);
            let err = convert(&input, &output, &ConvertOptions::default(), never).unwrap_err();
            let ConvertErrorKind::Read(bad) = err.kind() else {
                panic!("{err}");
            };
            assert_eq!((bad.line(), bad.field()), (5, Some("type")));
            assert!(
                err.to_string()
                    .starts_with(&format!("{}:5: field `type`: ", input.display())),
                "{err}"
            );
            assert_eq!(
                err.stats(),
                ConvertStats {
                    events: 4,
                    skipped: 0
                }
            );
            assert!(err.finish_error().is_none());
            assert_eq!(read_back(&output), events[..4], "{out}");
        }
    }

    #[test]
    fn lenient_skips_and_reports_bad_records() {
        let events = testgen::events(10, 61);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        fs::write(&input, with_bad_lines(&events, &[1, 5, 8])).unwrap();
        let output = dir.path().join("out.bin");
        let mut seen = Vec::new();
        let stats = convert(&input, &output, &lenient(None), |e| seen.push(e.line())).unwrap();
        assert_eq!(
            stats,
            ConvertStats {
                events: 10,
                skipped: 3
            }
        );
        assert_eq!(seen, [1, 5, 8]);
        assert_eq!(read_back(&output), events);
    }

    #[test]
    fn max_errors_is_honoured() {
        let events = testgen::events(10, 67);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        fs::write(&input, with_bad_lines(&events, &[2, 4, 6])).unwrap();
        let output = dir.path().join("out.jsonl");

        let stats = convert(&input, &output, &lenient(Some(3)), |_| {}).unwrap();
        assert_eq!(
            stats,
            ConvertStats {
                events: 10,
                skipped: 3
            }
        );

        let mut seen = Vec::new();
        let err = convert(&input, &output, &lenient(Some(2)), |e| seen.push(e.line())).unwrap_err();
        assert_eq!(seen, [2, 4]);
        let ConvertErrorKind::TooManyErrors { max: 2, last } = err.kind() else {
            panic!("{err}");
        };
        assert_eq!(last.line(), 6);
        assert!(
            err.to_string().starts_with("more than 2 bad records"),
            "{err}"
        );
        assert_eq!(
            err.stats(),
            ConvertStats {
                events: 3,
                skipped: 2
            }
        );
        assert_eq!(read_back(&output), events[..3]);

        let err = convert(&input, &output, &lenient(Some(0)), never).unwrap_err();
        assert_eq!(
            err.stats(),
            ConvertStats {
                events: 1,
                skipped: 0
            }
        );
    }

    #[test]
    fn a_damaged_input_still_leaves_a_finished_output() {
        let events = testgen::events(50, 71);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.bin");
        let full = testgen::binary(&events);
        let complete = testgen::binary(&events[..30]).len();
        fs::write(&input, &full[..complete + 20]).unwrap();
        for out in ["out.jsonl", "out.bin.zst"] {
            let output = dir.path().join(out);
            // Lenient or not, a cut-off file stops the conversion.
            let err = convert(&input, &output, &lenient(None), never).unwrap_err();
            assert!(
                matches!(err.kind(), ConvertErrorKind::Read(e) if e.is_fatal() && e.line() == 31),
                "{err}"
            );
            assert!(err.to_string().contains("truncated: record 31"), "{err}");
            assert_eq!(err.stats().events, 30);
            // The zstd frame was ended: the output reads back without error.
            assert_eq!(read_back(&output), events[..30], "{out}");
        }
    }

    #[test]
    fn refuses_to_convert_a_file_onto_itself_or_into_nothing() {
        let events = testgen::events(5, 73);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        fs::write(&input, testgen::jsonl(&events)).unwrap();
        let again = dir.path().join(".").join("in.jsonl");
        let err = convert(&input, &again, &ConvertOptions::default(), never).unwrap_err();
        assert!(matches!(err.kind(), ConvertErrorKind::SameFile), "{err}");
        assert_eq!(fs::read(&input).unwrap(), testgen::jsonl(&events));

        let err = convert(
            &input,
            &dir.path().join("out.csv"),
            &ConvertOptions::default(),
            never,
        )
        .unwrap_err();
        assert!(matches!(err.kind(), ConvertErrorKind::Output(_)), "{err}");

        let output = dir.path().join("out.bin");
        let missing = dir.path().join("missing.jsonl");
        let err = convert(&missing, &output, &ConvertOptions::default(), never).unwrap_err();
        assert!(matches!(err.kind(), ConvertErrorKind::Input(_)), "{err}");
        assert!(!output.exists());
    }

    #[test]
    fn streams_convert_too() {
        let events = testgen::events(30, 79);
        let mut reader =
            LogReader::from_reader("-", std::io::Cursor::new(testgen::jsonl(&events)), None)
                .unwrap();
        let out = tempfile::NamedTempFile::new().unwrap();
        let writer = LogWriter::new(out.reopen().unwrap(), crate::Format::Binary, false).unwrap();
        let stats = convert_stream(&mut reader, writer, &ConvertOptions::default(), never).unwrap();
        assert_eq!(stats.events, 30);
        assert_eq!(fs::read(out.path()).unwrap(), testgen::binary(&events));
        let total = stats
            + ConvertStats {
                events: 1,
                skipped: 2,
            };
        assert_eq!(
            total,
            ConvertStats {
                events: 31,
                skipped: 2
            }
        );
    }
}
