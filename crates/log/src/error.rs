//! Errors of log files, in two kinds because callers treat them differently.
//!
//! [`Error`] is about a whole file: it could not be opened or created, it is not a log this build
//! can read, or writing to it failed. It always names the file. [`ReadError`] is about one place in
//! a log being read: it names the file, the line (JSON Lines), record (binary) or row (Parquet) and,
//! when one is to blame, the field (for Parquet, the column), and says whether reading may go on past it ([`ReadError::is_fatal`]).

use std::fmt;
use std::io;
use std::sync::Arc;

use spamward_core::DecodeError;

use crate::binary::{MAX_RECORD_BYTES, VERSION};

/// An error about a log file as a whole: opening, recognising, creating or writing it.
#[derive(Debug)]
pub struct Error {
    name: String,
    kind: ErrorKind,
}

/// The class of an [`Error`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be opened for reading.
    Open(io::Error),
    /// The file could not be created.
    Create(io::Error),
    /// Reading the start of the file failed.
    Read(io::Error),
    /// The file starts like a zstd frame but does not decompress.
    Zstd(io::Error),
    /// Writing (or flushing, or ending the zstd frame) failed.
    Write(io::Error),
    /// The output file name does not say which format to write.
    UnknownOutputFormat,
    /// The file should be a binary log but does not start with the magic.
    BadMagic,
    /// A binary log shorter than its own header (possibly empty).
    TruncatedHeader {
        /// How many header bytes the file has.
        got: usize,
    },
    /// A binary log of a format version this build cannot read.
    UnsupportedVersion(u16),
    /// A binary log with reserved header flags set.
    UnsupportedFlags(u16),
    /// The file should be a Parquet log but does not start with `PAR1`.
    NotParquet,
    /// A Parquet log that is not a plain file (a pipe, or zstd-compressed): its index is at its end,
    /// so it cannot be streamed.
    ParquetStream {
        /// Whether it was found inside a zstd frame.
        zstd: bool,
    },
    /// A Parquet file whose footer or schema cannot be read.
    Parquet(String),
    /// An event whose binary encoding exceeds the record size limit.
    RecordTooLarge {
        /// Its encoded size in bytes.
        bytes: usize,
    },
}

impl Error {
    pub(crate) fn new(name: impl Into<String>, kind: ErrorKind) -> Error {
        Error {
            name: name.into(),
            kind,
        }
    }

    /// The file (or stream) the error is about.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match &self.kind {
            ErrorKind::Open(e) => write!(f, "cannot open {name}: {e}"),
            ErrorKind::Create(e) => write!(f, "cannot create {name}: {e}"),
            ErrorKind::Read(e) => write!(f, "{name}: read error: {e}"),
            ErrorKind::Zstd(e) => write!(f, "{name}: {}", ZstdMessage(e)),
            ErrorKind::Write(e) => write!(f, "{name}: write error: {e}"),
            ErrorKind::UnknownOutputFormat => write!(
                f,
                "{name}: cannot tell the output format from the file name; \
                 use .jsonl, .bin, .jsonl.zst, .bin.zst or .parquet"
            ),
            ErrorKind::NotParquet => write!(f, "{name}: not a Parquet file (no PAR1 magic)"),
            ErrorKind::ParquetStream { zstd: true } => write!(
                f,
                "{name}: a zstd-compressed Parquet file; decompress it first \
                 (Parquet compresses its columns itself)"
            ),
            ErrorKind::ParquetStream { zstd: false } => write!(
                f,
                "{name}: a Parquet log must be read from a file: its index is at its end"
            ),
            ErrorKind::Parquet(why) => write!(f, "{name}: unreadable Parquet file: {why}"),
            ErrorKind::BadMagic => write!(f, "{name}: not a spamward binary log (bad magic)"),
            ErrorKind::TruncatedHeader { got: 0 } => write!(
                f,
                "{name}: not a spamward binary log (empty file; expected a 12-byte header)"
            ),
            ErrorKind::TruncatedHeader { got } => write!(
                f,
                "{name}: truncated binary log: the header is cut off after {got} of 12 bytes"
            ),
            ErrorKind::UnsupportedVersion(v) if *v > VERSION => write!(
                f,
                "{name}: binary log format version {v} is newer than this build supports \
                 ({VERSION}); upgrade spamward"
            ),
            ErrorKind::UnsupportedVersion(v) => {
                write!(f, "{name}: binary log format version {v} does not exist")
            }
            ErrorKind::UnsupportedFlags(flags) => write!(
                f,
                "{name}: binary log header has unknown flags {flags:#06x}; \
                 it was written by a newer spamward"
            ),
            ErrorKind::RecordTooLarge { bytes } => write!(
                f,
                "{name}: an event encodes to {bytes} bytes, more than the {MAX_RECORD_BYTES}-byte \
                 record limit"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Open(e)
            | ErrorKind::Create(e)
            | ErrorKind::Read(e)
            | ErrorKind::Zstd(e)
            | ErrorKind::Write(e) => Some(e),
            _ => None,
        }
    }
}

