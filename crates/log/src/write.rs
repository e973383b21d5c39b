//! Writing a log in any format; JSON Lines and binary optionally zstd-compressed.
//!
//! Events are encoded into one reused buffer and handed to a 1 MiB `BufWriter` (in front of the
//! zstd encoder, when compressing), so the file sees large writes however small the events. Nothing
//! is complete until [`LogWriter::finish`]: it flushes the buffers and, for zstd, ends the frame. A
//! Parquet log is written by [`crate::parquet`], a row group at a time, and `finish` writes its
//! footer. The output depends only on the events written: the same events give the same bytes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use spamward_core::Event;

use crate::Format;
use crate::binary;
use crate::error::{Error, ErrorKind};
use crate::parquet;

/// Size of the buffer in front of the file or the compressor.
const BUF_BYTES: usize = 1 << 20;
/// The zstd compression level: fast, and most of the gain on logs.
const ZSTD_LEVEL: i32 = 3;

type Output = Box<dyn Write + Send>;

enum Sink {
    Plain(BufWriter<Output>),
    Zstd(BufWriter<zstd::stream::write::Encoder<'static, Output>>),
    /// Buffers on its own, in front of the output.
    Parquet(Box<parquet::Writer<Output>>),
}

/// Writes events to a log file or stream.
///
/// ```no_run
/// # fn main() -> Result<(), spamward_log::Error> {
/// # let events: Vec<spamward_log::Event> = Vec::new();
/// let mut writer = spamward_log::LogWriter::create("replay.bin.zst".as_ref())?;
/// for event in &events {
///     writer.write(event)?;
/// }
/// let written = writer.finish()?;
/// # Ok(()) }
/// ```
pub struct LogWriter {
    name: String,
    format: Format,
    sink: Sink,
    buf: Vec<u8>,
    events: u64,
}

impl LogWriter {
    /// Creates (or truncates) a log file, in the format and compression its name asks for:
    /// `.jsonl`, `.bin`, `.jsonl.zst`, `.bin.zst` or `.parquet`. Any other name is an error.
    pub fn create(path: &Path) -> Result<LogWriter, Error> {
        let name = path.display().to_string();
        let (format, zstd) = output_kind(path)
            .ok_or_else(|| Error::new(name.as_str(), ErrorKind::UnknownOutputFormat))?;
        let file =
            File::create(path).map_err(|e| Error::new(name.as_str(), ErrorKind::Create(e)))?;
        LogWriter::build(name, Box::new(file), format, zstd)
    }

    /// Writes a log to any byte stream, such as standard output. Messages call it `<output>`
    /// unless [`LogWriter::with_name`] says otherwise. Parquet compresses its columns itself
    /// (zstd), so for [`Format::Parquet`] the `zstd` flag is ignored.
    pub fn new(
        w: impl Write + Send + 'static,
        format: Format,
        zstd: bool,
    ) -> Result<LogWriter, Error> {
        LogWriter::build(String::from("<output>"), Box::new(w), format, zstd)
    }

    fn build(name: String, out: Output, format: Format, zstd: bool) -> Result<LogWriter, Error> {
        let sink = if format == Format::Parquet {
            let writer = parquet::Writer::new(out)
                .map_err(|e| Error::new(name.as_str(), ErrorKind::Write(e)))?;
            Sink::Parquet(Box::new(writer))
        } else if zstd {
            let mut encoder = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)
                .map_err(|e| Error::new(name.as_str(), ErrorKind::Zstd(e)))?;
            encoder
                .include_checksum(true)
                .map_err(|e| Error::new(name.as_str(), ErrorKind::Zstd(e)))?;
            Sink::Zstd(BufWriter::with_capacity(BUF_BYTES, encoder))
        } else {
            Sink::Plain(BufWriter::with_capacity(BUF_BYTES, out))
        };
        let mut writer = LogWriter {
            name,
            format,
            sink,
            buf: Vec::with_capacity(1024),
            events: 0,
        };
        if format == Format::Binary {
            // Lands in the buffer; a failure would show on the first flush.
            writer.write_bytes(&binary::header())?;
        }
        Ok(writer)
    }

