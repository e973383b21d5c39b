//! spamward's event log files: reading and writing them, in three formats, compressed or not.
//!
//! A log is a sequence of [`Event`]s in time order. It is kept in one of three formats:
//!
//! * **JSON Lines** (`.jsonl`, also read as `.json`): one event per line, in the canonical JSON form
//!   of [`Event::write_json`]. It is the interchange format: readable, greppable, what other tools
//!   produce. Blank lines are skipped (but counted, so line numbers stay physical), a trailing `\r`
//!   is stripped, and so is a UTF-8 byte order mark at the start of the file.
//! * **binary** (`.bin`): a 12-byte header, then one length-prefixed, checksummed record per event,
//!   the event encoded with bincode 2. It decodes several times faster than JSON, and every record
//!   is checked, so a damaged file is caught rather than half-read. The byte layout:
//!
//! ```text
//! header (12 bytes, once):
//!   offset 0   8 bytes  magic  89 53 50 57 4C 4F 47 0A   ("\x89SPWLOG\n")
//!   offset 8   u16 LE   format version, currently 1
//!   offset 10  u16 LE   flags, reserved: written as 0, any other value is refused
//! record (8 + N bytes, repeated to the end of the file):
//!   offset 0   u32 LE   payload length N, at most 16 MiB
//!   offset 4   u32 LE   CRC-32 (IEEE 802.3, as crc32fast computes it) of the payload
//!   offset 8   N bytes  payload: the event, bincode 2 with `bincode::config::standard()`
//! ```
//!
//! The [`binary`] module documents the payload encoding and why the magic looks the way it does.
//!
//! * **Parquet** (`.parquet`): one flat table, one row per event, one column per field of the
//!   canonical JSON (`type`, then the union of every event type's fields, null where a type has no
//!   such field), zstd-compressed column chunks in row groups of 64k rows. It is what data lakes
//!   keep message logs in. A row is held to the same contract as a JSON line, and a bad row names
//!   its row number and column. The [`parquet`] module documents the columns and their types.
//!
//! JSON Lines and binary may be compressed with zstd (`.jsonl.zst`, `.bin.zst`); Parquet
//! compresses its columns itself. Readers do not trust the file name: the first bytes decide. A
//! file that starts with `PAR1` is read as Parquet, a zstd frame is decompressed transparently, a
//! stream that starts with the binary magic is read as binary whatever its name, and only when
//! none is the case does the extension matter (`.bin` or `.parquet` then means the file is not
//! what it claims, which is an error; anything else is read as JSON Lines). Parquet keeps its
//! index at the end of the file, so it is read from a file, never from a pipe or inside zstd.
//!
//! [`LogReader`] streams: a log of any size is read through fixed buffers (for Parquet, one row
//! group's columns and one batch of rows at a time) and never held in memory. It distinguishes a
//! bad *record*, which the caller may count and skip ([`ReadError::is_fatal`] is false), from a bad
//! *file* (I/O errors, truncation, checksum mismatches, a broken zstd stream, a damaged Parquet
//! footer or page), after which nothing more can be trusted and iteration ends. [`LogWriter`]
//! writes any format,
//! and [`convert()`] streams one log into another, keeping what it has accepted when it fails.
#![deny(missing_docs)]

pub mod binary;
mod convert;
mod error;
pub mod journal;
pub mod parquet;
mod read;
mod write;

#[cfg(test)]
mod testgen;

use std::fmt;
use std::path::Path;

pub use convert::{
    ConvertError, ConvertErrorKind, ConvertOptions, ConvertStats, WATCH_EVERY, convert,
    convert_stream, convert_watched, convert_with,
};
pub use error::{Error, ErrorKind, Location, ReadError, ReadErrorKind};
pub use read::{DEFAULT_MAX_LINE_BYTES, Decoded, LogReader, Record, decode_line};
pub use spamward_core::Event;
pub use write::LogWriter;

/// The three formats of a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON Lines: one canonical JSON event per line.
    Jsonl,
    /// The binary format: header, then length-prefixed, checksummed bincode records.
    Binary,
    /// Parquet: one row per event, one column per field of the JSON form.
    Parquet,
}

impl Format {
    /// The file extension written for this format, without the dot (`jsonl`, `bin`, `parquet`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Binary => "bin",
            Format::Parquet => "parquet",
        }
    }

    /// What a file name says about a log: its format, if the extension names one (`.jsonl`,
    /// `.json`, `.bin`, `.parquet`, each optionally followed by `.zst`), and whether it ends in
    /// `.zst`.
    /// Case is ignored.
    pub fn from_path(path: &Path) -> (Option<Format>, bool) {
        let Some(name) = path.file_name() else {
            return (None, false);
        };
        let name = name.to_string_lossy().to_ascii_lowercase();
        let (stem, zstd) = match name.strip_suffix(".zst") {
            Some(stem) => (stem, true),
            None => (name.as_str(), false),
        };
        let format = if stem.ends_with(".jsonl") || stem.ends_with(".json") {
            Some(Format::Jsonl)
        } else if stem.ends_with(".bin") {
            Some(Format::Binary)
        } else if stem.ends_with(".parquet") {
            Some(Format::Parquet)
        } else {
            None
        };
        (format, zstd)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Jsonl => "JSON Lines",
            Format::Binary => "binary",
            Format::Parquet => "Parquet",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Readers and writers move to worker threads.
    #[test]
    fn readers_and_writers_are_send() {
        fn send<T: Send>() {}
        send::<LogReader>();
        send::<LogWriter>();
        send::<ReadError>();
        send::<ConvertError>();
    }

    #[test]
    fn formats_from_file_names() {
        let cases: &[(&str, Option<Format>, bool)] = &[
            ("events.jsonl", Some(Format::Jsonl), false),
            ("dir/events.json", Some(Format::Jsonl), false),
            ("events.JSONL.ZST", Some(Format::Jsonl), true),
            ("events.bin", Some(Format::Binary), false),
            ("a.b/events.bin.zst", Some(Format::Binary), true),
            ("events.parquet", Some(Format::Parquet), false),
            ("EVENTS.PARQUET", Some(Format::Parquet), false),
            ("events.txt", None, false),
            ("events.zst", None, true),
            ("bin", None, false),
            ("-", None, false),
        ];
        for (name, format, zstd) in cases {
            assert_eq!(
                Format::from_path(Path::new(name)),
                (*format, *zstd),
                "{name}"
            );
        }
    }
}
