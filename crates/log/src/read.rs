//! Reading a log: one streaming reader for every format, compressed or not.
//!
//! The reader is a pull iterator over [`Record`]s. It owns a chain of fixed-size buffers (file →
//! zstd → 1 MiB line buffer) and never reads a file to its end in one go, so memory stays flat
//! however large the log. In the common case a line or record lies whole inside the read buffer and
//! is decoded straight from it; only one that straddles a refill is copied into a scratch buffer,
//! which is reused. A JSON line longer than the limit is skipped as it streams past, never held.
//!
//! The format is decided once, on open, from the first bytes: see the crate documentation. A
//! Parquet log is not a stream (its index is at its end): it is read from the file by
//! [`crate::parquet`], row group by row group.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use memchr::memchr;
use spamward_core::Event;

use crate::Format;
use crate::binary::{self, HEADER_LEN, MAGIC, MAX_RECORD_BYTES, RECORD_HEADER_LEN};
use crate::error::{Error, ErrorKind, Location, ReadError, ReadErrorKind};
use crate::parquet::{self, Rows};

/// The default limit on one JSON line: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Size of the buffer lines and records are read from.
const BUF_BYTES: usize = 1 << 20;
/// Size of the buffer compressed bytes are read into.
const ZSTD_IN_BYTES: usize = 256 << 10;
/// The first four bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// A UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One event read from a log, and where it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// 1-based physical line (JSON Lines), record number (binary) or row number (Parquet).
    pub line: u64,
    /// The event.
    pub event: Event,
}

/// A streaming reader of a log in any format, compressed or not.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut reader = spamward_log::LogReader::open("events.bin.zst".as_ref())?;
/// for item in &mut reader {
///     match item {
///         Ok(record) => println!("{}: {}", record.line, record.event.type_name()),
///         Err(e) if e.is_fatal() => return Err(e.into()),
///         Err(e) => eprintln!("skipped: {e}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct LogReader {
    name: Arc<str>,
    /// The bytes of a JSON Lines or binary log; an empty stream for Parquet.
    source: Source,
    /// The rows of a Parquet log.
    rows: Option<Box<Rows>>,
    format: Format,
    compressed: bool,
    max_line_bytes: usize,
    /// Lines (JSON Lines) or records (binary) begun so far.
    position: u64,
    /// Set after a fatal error or the end of the input.
    done: bool,
    /// Scratch space for a line or payload that straddles a buffer refill.
    scratch: Vec<u8>,
}

impl LogReader {
    /// Opens a log file. The format and compression are detected from its first bytes, and from
    /// the file name when those are not conclusive (see the crate documentation).
    pub fn open(path: &Path) -> Result<LogReader, Error> {
        let name = path.display().to_string();
        let mut file =
            File::open(path).map_err(|e| Error::new(name.as_str(), ErrorKind::Open(e)))?;
        let (hint, _) = Format::from_path(path);
        // Peek without seeking, so a named pipe still reads as a stream.
        let head = read_head(&mut file, parquet::MAGIC.len())
            .map_err(|e| Error::new(name.as_str(), ErrorKind::Read(e)))?;
        if head == parquet::MAGIC {
            return LogReader::open_parquet(name, file);
        }
        LogReader::build(name, Box::new(Cursor::new(head).chain(file)), hint)
    }

    fn open_parquet(name: String, file: File) -> Result<LogReader, Error> {
        let name: Arc<str> = Arc::from(name);
        let rows = Rows::open(Arc::clone(&name), file)
            .map_err(|why| Error::new(&*name, ErrorKind::Parquet(why)))?;
        let nothing = Counting {
            inner: Box::new(io::empty()),
            bytes: 0,
            failed: false,
        };
        Ok(LogReader {
            name,
            source: Source::Plain(BufReader::new(Cursor::new(Vec::new()).chain(nothing))),
            rows: Some(Box::new(rows)),
            format: Format::Parquet,
            compressed: false,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            position: 0,
            done: false,
            scratch: Vec::new(),
        })
    }

    /// Reads a log from any byte stream, such as standard input. `name` is used in messages;
    /// `hint` says what a stream without the binary magic is meant to be: `Some(Format::Binary)`
    /// or `Some(Format::Parquet)` makes that an error, `None` or `Some(Format::Jsonl)` reads it as
    /// JSON Lines. A Parquet log cannot be read from a stream; open its file.
    pub fn from_reader(
        name: impl Into<String>,
        r: impl Read + Send + 'static,
        hint: Option<Format>,
    ) -> Result<LogReader, Error> {
        LogReader::build(name.into(), Box::new(r), hint)
    }