    /// Names the output in error messages.
    pub fn with_name(mut self, name: impl Into<String>) -> LogWriter {
        self.name = name.into();
        self
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the output is zstd-compressed.
    pub fn is_compressed(&self) -> bool {
        matches!(self.sink, Sink::Zstd(_))
    }

    /// Events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Appends one event.
    pub fn write(&mut self, event: &Event) -> Result<(), Error> {
        if let Sink::Parquet(w) = &mut self.sink {
            w.write(event)
                .map_err(|e| Error::new(self.name.as_str(), ErrorKind::Write(e)))?;
            self.events += 1;
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let encoded = match self.format {
            Format::Jsonl => {
                event.write_json(&mut buf);
                buf.push(b'\n');
                Ok(())
            }
            Format::Binary => binary::encode_record(event, &mut buf),
            Format::Parquet => unreachable!("Parquet rows are written above"),
        };
        let result = match encoded {
            Ok(()) => self.write_bytes(&buf),
            Err(bytes) => Err(Error::new(
                self.name.as_str(),
                ErrorKind::RecordTooLarge { bytes },
            )),
        };
        self.buf = buf;
        result?;
        self.events += 1;
        Ok(())
    }

    /// Pushes everything written so far to the output (for zstd, ends the current block), without
    /// ending the log. For a consumer reading along, such as a pipe. A Parquet log ends its
    /// current row group; it is readable only once finished.
    pub fn flush(&mut self) -> Result<(), Error> {
        let result = match &mut self.sink {
            Sink::Plain(w) => w.flush(),
            Sink::Zstd(w) => w.flush(),
            Sink::Parquet(w) => w.end_row_group(),
        };
        result.map_err(|e| self.write_error(e))
    }

    /// Flushes the buffers, ends the zstd frame, and returns the number of events written. A log
    /// is complete only once this has succeeded.
    pub fn finish(self) -> Result<u64, Error> {
        let LogWriter {
            name, sink, events, ..
        } = self;
        let fail = |e: io::Error| Error::new(name.as_str(), ErrorKind::Write(e));
        let mut out = match sink {
            Sink::Plain(w) => w.into_inner().map_err(|e| fail(e.into_error()))?,
            Sink::Zstd(w) => {
                let encoder = w.into_inner().map_err(|e| fail(e.into_error()))?;
                encoder.finish().map_err(fail)?
            }
            Sink::Parquet(w) => w.finish().map_err(fail)?,
        };
        out.flush().map_err(fail)?;
        Ok(events)
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let result = match &mut self.sink {
            Sink::Plain(w) => w.write_all(bytes),
            Sink::Zstd(w) => w.write_all(bytes),
            Sink::Parquet(_) => unreachable!("a Parquet log is written as rows"),
        };
        result.map_err(|e| self.write_error(e))
    }

    fn write_error(&self, e: io::Error) -> Error {
        Error::new(self.name.as_str(), ErrorKind::Write(e))
    }
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("compressed", &self.is_compressed())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The format and compression an output file name asks for, from the five accepted endings.
fn output_kind(path: &Path) -> Option<(Format, bool)> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    [
        (".jsonl", Format::Jsonl, false),
        (".bin", Format::Binary, false),
        (".jsonl.zst", Format::Jsonl, true),
        (".bin.zst", Format::Binary, true),
        (".parquet", Format::Parquet, false),
    ]
    .into_iter()
    .find(|(ending, _, _)| name.ends_with(ending) && name.len() > ending.len())
    .map(|(_, format, zstd)| (format, zstd))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::read::LogReader;
    use crate::testgen;

    /// An output the test can look at while the writer still holds it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn bytes(&self) -> Vec<u8> {
            self.0.lock().unwrap().clone()
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn write_all(format: Format, zstd: bool, events: &[Event]) -> Vec<u8> {
        let out = Shared::default();
        let mut w = LogWriter::new(out.clone(), format, zstd).unwrap();
        for event in events {
            w.write(event).unwrap();
        }
        assert_eq!(w.finish().unwrap(), events.len() as u64);
        out.bytes()
    }

    /// A literal test vector, worked out from the documented format alone (README, Binary log:
    /// the header, then per record u32 LE length, u32 LE CRC-32, the event in bincode 2's
    /// standard configuration) outside this code: a change of the format, the event's field
    /// order or the encoding configuration breaks it, and so would every log already written.
    #[test]
    fn a_feedback_event_is_these_bytes() {
        use spamward_core::{Feedback, FeedbackKind, Timestamp};
        let event = Event::Feedback(Feedback {
            ts: Timestamp::from_millis(1_793_577_600_000),
            business: "b-1".into(),
            recipient: "r-2".into(),
            kind: FeedbackKind::Report,
            message: Some("m-3".into()),
        });
        #[rustfmt::skip]
        let expected: &[u8] = &[
            // "\x89SPWLOG\n", version 1, flags 0
            0x89, 0x53, 0x50, 0x57, 0x4c, 0x4f, 0x47, 0x0a, 0x01, 0x00, 0x00, 0x00,
            // payload length 24, its CRC-32 0xc246b8ae
            0x18, 0x00, 0x00, 0x00, 0xae, 0xb8, 0x46, 0xc2,
            // variant 1 (Feedback); ts: 0xfd and the u64 LE; "b-1"; "r-2"
            0x01, 0xfd, 0x00, 0x44, 0x8e, 0x99, 0xa1, 0x01, 0x00, 0x00,
            0x03, 0x62, 0x2d, 0x31, 0x03, 0x72, 0x2d, 0x32,
            // kind 1 (report); Some("m-3")
            0x01, 0x01, 0x03, 0x6d, 0x2d, 0x33,
        ];
        assert_eq!(
            write_all(Format::Binary, false, std::slice::from_ref(&event)),
            expected
        );
        let back: Vec<Event> =
            crate::LogReader::from_reader("vector", std::io::Cursor::new(expected.to_vec()), None)
                .unwrap()
                .map(|r| r.unwrap().event)
                .collect();
        assert_eq!(back, [event]);
    }

    #[test]
    fn writes_the_documented_bytes() {
        let events = testgen::events(50, 31);
        assert_eq!(
            write_all(Format::Jsonl, false, &events),
            testgen::jsonl(&events)
        );
        assert_eq!(
            write_all(Format::Binary, false, &events),
            testgen::binary(&events)
        );
        // An empty binary log is its header; an empty JSON Lines log is empty.
        assert_eq!(write_all(Format::Binary, false, &[]), binary::header());
        assert!(write_all(Format::Jsonl, false, &[]).is_empty());
        // Compressed: a valid zstd stream of the same bytes, and the same bytes every time.
        for format in [Format::Jsonl, Format::Binary] {
            let packed = write_all(format, true, &events);
            assert_eq!(packed, write_all(format, true, &events));
            let plain = zstd::decode_all(&packed[..]).unwrap();
            assert_eq!(plain, write_all(format, false, &events));
        }
    }

    #[test]
    fn file_names_pick_format_and_compression() {
        let events = testgen::events(20, 37);
        let dir = tempfile::tempdir().unwrap();
        for (name, format, zstd) in [
            ("a.jsonl", Format::Jsonl, false),
            ("a.bin", Format::Binary, false),
            ("a.jsonl.zst", Format::Jsonl, true),
            ("A.BIN.ZST", Format::Binary, true),
        ] {
            let path = dir.path().join(name);
            let mut w = LogWriter::create(&path).unwrap();
            assert_eq!((w.format(), w.is_compressed()), (format, zstd), "{name}");
            for event in &events {
                w.write(event).unwrap();
            }
            assert_eq!(w.events(), 20);
            w.finish().unwrap();
            let r = LogReader::open(&path).unwrap();
            assert_eq!((r.format(), r.is_compressed()), (format, zstd), "{name}");
            let read: Vec<Event> = r.map(|item| item.unwrap().event).collect();
            assert_eq!(read, events, "{name}");
        }
        for name in ["a.json", "a.txt", "a.zst", "a.jsonl.gz", ".bin"] {
            let path = dir.path().join(name);
            let err = LogWriter::create(&path).unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::UnknownOutputFormat),
                "{name}"
            );
            assert!(err.to_string().contains(name), "{err}");
            assert!(
                err.to_string()
                    .contains(".jsonl, .bin, .jsonl.zst, .bin.zst or .parquet"),
                "{err}"
            );
            assert!(!path.exists(), "{name} was created");
        }
        let err = LogWriter::create(&dir.path().join("no/such/dir/a.bin")).unwrap_err();
        assert!(err.to_string().starts_with("cannot create "), "{err}");
    }

