//! The fuzz targets' bodies: one function per target, taking the fuzzer's bytes.
//!
//! Each function feeds the bytes to one of spamward's parsers of outside input and checks what
//! must hold whatever the bytes: no panic, no unbounded work, and the parser's own promise (an
//! accepted event survives writing and reading back, a restored journal opens cleanly a second
//! time, a rejected request body gets a 400 or 413 with a JSON error). libFuzzer drives them
//! from `fuzz_targets/`; the integration tests (`tests/fuzz.rs`) include this file and replay
//! every kept input (`seeds/<target>/`, `regressions/<target>/`) through the same functions.
//!
//! Several targets read their first byte as a mode, so that one input can either be taken as it
//! is or be framed with correct checksums first: random bytes almost never pass a CRC-32, and
//! framing them lets the fuzzer reach the decoders behind the checksums.

use std::io::{Cursor, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use spamward_content::{ContentEngine, LinkScanner, Normalizer, RuleErrorKind, RuleSet};
use spamward_core::{Event, Policy};
use spamward_filter::Filter;
use spamward_log::journal::{Journal, segment_name};
use spamward_log::{Format, LogReader, LogWriter};

/// A target's body: the fuzzer's bytes in, a panic if something that must hold does not.
pub type Target = fn(&[u8]);

/// Every target, by name: the fuzz target and the folders of kept inputs share it.
pub const TARGETS: &[(&str, Target)] = &[
    ("log_reader", log_reader),
    ("policy", policy),
    ("rule_pack", rule_pack),
    ("snapshot", snapshot),
    ("journal", journal),
    ("http_body", http_body),
    ("text", text),
];

/// Splits `data` into records as `[length byte][payload]...` and frames each with its length
/// and correct CRC-32, the binary log's record layout. A last record shorter than its length
/// byte says is framed with its full length and written cut off: a torn tail.
fn framed(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 2);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        let payload = &tail[..len.min(tail.len())];
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        out.extend_from_slice(payload);
        rest = &tail[payload.len()..];
    }
    out
}

/// A writer that can be read back after the log writer that owns it is finished.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_log(events: &[Event], format: Format) -> Vec<u8> {
    let buf = Shared::default();
    let mut w = LogWriter::new(buf.clone(), format, false).unwrap();
    for e in events {
        w.write(e).unwrap();
    }
    w.finish().unwrap();
    buf.0.lock().unwrap().clone()
}

/// Every event a reader yields, and whether it ended on a fatal error.
fn read_log(bytes: Vec<u8>, max_line: Option<usize>) -> (Vec<Event>, bool) {
    let Ok(mut reader) = LogReader::from_reader("fuzz", Cursor::new(bytes), None) else {
        return (Vec::new(), true);
    };
    if let Some(limit) = max_line {
        reader.set_max_line_bytes(limit);
    }
    let mut events = Vec::new();
    let mut fatal = false;
    for item in &mut reader {
        match item {
            Ok(record) => events.push(record.event),
            Err(e) => {
                // A bad record always names its place in the file.
                assert!(e.line() >= 1, "{e}");
                assert!(!e.to_string().is_empty());
                fatal |= e.is_fatal();
            }
        }
    }
    // Once ended (cleanly or on a fatal error), a reader stays ended.
    assert!(reader.next().is_none());
    (events, fatal)
}

/// The log reader, both formats: mode 0 reads the bytes as they are (JSON Lines, a binary log,
/// zstd of either, anything); mode 1 frames them as binary records with correct checksums;
/// mode 2 reads them as JSON Lines with a 64-byte line limit. Every event read must survive
/// writing in each format (binary, JSON Lines, Parquet) and reading back.
pub fn log_reader(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (events, _) = match mode % 3 {
        0 => read_log(rest.to_vec(), None),
        1 => {
            let mut bytes = spamward_log::binary::header().to_vec();
            bytes.extend_from_slice(&framed(rest));
            read_log(bytes, None)
        }
        _ => read_log(rest.to_vec(), Some(64)),
    };
    for format in [Format::Binary, Format::Jsonl] {
        let (back, fatal) = read_log(write_log(&events, format), None);
        assert!(!fatal, "a log spamward wrote does not read back ({format})");
        assert_eq!(back, events, "events changed through {format}");
    }
    if !events.is_empty() {
        assert_eq!(
            parquet_round_trip(&events),
            events,
            "events changed through Parquet"
        );
    }
}