    fn build(
        name: String,
        inner: Box<dyn Read + Send>,
        hint: Option<Format>,
    ) -> Result<LogReader, Error> {
        let mut raw = Counting {
            inner,
            bytes: 0,
            failed: false,
        };
        let head = read_head(&mut raw, HEADER_LEN)
            .map_err(|e| Error::new(name.as_str(), ErrorKind::Read(e)))?;
        let compressed = head.starts_with(&ZSTD_MAGIC);
        let raw = Cursor::new(head).chain(raw);
        let (source, head) = if compressed {
            let mut dec = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(
                ZSTD_IN_BYTES,
                raw,
            ))
            .map_err(|e| Error::new(name.as_str(), ErrorKind::Zstd(e)))?;
            let head = read_head(&mut dec, HEADER_LEN).map_err(|e| {
                let failed = dec.get_ref().get_ref().get_ref().1.failed;
                let kind = if failed {
                    ErrorKind::Read(e)
                } else {
                    ErrorKind::Zstd(e)
                };
                Error::new(name.as_str(), kind)
            })?;
            let src = Cursor::new(head).chain(dec);
            let head = src.get_ref().0.get_ref().clone();
            (Source::Zstd(BufReader::with_capacity(BUF_BYTES, src)), head)
        } else {
            let head = raw.get_ref().0.get_ref().clone();
            (
                Source::Plain(BufReader::with_capacity(BUF_BYTES, raw)),
                head,
            )
        };

