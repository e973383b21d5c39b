//! The binary log format: constants, the header, and one record's framing.
//!
//! ```text
//! header (12 bytes, once):
//!   offset 0   8 bytes  magic  89 53 50 57 4C 4F 47 0A   ("\x89SPWLOG\n")
//!   offset 8   u16 LE   format version (VERSION, currently 1)
//!   offset 10  u16 LE   flags, reserved: written as 0, any other value is refused
//! record (8 + N bytes, repeated to the end of the file):
//!   offset 0   u32 LE   payload length N, 0 < N <= MAX_RECORD_BYTES (16 MiB)
//!   offset 4   u32 LE   CRC-32 (IEEE 802.3, as crc32fast computes it) of the N payload bytes
//!   offset 8   N bytes  payload: one event, bincode 2, `bincode::config::standard()`
//! ```
//!
//! The magic is built like PNG's: the first byte has its high bit set, so a file squeezed through a
//! 7-bit channel is caught, and it ends in `\n`, so line-ending conversion is caught too. It can
//! never start a JSON Lines file, which is what lets readers trust the header over the file name.
//! The version is checked on open: a reader refuses a newer version rather than misreading it.
//!
//! The payload is the [`Event`]'s own bincode 2 encoding (`Encode`/`Decode` derived in the core,
//! not serde), with the standard configuration: little-endian, variable-length integers (a value
//! below 251 is one byte; larger ones are a tag byte 251/252/253 followed by 2/4/8 bytes), enum
//! variants as their index in declaration order, strings as a length and UTF-8 bytes, `Option` as a
//! 0/1 byte and the value. Reordering the core's enums or fields therefore changes the format and
//! must bump [`VERSION`].
//!
//! There is no index and no footer: a log is written strictly front to back, so a writer that dies
//! leaves a file whose complete records are all still readable, and the reader reports exactly where
//! the cut is. A record length above [`MAX_RECORD_BYTES`] is treated as corruption rather than
//! honoured, so a damaged length can never make the reader allocate gigabytes.

use bincode::config::{self, Configuration, Limit};
use spamward_core::Event;

/// The first 8 bytes of every binary log.
pub const MAGIC: [u8; 8] = *b"\x89SPWLOG\n";

/// The format version this build writes and the newest it reads.
pub const VERSION: u16 = 1;

/// Length of the file header: magic, version, flags.
pub const HEADER_LEN: usize = 12;

/// Length of a record's frame before the payload: length and CRC-32.
pub const RECORD_HEADER_LEN: usize = 8;

/// The largest payload a record may have (16 MiB). A larger length is corruption.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// The configuration for decoding: `standard()`, plus a cap on what one record may claim, so a
/// corrupted string length fails instead of allocating. The cap does not change the encoding.
const DECODE_CONFIG: Configuration<config::LittleEndian, config::Varint, Limit<MAX_RECORD_BYTES>> =
    config::standard().with_limit::<MAX_RECORD_BYTES>();

/// The header this build writes.
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    // Flags (bytes 10..12) stay zero.
    h
}

/// Why a header was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderProblem {
    /// Version 0, or one newer than [`VERSION`].
    Version(u16),
    /// Reserved flags set.
    Flags(u16),
}

/// Checks a header that is known to start with [`MAGIC`].
pub(crate) fn check_header(h: &[u8; HEADER_LEN]) -> Result<(), HeaderProblem> {
    let version = u16::from_le_bytes([h[8], h[9]]);
    let flags = u16::from_le_bytes([h[10], h[11]]);
    if version == 0 || version > VERSION {
        return Err(HeaderProblem::Version(version));
    }
    if flags != 0 {
        return Err(HeaderProblem::Flags(flags));
    }
    Ok(())
}

/// Splits a record frame into (payload length, stored CRC-32).
pub(crate) fn frame(h: &[u8; RECORD_HEADER_LEN]) -> (usize, u32) {
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    (len as usize, crc)
}

/// Appends one complete record (frame and payload) for `event` to `out`. Fails only when the
/// event's encoding is larger than [`MAX_RECORD_BYTES`]; `out` is then left as it was.
pub(crate) fn encode_record(event: &Event, out: &mut Vec<u8>) -> Result<(), usize> {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER_LEN]);
    bincode::encode_into_writer(event, VecSink(out), config::standard())
        .expect("encoding into memory cannot fail");
    let payload = &out[start + RECORD_HEADER_LEN..];
    let len = payload.len();
    if len > MAX_RECORD_BYTES {
        out.truncate(start);
        return Err(len);
    }
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Checks and decodes one payload. The error says what is wrong with it.
pub(crate) fn decode_payload(payload: &[u8], stored_crc: u32) -> Result<Event, String> {
    let crc = crc32fast::hash(payload);
    if crc != stored_crc {
        return Err(format!(
            "CRC-32 mismatch (stored {stored_crc:08x}, computed {crc:08x})"
        ));
    }
    match bincode::decode_from_slice::<Event, _>(payload, DECODE_CONFIG) {
        Ok((event, used)) if used == payload.len() => {
            // The binary log carries the same events as JSON Lines, so a record that breaks the
            // contract is corrupt; read as data, it would make a log that converts to JSON Lines
            // that no reader accepts.
            event.check_contract().map_err(|e| e.to_string())?;
            Ok(event)
        }
        Ok((_, used)) => Err(format!(
            "{} bytes left over after the event",
            payload.len() - used
        )),
        Err(e) => Err(format!("undecodable payload: {e}")),
    }
}