/// Writes `events` as a Parquet log and reads them back: a Parquet log is read from its file (its
/// index is at its end), so the bytes go through a temporary one.
fn parquet_round_trip(events: &[Event]) -> Vec<Event> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    std::fs::write(&path, write_log(events, Format::Parquet)).unwrap();
    let mut reader = LogReader::open(&path).expect("a Parquet log spamward wrote opens");
    let back: Vec<Event> = (&mut reader)
        .map(|r| r.expect("a Parquet log spamward wrote reads back").event)
        .collect();
    assert!(reader.next().is_none());
    back
}

/// The policy loader: any text is either refused with a message saying what is wrong (no key
/// named for a text that is not TOML), or gives a policy; a TOML text that sets nothing gives
/// the shipped policy. (The loader validates what it gives, so validating it again here would
/// check nothing.)
pub fn policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let sets_nothing = text.parse::<toml::Table>().ok().map(|t| t.is_empty());
    match Policy::from_toml_overlay(&text) {
        Ok(p) => {
            if sets_nothing == Some(true) {
                assert_eq!(p, Policy::default(), "{text:?} set nothing");
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            if sets_nothing.is_none() {
                assert!(e.path().is_empty(), "{text:?} is not TOML, yet {e}");
            }
        }
    }
}

/// A text to run rule sets over: a bit of everything they match on.
const SAMPLE: &str = "URGENT!! Your acc0unt is l0cked, verify at http://paypa1-login.example/x \
                      or call 0800 123 456. Free prize, reply STOP to opt out.";

/// The rule-pack loader: any pack text is refused (naming the pack) or compiles within the
/// size limits, and the compiled set scans a text.
pub fn rule_pack(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut builder = RuleSet::builder();
    // Small limits, so a pathological regex is refused quickly rather than compiled slowly.
    builder
        .max_rules(64)
        .regex_size_limit(64 << 10)
        .set_size_limit(1 << 20);
    match builder.pack("fuzz.toml", &text) {
        // Every mistake of one rule is the pack's to refuse; building fails only on what no
        // single rule decides, the compiled set's size.
        Ok(_) => match builder.build() {
            Ok(set) => {
                assert!(set.len() <= 64);
                assert!(set.scan_text(SAMPLE).len() <= set.len());
            }
            Err(e) => assert!(
                matches!(e.kind(), RuleErrorKind::SetTooBig(_)),
                "a pack that loaded failed to build: {e}"
            ),
        },
        Err(e) => assert_eq!(e.pack(), "fuzz.toml"),
    }
}

/// The snapshot loader: mode 0 takes the bytes as the whole file; mode 1 puts them behind a
/// correct header and checksum, so they reach the decoder. A snapshot that loads must encode
/// to one that loads with the same counts and businesses.
pub fn snapshot(data: &[u8]) {
    use spamward_filter::durable::{
        SNAPSHOT_HEADER_LEN, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, decode_snapshot, encode_snapshot,
    };
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut b = Vec::with_capacity(SNAPSHOT_HEADER_LEN + rest.len());
        b.extend_from_slice(&SNAPSHOT_MAGIC);
        b.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        b.extend_from_slice(&crc32fast::hash(rest).to_le_bytes());
        b.extend_from_slice(rest);
        b
    };
    let mut builder = Filter::builder();
    builder.content(None);
    if let Ok((filter, applied)) = decode_snapshot(&bytes, &builder) {
        let again = encode_snapshot(&filter, applied);
        let (filter2, applied2) = decode_snapshot(&again, &builder).expect("re-encoded loads");
        assert_eq!(applied2, applied);
        assert_eq!(filter2.counts(), filter.counts());
        assert_eq!(filter2.businesses(), filter.businesses());
        // The same content, though not necessarily the same bytes: a hash map rebuilt from a
        // snapshot may iterate in another order.
        assert_eq!(encode_snapshot(&filter2, applied2).len(), again.len());
    }
}

/// A directory of its own for the journal target, made once per process.
fn journal_dir() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
        .path()
        .join("state")
}