        let format =
            detect(&head, hint, compressed).map_err(|kind| Error::new(name.as_str(), kind))?;
        let mut reader = LogReader {
            name: Arc::from(name),
            source,
            rows: None,
            format,
            compressed,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            position: 0,
            done: false,
            scratch: Vec::new(),
        };
        if format == Format::Binary {
            // `detect` checked the header; step over it.
            reader.source.skip_head(HEADER_LEN);
        }
        Ok(reader)
    }

    /// Sets the longest JSON line accepted, in bytes without the newline (default 1 MiB). A longer
    /// line is skipped, as it streams past, with a non-fatal error.
    pub fn set_max_line_bytes(&mut self, limit: usize) -> &mut Self {
        self.max_line_bytes = limit;
        self
    }

    /// The name used in messages: the path, or what was given to [`LogReader::from_reader`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The format of the log.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the log is zstd-compressed.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Bytes of the underlying file (compressed, if it is) consumed so far: for progress bars.
    /// Once iteration has ended cleanly it equals the file's size.
    pub fn bytes_read(&self) -> u64 {
        match &self.rows {
            Some(rows) => rows.bytes_read(),
            None => self.source.bytes_read(),
        }
    }

    /// The next event, or the error that stands in its place, or `None` at the end of the log or
    /// after a fatal error.
    pub fn next_record(&mut self) -> Option<Result<Record, ReadError>> {
        if self.done {
            return None;
        }
        let item = match self.format {
            Format::Jsonl => self.next_line(),
            Format::Binary => self.next_binary(),
            Format::Parquet => self.next_row(),
        };
        match &item {
            None => self.done = true,
            Some(Err(e)) if e.is_fatal() => self.done = true,
            Some(_) => {}
        }
        item
    }

    fn next_row(&mut self) -> Option<Result<Record, ReadError>> {
        let rows = self.rows.as_mut()?;
        let item = rows.next_row()?;
        self.position += 1;
        Some(item.map(|(line, event)| Record { line, event }))
    }

    fn next_line(&mut self) -> Option<Result<Record, ReadError>> {
        loop {
            let buf = match fill_buf(&mut self.source) {
                Ok(buf) => buf,
                Err(e) => return Some(Err(self.read_failed(self.position + 1, e))),
            };
            if buf.is_empty() {
                return None;
            }
            self.position += 1;
            let n = self.position;

            // Fast path: the whole line is in the buffer; decode it where it lies.
            if let Some(end) = memchr(b'\n', buf)
                && end <= self.max_line_bytes
            {
                let decoded = decode_line(&buf[..end], n == 1);
                self.source.consume(end + 1);
                match self.line_result(n, decoded) {
                    Some(item) => return Some(item),
                    None => continue,
                }
            }

            // Slow path: the line straddles a refill, or is too long.
            let decoded = match self.read_long_line() {
                Ok(Some(length)) => Decoded::Bad(ReadErrorKind::LineTooLong {
                    limit: self.max_line_bytes,
                    length,
                }),
                Ok(None) => decode_line(&self.scratch, n == 1),
                Err(e) => return Some(Err(self.read_failed(n, e))),
            };
            if let Some(item) = self.line_result(n, decoded) {
                return Some(item);
            }
        }
    }

    fn line_result(&self, n: u64, decoded: Decoded) -> Option<Result<Record, ReadError>> {
        match decoded {
            Decoded::Blank => None,
            Decoded::Event(event) => Some(Ok(Record { line: n, event })),
            Decoded::Bad(kind) => Some(Err(ReadError::new(
                &self.name,
                Location::Line(n),
                false,
                kind,
            ))),
        }
    }

    /// Reads the current line into `scratch`, or skips it when it is longer than the limit and
    /// returns its length.
    fn read_long_line(&mut self) -> io::Result<Option<u64>> {
        self.scratch.clear();
        let limit = self.max_line_bytes as u64;
        let mut length: u64 = 0;
        loop {
            let buf = fill_buf(&mut self.source)?;
            if buf.is_empty() {
                break;
            }
            let (chunk, newline) = match memchr(b'\n', buf) {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            length += chunk as u64;
            if length <= limit {
                self.scratch.extend_from_slice(&buf[..chunk]);
            } else {
                self.scratch.clear();
            }
            self.source.consume(chunk + usize::from(newline));
            if newline {
                break;
            }
        }
        Ok((length > limit).then_some(length))
    }

    fn next_binary(&mut self) -> Option<Result<Record, ReadError>> {
        let buf = match fill_buf(&mut self.source) {
            Ok(buf) => buf,
            Err(e) => return Some(Err(self.read_failed(self.position + 1, e))),
        };
        if buf.is_empty() {
            return None;
        }
        self.position += 1;
        let n = self.position;

        // Fast path: the whole record is in the buffer.
        if let Some(frame) = buf.first_chunk::<RECORD_HEADER_LEN>() {
            let (len, crc) = binary::frame(frame);
            if len > MAX_RECORD_BYTES {
                return Some(Err(too_long(&self.name, n, len)));
            }
            let end = RECORD_HEADER_LEN + len;
            if let Some(record) = buf.get(RECORD_HEADER_LEN..end) {
                let decoded = binary::decode_payload(record, crc);
                self.source.consume(end);
                return Some(self.binary_result(n, decoded));
            }
        }

        // Slow path: the record straddles a refill, or is cut off.
        let mut frame = [0u8; RECORD_HEADER_LEN];
        let got = match read_full(&mut self.source, &mut frame) {
            Ok(got) => got,
            Err(e) => return Some(Err(self.read_failed(n, e))),
        };
        if got < RECORD_HEADER_LEN {
            return Some(Err(self.truncated(n, got as u64, RECORD_HEADER_LEN as u64)));
        }
        let (len, crc) = binary::frame(&frame);
        if len > MAX_RECORD_BYTES {
            return Some(Err(too_long(&self.name, n, len)));
        }
        self.scratch.resize(len, 0);
        let got = match read_full(&mut self.source, &mut self.scratch) {
            Ok(got) => got,
            Err(e) => return Some(Err(self.read_failed(n, e))),
        };
        if got < len {
            let expected = (RECORD_HEADER_LEN + len) as u64;
            return Some(Err(self.truncated(
                n,
                (RECORD_HEADER_LEN + got) as u64,
                expected,
            )));
        }
        let decoded = binary::decode_payload(&self.scratch, crc);
        Some(self.binary_result(n, decoded))
    }

    fn binary_result(&self, n: u64, decoded: Result<Event, String>) -> Result<Record, ReadError> {
        match decoded {
            Ok(event) => Ok(Record { line: n, event }),
            Err(why) => Err(ReadError::new(
                &self.name,
                Location::Record(n),
                true,
                ReadErrorKind::Corrupt(why),
            )),
        }
    }

    fn truncated(&self, n: u64, got: u64, expected: u64) -> ReadError {
        ReadError::new(
            &self.name,
            Location::Record(n),
            true,
            ReadErrorKind::Truncated { got, expected },
        )
    }

    /// A fatal error for a failed read at line or record `n`: the file's own I/O error, or a
    /// broken zstd stream.
    fn read_failed(&self, n: u64, e: io::Error) -> ReadError {
        let kind = if self.compressed && !self.source.io_failed() {
            ReadErrorKind::Zstd(e)
        } else {
            ReadErrorKind::Io(e)
        };
        let location = match self.format {
            Format::Jsonl => Location::Line(n),
            Format::Binary => Location::Record(n),
            Format::Parquet => Location::Row(n),
        };
        ReadError::new(&self.name, location, true, kind)
    }
}