    #[test]
    fn flush_makes_events_visible_before_finish() {
        let events = testgen::events(3, 41);
        for zstd in [false, true] {
            let out = Shared::default();
            let mut w = LogWriter::new(out.clone(), Format::Jsonl, zstd).unwrap();
            w.write(&events[0]).unwrap();
            w.flush().unwrap();
            let seen = out.bytes();
            let seen = if zstd {
                // The frame is not ended yet; decode what is there.
                let mut plain = Vec::new();
                let _ = zstd::stream::read::Decoder::new(&seen[..])
                    .unwrap()
                    .read_to_end(&mut plain);
                plain
            } else {
                seen
            };
            assert_eq!(seen, testgen::jsonl(&events[..1]), "zstd: {zstd}");
            w.finish().unwrap();
        }
    }

    #[test]
    fn write_errors_name_the_output() {
        let events = testgen::events(1, 43);
        let mut w = LogWriter::new(Broken, Format::Jsonl, false)
            .unwrap()
            .with_name("out.jsonl");
        // Buffered: the failure shows when the buffer goes out.
        w.write(&events[0]).unwrap();
        let err = w.finish().unwrap_err();
        assert_eq!(err.to_string(), "out.jsonl: write error: disk full");
    }

    #[test]
    fn an_event_too_large_for_a_record_is_refused_alone() {
        let events = testgen::events(2, 47);
        let Event::Message(mut huge) = events[0].clone() else {
            panic!("the first test event is a message");
        };
        huge.text = "x".repeat(binary::MAX_RECORD_BYTES);
        let out = Shared::default();
        let mut w = LogWriter::new(out.clone(), Format::Binary, false).unwrap();
        let err = w.write(&Event::Message(huge)).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::RecordTooLarge { .. }),
            "{err}"
        );
        w.write(&events[1]).unwrap();
        assert_eq!(w.finish().unwrap(), 1);
        assert_eq!(out.bytes(), testgen::binary(&events[1..]));
    }
}