/// The journal loader on one segment: mode 0 takes the bytes as the segment file; mode 1
/// frames them as records behind the header (valid ones, then a torn or corrupt tail). Opening
/// replays events numbered from 0 without a gap and cuts any bad tail; a second open then finds
/// exactly the same events and nothing to cut, and an event appended after it is kept.
pub fn journal(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let dir = journal_dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut b = spamward_log::binary::header().to_vec();
        b.extend_from_slice(&framed(rest));
        b
    };
    std::fs::write(dir.join(segment_name(0)), &bytes).unwrap();
    let mut first = Vec::new();
    let Ok((mut j, opened)) = Journal::open(&dir, 0, |n, ev| {
        assert_eq!(n, first.len() as u64, "events numbered without a gap");
        first.push(ev);
    }) else {
        // Refused whole (a wrong header): fine, as long as it said so.
        return;
    };
    assert_eq!(opened.end, first.len() as u64);
    let extra = first.first().cloned();
    if let Some(ev) = &extra {
        j.append(ev).unwrap();
        j.commit().unwrap();
    }
    drop(j);
    let mut second = Vec::new();
    let (_, reopened) = Journal::open(&dir, 0, |_, ev| second.push(ev)).expect("reopens");
    assert!(reopened.cut.is_none(), "{:?}", reopened.cut);
    first.extend(extra);
    assert_eq!(second, first);
}

/// The body decoder of `POST /v1/check` and `POST /v1/events`: the first byte picks the route
/// and the batch limit (1 to 8). A body is taken whole, with no more events than the limit
/// (an empty array holds none) and each of the route's kind, or refused with 400 or 413 and a
/// JSON error.
pub fn http_body(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let check = mode & 1 == 0;
    let max_batch = usize::from(mode >> 1 & 7) + 1;
    match spamward_filter::server::decode_body(body, check, max_batch) {
        Ok(events) => {
            // An empty array is a valid batch of none.
            assert!(events.len() <= max_batch);
            for ev in &events {
                assert_eq!(matches!(ev, Event::Message(_)), check, "{ev:?}");
            }
        }
        Err((status, error)) => {
            assert!(status == 400 || status == 413, "{status}: {error}");
            assert!(error.starts_with("{\"error\":"), "{error}");
        }
    }
}

/// The content engine with the shipped rules, brands and model, built once.
fn engine() -> &'static ContentEngine {
    static ENGINE: OnceLock<ContentEngine> = OnceLock::new();
    ENGINE.get_or_init(ContentEngine::default)
}

/// The normaliser, the link extractor and the whole content analysis on any text: no panic,
/// an obfuscation score in 0..=1, a normal form without stray spaces, spans on the text's own
/// character boundaries.
pub fn text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let n = Normalizer::new().normalize(&text);
    assert!((0.0..=1.0).contains(&n.obfuscation.score), "{text:?}");
    // Whichever path the text took (ASCII bytes, bytes with placeholders, characters), it
    // normalises as through the full one, which a zero-width space after it forces.
    let full = Normalizer::new().normalize(&format!("{text} \u{200b}"));
    assert_eq!(n.text, full.text, "{text:?}");
    let mut counts = full.obfuscation.clone();
    counts.zero_width -= 1;
    counts.score = n.obfuscation.score;
    assert_eq!(n.obfuscation, counts, "{text:?}");
    // The scores differ by that one zero-width character alone: by the documented formula
    // (`1 - exp(-load)`, 0.5 a zero-width), 1 - score grows by a factor of e^0.5 without it.
    let expected = 1.0 - (1.0 - full.obfuscation.score) * 0.5f64.exp();
    assert!(
        (n.obfuscation.score - expected).abs() < 1e-9,
        "{text:?}: score {} on its own path, {} on the full one",
        n.obfuscation.score,
        full.obfuscation.score
    );
    assert!(
        !n.text.starts_with(' ') && !n.text.ends_with(' ') && !n.text.contains("  "),
        "{text:?} -> {:?}",
        n.text
    );
    let scanner: &LinkScanner = engine().links();
    let (links, phones) = scanner.scan(&text);
    for l in &links {
        assert!(text.get(l.span.clone()).is_some(), "{text:?}: {:?}", l.span);
    }
    for p in &phones {
        assert!(text.get(p.span.clone()).is_some(), "{text:?}: {:?}", p.span);
    }
    let a = engine().analyze(&text);
    assert!(a.rule_score().is_finite());
}