impl Iterator for LogReader {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("compressed", &self.compressed)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

fn too_long(name: &Arc<str>, n: u64, len: usize) -> ReadError {
    ReadError::new(
        name,
        Location::Record(n),
        true,
        ReadErrorKind::Corrupt(format!(
            "length {len} exceeds the {MAX_RECORD_BYTES}-byte record limit"
        )),
    )
}

/// Decides the format from the first (decompressed) bytes and the hint.
fn detect(head: &[u8], hint: Option<Format>, compressed: bool) -> Result<Format, ErrorKind> {
    let magic_len = head.len().min(MAGIC.len());
    let looks_binary = !head.is_empty() && head[..magic_len] == MAGIC[..magic_len];
    if looks_binary {
        let Some(header) = head.first_chunk::<HEADER_LEN>() else {
            return Err(ErrorKind::TruncatedHeader { got: head.len() });
        };
        return match binary::check_header(header) {
            Ok(()) => Ok(Format::Binary),
            Err(binary::HeaderProblem::Version(v)) => Err(ErrorKind::UnsupportedVersion(v)),
            Err(binary::HeaderProblem::Flags(f)) => Err(ErrorKind::UnsupportedFlags(f)),
        };
    }
    if head.starts_with(&parquet::MAGIC) {
        // `LogReader::open` reads a Parquet file itself: this is a stream, or inside zstd.
        return Err(ErrorKind::ParquetStream { zstd: compressed });
    }
    match hint {
        Some(Format::Binary) if head.is_empty() => Err(ErrorKind::TruncatedHeader { got: 0 }),
        Some(Format::Binary) => Err(ErrorKind::BadMagic),
        Some(Format::Parquet) => Err(ErrorKind::NotParquet),
        _ => Ok(Format::Jsonl),
    }
}

/// What one JSON line holds.
#[derive(Debug)]
pub enum Decoded {
    /// Nothing but white space: skipped, not an error.
    Blank,
    /// An event.
    Event(Event),
    /// Not an event, and why: invalid UTF-8 or a [`ReadErrorKind::Decode`] error (and, from the
    /// reader, a line over its limit).
    Bad(ReadErrorKind),
}

/// Decodes one line of a JSON Lines log, without its newline, as [`LogReader`] does: a UTF-8
/// byte order mark is dropped from the `first` line of a stream and a `\r` before the newline
/// from any, then the line is blank, an event, or bad. The pipe filter decodes its input with it,
/// so that both read a log alike.
pub fn decode_line(mut line: &[u8], first: bool) -> Decoded {
    if first && let Some(rest) = line.strip_prefix(BOM) {
        line = rest;
    }
    if let Some(rest) = line.strip_suffix(b"\r") {
        line = rest;
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return Decoded::Blank;
    }
    let line = match std::str::from_utf8(line) {
        Ok(line) => line,
        Err(e) => {
            return Decoded::Bad(ReadErrorKind::InvalidUtf8 {
                offset: e.valid_up_to(),
            });
        }
    };
    match Event::from_json_str(line) {
        Ok(event) => Decoded::Event(event),
        Err(e) => Decoded::Bad(ReadErrorKind::Decode(e)),
    }
}

/// Reads up to `n` bytes, fewer only at the end of the stream.
fn read_head(r: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; n];
    let got = read_full(r, &mut head)?;
    head.truncate(got);
    Ok(head)
}

/// Fills `buf`, stopping early only at the end of the stream; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// `fill_buf`, retrying interrupted reads.
fn fill_buf(r: &mut impl BufRead) -> io::Result<&[u8]> {
    // Looping on an error and then returning the borrow needs the check split from the return.
    loop {
        match r.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    r.fill_buf()
}

/// The underlying file, counting what is read from it and remembering whether it failed (which
/// tells a read error of the file from a decompression error when both surface as `io::Error`).
struct Counting {
    inner: Box<dyn Read + Send>,
    bytes: u64,
    failed: bool,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.failed = true;
                }
                Err(e)
            }
        }
    }
}

/// The bytes peeked at on open, put back in front of the stream they came from.
type Peeked<R> = Chain<Cursor<Vec<u8>>, R>;
type ZstdStream = zstd::stream::read::Decoder<'static, BufReader<Peeked<Counting>>>;

/// The stream lines and records are read from.
enum Source {
    Plain(BufReader<Peeked<Counting>>),
    Zstd(BufReader<Peeked<ZstdStream>>),
}