/// Lets bincode append to a `Vec` without going through `io::Write`.
struct VecSink<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for VecSink<'_> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spamward_core::{Feedback, FeedbackKind, Timestamp};

    fn feedback() -> Event {
        Event::Feedback(Feedback {
            ts: Timestamp::from_millis(1_764_000_060_000),
            business: "b-17".into(),
            recipient: "r-9".into(),
            kind: FeedbackKind::OptOut,
            message: None,
        })
    }

    #[test]
    fn header_layout() {
        assert_eq!(
            header(),
            [0x89, b'S', b'P', b'W', b'L', b'O', b'G', b'\n', 1, 0, 0, 0]
        );
        assert_eq!(check_header(&header()), Ok(()));
        let mut h = header();
        h[8] = 2;
        assert_eq!(check_header(&h), Err(HeaderProblem::Version(2)));
        h[8] = 0;
        assert_eq!(check_header(&h), Err(HeaderProblem::Version(0)));
        let mut h = header();
        h[11] = 0x80;
        assert_eq!(check_header(&h), Err(HeaderProblem::Flags(0x8000)));
    }

    /// Pins the wire format of one record: a change here breaks every binary log ever written.
    #[test]
    fn record_bytes_are_stable() {
        let mut out = Vec::new();
        encode_record(&feedback(), &mut out).unwrap();
        let payload: &[u8] = &[
            1, // variant: Feedback
            253, 0x60, 0xD2, 0x98, 0xB6, 0x9A, 0x01, 0, 0, // ts: u64 tag + 8 bytes LE
            4, b'b', b'-', b'1', b'7', // business
            3, b'r', b'-', b'9', // recipient
            2,    // kind: OptOut
            0,    // message: None
        ];
        assert_eq!(&out[8..], payload);
        assert_eq!(out[..4], (payload.len() as u32).to_le_bytes());
        assert_eq!(out[4..8], crc32fast::hash(payload).to_le_bytes());
        let (len, crc) = frame(out[..8].try_into().unwrap());
        assert_eq!(decode_payload(&out[8..8 + len], crc), Ok(feedback()));
    }

    /// A record with a good checksum whose event breaks the JSON Lines contract is corrupt.
    #[test]
    fn events_outside_the_contract_are_refused() {
        let early = Event::Feedback(Feedback {
            ts: Timestamp::from_millis(1),
            ..match feedback() {
                Event::Feedback(f) => f,
                _ => unreachable!(),
            }
        });
        let nameless = Event::Feedback(Feedback {
            business: String::new(),
            ..match feedback() {
                Event::Feedback(f) => f,
                _ => unreachable!(),
            }
        });
        for (event, want) in [
            (early, "field `ts`: bad timestamp: 1 is outside"),
            (nameless, "field `business`: empty id"),
        ] {
            let mut out = Vec::new();
            encode_record(&event, &mut out).unwrap();
            let (len, crc) = frame(out[..8].try_into().unwrap());
            let err = decode_payload(&out[8..8 + len], crc).unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
    }

    #[test]
    fn damaged_payloads_are_refused() {
        let mut out = Vec::new();
        encode_record(&feedback(), &mut out).unwrap();
        let (_, crc) = frame(out[..8].try_into().unwrap());
        let payload = &out[8..];
        let mut flipped = payload.to_vec();
        flipped[5] ^= 0x10;
        assert!(
            decode_payload(&flipped, crc)
                .unwrap_err()
                .contains("CRC-32 mismatch")
        );

        // A checksum that matches bytes which are not an event.
        let junk = [9u8, 1, 2, 3];
        let err = decode_payload(&junk, crc32fast::hash(&junk)).unwrap_err();
        assert!(err.contains("undecodable"), "{err}");

        // Extra bytes after a valid event.
        let mut long = payload.to_vec();
        long.push(0);
        let err = decode_payload(&long, crc32fast::hash(&long)).unwrap_err();
        assert!(err.contains("1 bytes left over"), "{err}");

        // A string claiming 2^40 bytes fails without trying to allocate them.
        let huge = [
            1u8, 253, 0x60, 0xD2, 0x98, 0xB6, 0x9A, 1, 0, 0, 253, 0, 0, 0, 0, 0, 1, 0, 0,
        ];
        let err = decode_payload(&huge, crc32fast::hash(&huge)).unwrap_err();
        assert!(err.contains("undecodable"), "{err}");
    }
}