/// Where in a log a [`ReadError`] happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// 1-based physical line of a JSON Lines log.
    Line(u64),
    /// 1-based record number of a binary log.
    Record(u64),
    /// 1-based row number of a Parquet log.
    Row(u64),
}

/// An error at one place in a log being read.
#[derive(Debug)]
pub struct ReadError {
    file: Arc<str>,
    location: Location,
    fatal: bool,
    kind: ReadErrorKind,
}

/// The class of a [`ReadError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadErrorKind {
    /// A JSON line or Parquet row that is not a valid event (malformed, unknown type, missing field,
    /// bad value; for Parquet also a column of the wrong type). Not fatal.
    Decode(DecodeError),
    /// A line longer than the reader's limit; it was skipped without being held in memory.
    /// Not fatal.
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
        /// The line's length in bytes, without its newline.
        length: u64,
    },
    /// A line that is not valid UTF-8. Not fatal.
    InvalidUtf8 {
        /// Byte offset in the line of the first invalid sequence.
        offset: usize,
    },
    /// Reading the file failed. Fatal.
    Io(io::Error),
    /// The compressed stream is damaged or cut off. Fatal.
    Zstd(io::Error),
    /// The binary log ends in the middle of a record. Fatal.
    Truncated {
        /// Bytes of the record present.
        got: u64,
        /// Bytes the record should have: its frame and payload, or just the 8-byte frame when
        /// the cut is inside the frame.
        expected: u64,
    },
    /// A binary record fails its checksum, claims an impossible length, or does not decode; or a
    /// Parquet page does not decode. Fatal.
    Corrupt(String),
}

impl ReadError {
    pub(crate) fn new(
        file: &Arc<str>,
        location: Location,
        fatal: bool,
        kind: ReadErrorKind,
    ) -> ReadError {
        ReadError {
            file: Arc::clone(file),
            location,
            fatal,
            kind,
        }
    }

    /// The file (or stream) being read.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line or record the error is about.
    pub fn location(&self) -> Location {
        self.location
    }

    /// The 1-based line (JSON Lines), record number (binary) or row number (Parquet).
    pub fn line(&self) -> u64 {
        match self.location {
            Location::Line(n) | Location::Record(n) | Location::Row(n) => n,
        }
    }

    /// The field at fault (for Parquet, the column), when the error is about one.
    pub fn field(&self) -> Option<&str> {
        match &self.kind {
            ReadErrorKind::Decode(e) => e.field(),
            _ => None,
        }
    }

    /// Whether reading must stop here. A non-fatal error spoils one line, which the reader has
    /// already skipped; after a fatal one the reader yields nothing more.
    pub fn is_fatal(&self) -> bool {
        self.fatal
    }