impl Source {
    /// Steps over `n` bytes that are known to be in the peeked head.
    fn skip_head(&mut self, n: usize) {
        let cursor = match self {
            Source::Plain(r) => r.get_mut().get_mut().0,
            Source::Zstd(r) => r.get_mut().get_mut().0,
        };
        cursor.set_position(cursor.position() + n as u64);
    }

    fn file(&self) -> &Peeked<Counting> {
        match self {
            Source::Plain(r) => r.get_ref(),
            Source::Zstd(r) => r.get_ref().get_ref().1.get_ref().get_ref(),
        }
    }

    fn io_failed(&self) -> bool {
        self.file().get_ref().1.failed
    }

    fn bytes_read(&self) -> u64 {
        let (head, file) = self.file().get_ref();
        let unread_head =
            head.get_ref().len() as u64 - head.position().min(head.get_ref().len() as u64);
        let buffered = match self {
            Source::Plain(r) => r.buffer().len(),
            Source::Zstd(r) => r.get_ref().get_ref().1.get_ref().buffer().len(),
        };
        // Before a fatal error the counts cannot drift apart, but never report less than zero.
        file.bytes.saturating_sub(unread_head + buffered as u64)
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(r) => r.read(buf),
            Source::Zstd(r) => r.read(buf),
        }
    }
}