    /// What went wrong.
    pub fn kind(&self) -> &ReadErrorKind {
        &self.kind
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = &self.file;
        let n = self.line();
        // Two kinds read better with the record number inside the sentence.
        match (&self.kind, self.location) {
            (ReadErrorKind::Truncated { got, expected }, Location::Record(_)) => {
                let what = if *expected == 8 { " frame" } else { "" };
                return write!(
                    f,
                    "{file}: truncated: record {n} is cut off after {got} of {expected}{what} bytes"
                );
            }
            (ReadErrorKind::Corrupt(why), Location::Record(_)) => {
                return write!(f, "{file}: corrupt record {n}: {why}");
            }
            (_, Location::Line(_)) => write!(f, "{file}:{n}: ")?,
            (_, Location::Record(_)) => write!(f, "{file}: record {n}: ")?,
            (_, Location::Row(_)) => write!(f, "{file}: row {n}: ")?,
        }
        write!(f, "{}", self.kind)
    }
}

/// What went wrong, without where: the text after a [`ReadError`]'s location (the pipe filter's
/// error records carry it as it is).
impl fmt::Display for ReadErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadErrorKind::Decode(e) => write!(f, "{e}"),
            ReadErrorKind::LineTooLong { limit, length } => write!(
                f,
                "line of {length} bytes is longer than the limit of {limit} bytes; skipped"
            ),
            ReadErrorKind::InvalidUtf8 { offset } => {
                write!(f, "invalid UTF-8 at byte {offset} of the line")
            }
            ReadErrorKind::Io(e) => write!(f, "read error: {e}"),
            ReadErrorKind::Zstd(e) => write!(f, "{}", ZstdMessage(e)),
            ReadErrorKind::Truncated { got, expected } => {
                write!(f, "truncated after {got} of {expected} bytes")
            }
            ReadErrorKind::Corrupt(why) => write!(f, "corrupt: {why}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ReadErrorKind::Decode(e) => Some(e),
            ReadErrorKind::Io(e) | ReadErrorKind::Zstd(e) => Some(e),
            _ => None,
        }
    }
}

/// Words for a decompression error: a cut-off stream is by far the most common, so say so.
struct ZstdMessage<'a>(&'a io::Error);

impl fmt::Display for ZstdMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.kind() == io::ErrorKind::UnexpectedEof {
            write!(f, "truncated zstd stream ({})", self.0)
        } else {
            write!(f, "damaged zstd stream: {}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_place_and_field() {
        let file: Arc<str> = Arc::from("events.jsonl");
        let bad_ts = spamward_core::Event::from_json(
            br#"{"type":"feedback","ts":"x","business":"b","recipient":"r","kind":"read"}"#,
        )
        .unwrap_err();
        let e = ReadError::new(
            &file,
            Location::Line(17),
            false,
            ReadErrorKind::Decode(bad_ts),
        );
        assert!(
            e.to_string()
                .starts_with("events.jsonl:17: field `ts`: bad timestamp: "),
            "{e}"
        );
        assert_eq!(e.field(), Some("ts"));
        assert_eq!(e.line(), 17);

        let file: Arc<str> = Arc::from("events.bin");
        let e = ReadError::new(
            &file,
            Location::Record(4),
            true,
            ReadErrorKind::Truncated {
                got: 20,
                expected: 131,
            },
        );
        assert_eq!(
            e.to_string(),
            "events.bin: truncated: record 4 is cut off after 20 of 131 bytes"
        );
        let e = ReadError::new(
            &file,
            Location::Record(4),
            true,
            ReadErrorKind::Io(io::Error::other("disk on fire")),
        );
        assert_eq!(
            e.to_string(),
            "events.bin: record 4: read error: disk on fire"
        );
    }

    #[test]
    fn file_errors_explain_themselves() {
        let e = Error::new("x.bin", ErrorKind::UnsupportedVersion(2));
        assert_eq!(
            e.to_string(),
            "x.bin: binary log format version 2 is newer than this build supports (1); \
             upgrade spamward"
        );
        let e = Error::new("out.txt", ErrorKind::UnknownOutputFormat);
        assert!(
            e.to_string()
                .contains(".jsonl, .bin, .jsonl.zst, .bin.zst or .parquet")
        );
    }
}