impl BufRead for Source {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Source::Plain(r) => r.fill_buf(),
            Source::Zstd(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, amt: usize) {
        match self {
            Source::Plain(r) => r.consume(amt),
            Source::Zstd(r) => r.consume(amt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen;

    /// A stream that hands out at most `chunk` bytes per read, to force every slow path.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// A stream that fails after handing out its data.
    struct FailAfter(Cursor<Vec<u8>>);

    impl Read for FailAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::other("device gone")),
                n => Ok(n),
            }
        }
    }

    fn reader(bytes: Vec<u8>, hint: Option<Format>) -> LogReader {
        LogReader::from_reader("t.log", Cursor::new(bytes), hint).unwrap()
    }

    fn trickle(bytes: Vec<u8>, chunk: usize) -> LogReader {
        let r = Trickle {
            data: bytes,
            pos: 0,
            chunk,
        };
        LogReader::from_reader("t.log", r, None).unwrap()
    }

    /// Reads to the end: the events, and the errors as (line, fatal, message).
    fn drain(r: &mut LogReader) -> (Vec<Record>, Vec<(u64, bool, String)>) {
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for item in r.by_ref() {
            match item {
                Ok(rec) => records.push(rec),
                Err(e) => errors.push((e.line(), e.is_fatal(), e.to_string())),
            }
        }
        (records, errors)
    }

    fn events_of(records: &[Record]) -> Vec<Event> {
        records.iter().map(|r| r.event.clone()).collect()
    }

    #[test]
    fn reads_both_formats_in_any_chunking() {
        let events = testgen::events(300, 7);
        for (bytes, format) in [
            (testgen::jsonl(&events), Format::Jsonl),
            (testgen::binary(&events), Format::Binary),
        ] {
            for chunk in [1, 7, 4096, usize::MAX] {
                let mut r = trickle(bytes.clone(), chunk);
                assert_eq!(r.format(), format);
                assert!(!r.is_compressed());
                let (records, errors) = drain(&mut r);
                assert!(errors.is_empty(), "{errors:?}");
                assert_eq!(events_of(&records), events, "{format} in chunks of {chunk}");
                let numbers: Vec<u64> = records.iter().map(|r| r.line).collect();
                assert_eq!(numbers, (1..=300).collect::<Vec<_>>());
                assert_eq!(r.bytes_read(), bytes.len() as u64);
                assert!(r.next_record().is_none());
            }
        }
    }

    #[test]
    fn jsonl_lines_keep_their_physical_numbers() {
        let events = testgen::events(4, 1);
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| events[i].to_json());
        let text = format!("\u{feff}{a}\r\n\n   \r\n{b}\n\t\n{c}\r\n\n{d}");
        let (records, errors) = drain(&mut reader(text.into_bytes(), None));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(events_of(&records), events);
        let lines: Vec<u64> = records.iter().map(|r| r.line).collect();
        assert_eq!(lines, [1, 4, 6, 8]);
        // Empty input, and only blank lines: no events, no errors.
        for input in ["", "\n\n\r\n", "\u{feff}"] {
            let (records, errors) = drain(&mut reader(input.into(), None));
            assert!(records.is_empty() && errors.is_empty(), "{input:?}");
        }
    }

    /// Each bad line goes between two good ones: (line, field at fault, words in the message).
    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let cases: &[(&[u8], Option<&str>, &str)] = &[
            (br#"{"type":"message","id":"m-1""#, None, "malformed JSON"),
            (b"not json at all", None, "malformed JSON"),
            (br#"{"type":"wave","ts":1764000000000}"#, Some("type"), "unknown event type"),
            (
                br#"{"type":"feedback","ts":1764000060000,"recipient":"r","kind":"read"}"#,
                Some("business"),
                "missing",
            ),
            (
                br#"{"type":"feedback","ts":1764000060,"business":"b","recipient":"r","kind":"read"}"#,
                Some("ts"),
                "bad timestamp",
            ),
            (
                br#"{"type":"feedback","ts":1764000060000,"business":"b","recipient":"r","kind":"love"}"#,
                Some("kind"),
                "expected one of",
            ),
            (
                b"{\"type\":\"feedback\",\"ts\":1764000060000,\"business\":\"b\xff\",\"recipient\":\"r\",\"kind\":\"read\"}",
                None,
                "invalid UTF-8 at byte 51 of the line",
            ),
            // A byte order mark is only stripped at the very start of the log.
            (
                "\u{feff}{\"type\":\"feedback\"}".as_bytes(),
                None,
                "malformed JSON",
            ),
        ];
        let events = testgen::events(2, 3);
        for (line, field, needle) in cases {
            let mut input = Vec::new();
            for part in [
                events[0].to_json().as_bytes(),
                line,
                events[1].to_json().as_bytes(),
            ] {
                input.extend_from_slice(part);
                input.push(b'\n');
            }
            let mut r = reader(input, None);
            let first = r.next_record().unwrap().unwrap();
            assert_eq!(first.line, 1);
            let err = r.next_record().unwrap().unwrap_err();
            assert_eq!(err.location(), Location::Line(2));
            assert_eq!(err.field(), *field, "{err}");
            assert!(!err.is_fatal(), "{err}");
            let msg = err.to_string();
            assert!(msg.starts_with("t.log:2: "), "{msg}");
            assert!(msg.contains(needle), "{msg} should say {needle:?}");
            if let Some(field) = field {
                assert!(msg.contains(&format!("field `{field}`")), "{msg}");
            }
            let third = r.next_record().unwrap().unwrap();
            assert_eq!((third.line, &third.event), (3, &events[1]));
            assert!(r.next_record().is_none());
        }
    }

    #[test]
    fn over_long_lines_are_skipped_without_being_held() {
        let events = testgen::events(2, 5);
        let good = events[0].to_json();
        let limit = good.len();
        let long = "x".repeat(100_000);
        let text = format!("{good}\n{long}\n{}\n{good}X\n{long}", events[1].to_json());
        for chunk in [3, 1000, usize::MAX] {
            let mut r = trickle(text.clone().into_bytes(), chunk);
            r.set_max_line_bytes(limit);
            let (records, errors) = drain(&mut r);
            // A line exactly at the limit is fine; one byte more is not.
            assert_eq!(events_of(&records), events, "chunks of {chunk}");
            let expected_errors = [
                (
                    2,
                    false,
                    format!(
                        "t.log:2: line of 100000 bytes is longer than the limit of {limit} bytes; skipped"
                    ),
                ),
                (
                    4,
                    false,
                    format!(
                        "t.log:4: line of {} bytes is longer than the limit of {limit} bytes; skipped",
                        limit + 1
                    ),
                ),
                (
                    5,
                    false,
                    format!(
                        "t.log:5: line of 100000 bytes is longer than the limit of {limit} bytes; skipped"
                    ),
                ),
            ];
            assert_eq!(errors, expected_errors);
            assert!(
                r.scratch.capacity() <= 2 * limit,
                "held {} bytes",
                r.scratch.capacity()
            );
        }
    }

    #[test]
    fn binary_header_wins_over_the_name() {
        let events = testgen::events(5, 9);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("misleading.jsonl");
        std::fs::write(&path, testgen::binary(&events)).unwrap();
        let mut r = LogReader::open(&path).unwrap();
        assert_eq!(r.format(), Format::Binary);
        assert_eq!(events_of(&drain(&mut r).0), events);

        let r = reader(testgen::binary(&events), Some(Format::Jsonl));
        assert_eq!(r.format(), Format::Binary);
        // And JSON in a file called .txt is JSON.
        let path = dir.path().join("events.txt");
        std::fs::write(&path, testgen::jsonl(&events)).unwrap();
        let mut r = LogReader::open(&path).unwrap();
        assert_eq!(r.format(), Format::Jsonl);
        assert_eq!(events_of(&drain(&mut r).0), events);
    }

    /// Files that fail on open: (name, content, words in the message).
    #[test]
    fn unreadable_headers_are_refused_on_open() {
        let events = testgen::events(2, 11);
        let mut v2 = testgen::binary(&events);
        v2[8] = 2;
        let mut flagged = testgen::binary(&events);
        flagged[10] = 1;
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "a.bin",
                testgen::jsonl(&events),
                "a.bin: not a spamward binary log (bad magic)",
            ),
            (
                "a.bin.zst",
                zstd::encode_all(&b"hello\n"[..], 3).unwrap(),
                "bad magic",
            ),
            (
                "a.jsonl",
                v2,
                "a.jsonl: binary log format version 2 is newer than this build supports (1); \
                 upgrade spamward",
            ),
            ("a.bin", flagged, "unknown flags 0x0001"),
            (
                "a.bin",
                MAGIC[..5].to_vec(),
                "header is cut off after 5 of 12 bytes",
            ),
            (
                "a.jsonl",
                binary::header()[..10].to_vec(),
                "header is cut off after 10 of 12 bytes",
            ),
            ("a.bin", Vec::new(), "empty file"),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (name, content, needle) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            let err = LogReader::open(&path).unwrap_err().to_string();
            assert!(err.contains(needle), "{name}: {err}");
            assert!(err.contains(name), "{err}");
        }
        let err = LogReader::open(&dir.path().join("missing.jsonl")).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Open(_)), "{err}");
        assert!(err.to_string().starts_with("cannot open "), "{err}");

        let err = LogReader::from_reader("-", Cursor::new(b"{}".to_vec()), Some(Format::Binary))
            .unwrap_err();
        assert_eq!(err.to_string(), "-: not a spamward binary log (bad magic)");
    }

    #[test]
    fn a_truncated_binary_log_yields_every_complete_record_then_says_where() {
        let events = testgen::events(12, 13);
        let full = testgen::binary(&events);
        // Where each record ends.
        let mut ends = Vec::new();
        let mut at = HEADER_LEN;
        while at < full.len() {
            let len = u32::from_le_bytes(full[at..at + 4].try_into().unwrap()) as usize;
            at += RECORD_HEADER_LEN + len;
            ends.push(at);
        }
        assert_eq!(ends.len(), events.len());
        for cut in HEADER_LEN..=full.len() {
            for chunk in [5, usize::MAX] {
                let mut r = trickle(full[..cut].to_vec(), chunk);
                let (records, errors) = drain(&mut r);
                let complete = ends.iter().take_while(|&&end| end <= cut).count();
                assert_eq!(events_of(&records), events[..complete], "cut at {cut}");
                if ends.contains(&cut) || cut == HEADER_LEN {
                    assert!(errors.is_empty(), "cut at {cut}: {errors:?}");
                    continue;
                }
                let start = if complete == 0 {
                    HEADER_LEN
                } else {
                    ends[complete - 1]
                };
                let got = cut - start;
                let n = complete + 1;
                let expected = if got < RECORD_HEADER_LEN {
                    format!("t.log: truncated: record {n} is cut off after {got} of 8 frame bytes")
                } else {
                    let total = ends[complete] - start;
                    format!("t.log: truncated: record {n} is cut off after {got} of {total} bytes")
                };
                assert_eq!(errors, [(n as u64, true, expected)], "cut at {cut}");
            }
        }
    }

    #[test]
    fn flipped_bits_are_caught_by_the_checksum() {
        let events = testgen::events(5, 17);
        let full = testgen::binary(&events);
        let third = HEADER_LEN
            + (0..2).fold(0, |at, _| {
                let start = HEADER_LEN + at;
                at + RECORD_HEADER_LEN
                    + u32::from_le_bytes(full[start..start + 4].try_into().unwrap()) as usize
            });
        let len = u32::from_le_bytes(full[third..third + 4].try_into().unwrap()) as usize;
        for i in third + 4..third + RECORD_HEADER_LEN + len {
            for bit in [0x01, 0x80] {
                let mut damaged = full.clone();
                damaged[i] ^= bit;
                let (records, errors) = drain(&mut reader(damaged, None));
                assert_eq!(events_of(&records), events[..2]);
                assert_eq!(errors.len(), 1);
                let (n, fatal, msg) = &errors[0];
                assert_eq!((*n, *fatal), (3, true));
                assert!(
                    msg.starts_with("t.log: corrupt record 3: CRC-32 mismatch"),
                    "{msg}"
                );
            }
        }
        // A damaged length is caught too, as corruption or truncation, never read past.
        for bit in 0..32 {
            let mut damaged = full.clone();
            damaged[third + bit / 8] ^= 1 << (bit % 8);
            let (records, errors) = drain(&mut reader(damaged, None));
            assert_eq!(events_of(&records), events[..2]);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].1 && errors[0].0 == 3, "{errors:?}");
        }
    }

    #[test]
    fn an_absurd_length_is_corruption_not_an_allocation() {
        let mut bytes = binary::header().to_vec();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        let (records, errors) = drain(&mut reader(bytes, None));
        assert!(records.is_empty());
        assert_eq!(
            errors,
            [(
                1,
                true,
                format!(
                    "t.log: corrupt record 1: length {} exceeds the 16777216-byte record limit",
                    u32::MAX
                )
            )]
        );
    }

    #[test]
    fn zstd_is_read_transparently() {
        let events = testgen::events(200, 19);
        for plain in [testgen::jsonl(&events), testgen::binary(&events)] {
            let packed = zstd::encode_all(&plain[..], 3).unwrap();
            for chunk in [1, 999, usize::MAX] {
                let mut r = trickle(packed.clone(), chunk);
                assert!(r.is_compressed());
                let (records, errors) = drain(&mut r);
                assert!(errors.is_empty(), "{errors:?}");
                assert_eq!(events_of(&records), events);
                assert_eq!(r.bytes_read(), packed.len() as u64);
            }
            // Two frames one after the other read as one stream.
            let half = if plain.starts_with(&MAGIC) {
                HEADER_LEN
            } else {
                plain.len() / 2 + memchr(b'\n', &plain[plain.len() / 2..]).unwrap() + 1
            };
            let mut two = zstd::encode_all(&plain[..half], 3).unwrap();
            two.extend(zstd::encode_all(&plain[half..], 19).unwrap());
            let (records, errors) = drain(&mut reader(two, None));
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(events_of(&records), events);
        }
    }

    #[test]
    fn a_truncated_zstd_log_yields_what_it_can_then_fails() {
        // Enough events for several zstd blocks, so a cut leaves whole blocks before it.
        let events = testgen::events(4000, 23);
        for plain in [testgen::jsonl(&events), testgen::binary(&events)] {
            let packed = zstd::encode_all(&plain[..], 3).unwrap();
            for cut in [packed.len() / 2, packed.len() - 1] {
                let (records, errors) = drain(&mut reader(packed[..cut].to_vec(), None));
                assert!(
                    records.len() >= events.len() * cut / packed.len() / 2,
                    "cut at {cut}"
                );
                assert!(events.starts_with(&events_of(&records)));
                assert_eq!(errors.len(), 1, "{errors:?}");
                let (n, fatal, msg) = &errors[0];
                assert!(fatal, "{msg}");
                assert!(msg.contains("truncated zstd stream"), "{msg}");
                assert_eq!(*n, records.last().unwrap().line + 1, "{msg}");
            }
        }
        // Cut before anything decodes: the format cannot even be told, so opening fails.
        let packed = zstd::encode_all(&testgen::jsonl(&events[..10])[..], 3).unwrap();
        let cut = packed[..packed.len() / 2].to_vec();
        let err = LogReader::from_reader("t.log", Cursor::new(cut), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.log: truncated zstd stream (incomplete frame)"
        );
    }

    #[test]
    fn io_errors_are_fatal_and_named() {
        let events = testgen::events(10, 29);
        let cases = [
            (
                testgen::jsonl(&events),
                false,
                "t.log:11: read error: device gone",
            ),
            (
                testgen::binary(&events),
                false,
                "t.log: record 11: read error: device gone",
            ),
            (
                zstd::encode_all(&testgen::jsonl(&events)[..], 3).unwrap(),
                true,
                "t.log:11: read error: device gone",
            ),
        ];
        for (bytes, compressed, expected) in cases {
            let failing = FailAfter(Cursor::new(bytes));
            let mut r = LogReader::from_reader("t.log", failing, None).unwrap();
            assert_eq!(r.is_compressed(), compressed);
            let (records, errors) = drain(&mut r);
            assert_eq!(events_of(&records), events);
            assert_eq!(errors, [(11, true, expected.to_owned())]);
        }
    }
}
