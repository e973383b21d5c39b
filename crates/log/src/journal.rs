//! The write-ahead journal: every accepted event, durable before anything is said about it.
//!
//! A journal is a directory of segments, `journal-<start>.bin`, where `<start>` is the number of
//! events applied before the segment's first record, zero-padded to 20 digits so that names sort
//! in event order. Each segment is a binary log (see [`crate::binary`]): the same header, the
//! same length- and CRC-32-framed bincode records. A segment can be read with [`crate::LogReader`]
//! like any other binary log.
//!
//! Writing is in two steps. [`Journal::append`] encodes an event into memory; [`Journal::commit`]
//! writes everything appended since the last commit and waits for it to reach the disk
//! (`fdatasync`). The caller decides how often to pay for the sync: once per batch of events is
//! the usual choice, and nothing about an event may be acknowledged before the commit that
//! covers it returns.
//!
//! Opening reads every complete record of every segment, in order, and hands the caller those
//! from a given event on. A crash leaves at most the last segment with a torn record at its end,
//! so damage there (a short frame, a short payload, a bad length, a CRC-32 mismatch, a payload
//! that does not decode) is reported — which file, at which byte offset, why — and cut: the file
//! is truncated to the end of its last good record, and nothing after it is ever loaded as data.
//! Damage in an earlier segment cannot come from a crash; the journal refuses to open and names
//! the file. So does a gap between segments, or a journal that does not reach back to the event
//! the caller needs.
//!
//! New segments are started with [`Journal::rotate`] (a snapshot was taken: later events go into a
//! fresh segment) and old ones dropped with [`Journal::remove_before`]. A segment is created
//! under a temporary name with its header written and synced, then renamed into place and the
//! directory synced, so a segment that exists always has a whole header.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use spamward_core::Event;

use crate::binary::{self, HEADER_LEN, MAGIC, MAX_RECORD_BYTES, RECORD_HEADER_LEN};

/// What went wrong with a journal.
#[derive(Debug)]
pub struct JournalError {
    kind: JournalErrorKind,
    path: PathBuf,
    detail: String,
}

/// The kinds of [`JournalError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JournalErrorKind {
    /// Reading, writing, syncing, renaming or listing failed.
    Io,
    /// A segment other than the last is damaged, or a segment has a header this build refuses.
    Corrupt,
    /// Segments do not follow each other, or the journal does not reach the event asked for.
    Gap,
    /// An event too large for one record.
    TooLarge,
    /// An earlier commit failed; the journal takes nothing more.
    Failed,
}

impl JournalError {
    fn new(kind: JournalErrorKind, path: &Path, detail: impl Into<String>) -> JournalError {
        JournalError {
            kind,
            path: path.to_owned(),
            detail: detail.into(),
        }
    }

    fn io(path: &Path, what: &str, e: io::Error) -> JournalError {
        JournalError::new(JournalErrorKind::Io, path, format!("{what}: {e}"))
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> JournalErrorKind {
        self.kind
    }

    /// The file or directory concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What is wrong, without the path.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for JournalError {}

/// A torn or corrupt tail found in the last segment on open, and cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The segment.
    pub path: PathBuf,
    /// Byte offset of the first bad byte: the file now ends here.
    pub offset: u64,
    /// Bytes dropped.
    pub dropped: u64,
    /// What was wrong.
    pub why: String,
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: damaged tail at byte {} ({}); cut {} bytes, the journal resumes after the last \
             good record",
            self.path.display(),
            self.offset,
            self.why,
            self.dropped
        )
    }
}

/// What [`Journal::open`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// Events in the journal, counted from the first event ever (the end of the last segment).
    pub end: u64,
    /// Events handed to the caller (those from `from` on).
    pub replayed: u64,
    /// The first event the journal holds (the start of its first segment).
    pub start: u64,
    /// The torn or corrupt tail cut from the last segment, if there was one.
    pub cut: Option<Cut>,
}

/// An open journal, appending to its last segment.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    /// Segment starts, ascending; the last is being written.
    segments: Vec<u64>,
    file: File,
    /// Records appended and not yet committed.
    buf: Vec<u8>,
    /// Events appended, counted from the first event ever.
    next: u64,
    /// Events committed.
    committed: u64,
    failed: bool,
}

/// The file name of the segment starting at event `start`.
pub fn segment_name(start: u64) -> String {
    format!("journal-{start:020}.bin")
}

/// The event count in a name `<prefix><digits><suffix>`, if `name` is one.
pub fn parse_numbered(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Files `<prefix><digits><suffix>` in `dir`, with their numbers, ascending.
pub fn list_numbered(dir: &Path, prefix: &str, suffix: &str) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(n) = entry
            .file_name()
            .to_str()
            .and_then(|name| parse_numbered(name, prefix, suffix))
        {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Syncs a directory, so that files created, renamed or removed in it stay so after a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Journal {
    /// Opens the journal in `dir` (created if missing), calling `each(n, event)` for every event
    /// `n >= from` in order, and positions it to append after the last good record.
    ///
    /// `from` is where the caller's state stands (the event count of its snapshot, 0 without
    /// one): the journal must reach back to it and forward to at least it. An empty directory is
    /// a journal starting at `from`.
    pub fn open(
        dir: &Path,
        from: u64,
        mut each: impl FnMut(u64, Event),
    ) -> Result<(Journal, Opened), JournalError> {
        fs::create_dir_all(dir).map_err(|e| JournalError::io(dir, "cannot create", e))?;
        remove_temporaries(dir)?;
        let listed = list_numbered(dir, "journal-", ".bin")
            .map_err(|e| JournalError::io(dir, "cannot list", e))?;
        let mut opened = Opened {
            start: listed.first().map_or(from, |s| s.0),
            ..Opened::default()
        };
        if opened.start > from {
            return Err(JournalError::new(
                JournalErrorKind::Gap,
                &listed[0].1,
                format!(
                    "the journal starts at event {}, but events from {from} on are needed",
                    opened.start
                ),
            ));
        }
        let mut expected = opened.start;
        for (i, (start, path)) in listed.iter().enumerate() {
            if *start != expected {
                return Err(JournalError::new(
                    JournalErrorKind::Gap,
                    path,
                    format!(
                        "the segment starts at event {start}, but the one before it ends at \
                         event {expected}"
                    ),
                ));
            }
            let last = i + 1 == listed.len();
            let scan = scan(path, *start, from, &mut each, &mut opened.replayed)?;
            expected = start + scan.count;
            if let Some((offset, why)) = scan.damage {
                if !last {
                    return Err(JournalError::new(
                        JournalErrorKind::Corrupt,
                        path,
                        format!(
                            "damaged at byte {offset} ({why}), and it is not the last segment: \
                             refusing to start"
                        ),
                    ));
                }
                opened.cut = Some(cut(path, offset, scan.size, why)?);
            }
        }
        opened.end = expected;
        if opened.end < from {
            let path = listed.last().map_or(dir, |s| &s.1);
            return Err(JournalError::new(
                JournalErrorKind::Gap,
                path,
                format!(
                    "the journal ends at event {}, but the state it continues is at event {from}",
                    opened.end
                ),
            ));
        }
        let mut segments: Vec<u64> = listed.iter().map(|s| s.0).collect();
        let file = match listed.last() {
            Some((_, path)) => OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| JournalError::io(path, "cannot open for appending", e))?,
            None => {
                segments.push(from);
                create_segment(dir, from)?
            }
        };
        let journal = Journal {
            dir: dir.to_owned(),
            segments,
            file,
            buf: Vec::with_capacity(1 << 20),
            next: opened.end,
            committed: opened.end,
            failed: false,
        };
        Ok((journal, opened))
    }

    /// Encodes `event` into the pending batch. Nothing reaches the disk before [`commit`].
    ///
    /// [`commit`]: Journal::commit
    pub fn append(&mut self, event: &Event) -> Result<(), JournalError> {
        if self.failed {
            return Err(self.failed_error());
        }
        binary::encode_record(event, &mut self.buf).map_err(|len| {
            JournalError::new(
                JournalErrorKind::TooLarge,
                &self.current_path(),
                format!(
                    "an event of {len} bytes is larger than a record may be ({MAX_RECORD_BYTES})"
                ),
            )
        })?;
        self.next += 1;
        Ok(())
    }

    /// Writes the pending batch and waits for it to reach the disk (`fdatasync`). When it
    /// returns `Ok`, every event appended so far survives a crash. After an error the journal
    /// refuses everything: what reached the file is unknown, and the next open sorts it out.
    pub fn commit(&mut self) -> Result<(), JournalError> {
        if self.failed {
            return Err(self.failed_error());
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self
            .file
            .write_all(&self.buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = result {
            self.failed = true;
            return Err(JournalError::io(&self.current_path(), "cannot commit", e));
        }
        self.buf.clear();
        self.committed = self.next;
        Ok(())
    }

    /// Commits, then starts a new segment at the current event count, unless the current segment
    /// already starts there.
    pub fn rotate(&mut self) -> Result<(), JournalError> {
        self.commit()?;
        if self.segments.last() == Some(&self.next) {
            return Ok(());
        }
        self.file = create_segment(&self.dir, self.next)?;
        self.segments.push(self.next);
        Ok(())
    }

    /// Removes every segment that ends at or before event `event` (all of whose events come
    /// before it); the segment being written is never removed. Returns how many were removed.
    pub fn remove_before(&mut self, event: u64) -> Result<usize, JournalError> {
        let keep_from = self
            .segments
            .iter()
            .rposition(|&start| start <= event)
            .unwrap_or(0)
            .min(self.segments.len() - 1);
        for &start in &self.segments[..keep_from] {
            let path = self.dir.join(segment_name(start));
            fs::remove_file(&path).map_err(|e| JournalError::io(&path, "cannot remove", e))?;
        }
        if keep_from > 0 {
            sync_dir(&self.dir).map_err(|e| JournalError::io(&self.dir, "cannot sync", e))?;
        }
        self.segments.drain(..keep_from);
        Ok(keep_from)
    }

    /// Events appended, counted from the first event ever (committed or not).
    pub fn len(&self) -> u64 {
        self.next
    }

    /// Whether no event was ever appended.
    pub fn is_empty(&self) -> bool {
        self.next == 0
    }

    /// Events committed: these survive a crash.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// The starts of the segments on disk, ascending.
    pub fn segments(&self) -> &[u64] {
        &self.segments
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn current_path(&self) -> PathBuf {
        let start = self.segments.last().copied().unwrap_or(0);
        self.dir.join(segment_name(start))
    }

    fn failed_error(&self) -> JournalError {
        JournalError::new(
            JournalErrorKind::Failed,
            &self.current_path(),
            "an earlier commit failed; reopen the journal",
        )
    }
}

/// What one segment holds.
struct Scan {
    /// Good records.
    count: u64,
    /// File size.
    size: u64,
    /// Where the first bad byte is, and why it is bad.
    damage: Option<(u64, String)>,
}

/// Reads one segment's good records, handing those numbered `from` on to `each`.
fn scan(
    path: &Path,
    start: u64,
    from: u64,
    each: &mut impl FnMut(u64, Event),
    replayed: &mut u64,
) -> Result<Scan, JournalError> {
    let file = File::open(path).map_err(|e| JournalError::io(path, "cannot open", e))?;
    let size = file
        .metadata()
        .map_err(|e| JournalError::io(path, "cannot stat", e))?
        .len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let read = |r: &mut BufReader<File>, buf: &mut [u8]| {
        read_full(r, buf).map_err(|e| JournalError::io(path, "cannot read", e))
    };
    let mut out = Scan {
        count: 0,
        size,
        damage: None,
    };
    let mut header = [0u8; HEADER_LEN];
    let n = read(&mut r, &mut header)?;
    if n < HEADER_LEN || header[..8] != MAGIC {
        let why = if n < HEADER_LEN {
            format!("torn header: {n} of {HEADER_LEN} bytes")
        } else {
            "not a journal segment (bad magic)".to_owned()
        };
        out.damage = Some((0, why));
        return Ok(out);
    }
    if let Err(problem) = binary::check_header(&header) {
        return Err(JournalError::new(
            JournalErrorKind::Corrupt,
            path,
            format!("unsupported segment header: {problem:?}"),
        ));
    }
    let mut pos = HEADER_LEN as u64;
    let mut frame = [0u8; RECORD_HEADER_LEN];
    let mut payload = Vec::new();
    loop {
        let n = read(&mut r, &mut frame)?;
        if n == 0 {
            break;
        }
        if n < RECORD_HEADER_LEN {
            out.damage = Some((
                pos,
                format!("torn record frame: {n} of {RECORD_HEADER_LEN} bytes"),
            ));
            break;
        }
        let (len, crc) = binary::frame(&frame);
        if len == 0 || len > MAX_RECORD_BYTES {
            out.damage = Some((pos, format!("record length {len} out of range")));
            break;
        }
        payload.resize(len, 0);
        let n = read(&mut r, &mut payload)?;
        if n < len {
            out.damage = Some((pos, format!("torn record: {n} of {len} payload bytes")));
            break;
        }
        match binary::decode_payload(&payload, crc) {
            Ok(event) => {
                let index = start + out.count;
                if index >= from {
                    each(index, event);
                    *replayed += 1;
                }
                out.count += 1;
                pos += (RECORD_HEADER_LEN + len) as u64;
            }
            Err(why) => {
                out.damage = Some((pos, why));
                break;
            }
        }
    }
    Ok(out)
}

/// Cuts the last segment at `offset`, rewriting the header if it was the header that was torn.
fn cut(path: &Path, offset: u64, size: u64, why: String) -> Result<Cut, JournalError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| JournalError::io(path, "cannot open to cut", e))?;
    let io = |e| JournalError::io(path, "cannot cut", e);
    file.set_len(offset).map_err(io)?;
    if offset == 0 {
        (&file).write_all(&binary::header()).map_err(io)?;
    }
    file.sync_all().map_err(io)?;
    Ok(Cut {
        path: path.to_owned(),
        offset,
        dropped: size - offset,
        why,
    })
}

/// Creates the segment starting at `start`: header written and synced under a temporary name,
/// renamed into place, directory synced. Returns it open for appending.
fn create_segment(dir: &Path, start: u64) -> Result<File, JournalError> {
    let path = dir.join(segment_name(start));
    let tmp = dir.join(format!("{}.tmp", segment_name(start)));
    let io = |what, e| JournalError::io(&path, what, e);
    let mut file = File::create(&tmp).map_err(|e| io("cannot create", e))?;
    file.write_all(&binary::header())
        .and_then(|()| file.sync_all())
        .map_err(|e| io("cannot write the header", e))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(|e| io("cannot rename into place", e))?;
    sync_dir(dir).map_err(|e| JournalError::io(dir, "cannot sync", e))?;
    OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|e| io("cannot open for appending", e))
}

/// Removes segments left half-created by a crash.
fn remove_temporaries(dir: &Path) -> Result<(), JournalError> {
    let listed = list_numbered(dir, "journal-", ".bin.tmp")
        .map_err(|e| JournalError::io(dir, "cannot list", e))?;
    for (_, path) in listed {
        fs::remove_file(&path).map_err(|e| JournalError::io(&path, "cannot remove", e))?;
    }
    Ok(())
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spamward_core::{Feedback, FeedbackKind, Timestamp};

    fn event(i: u64) -> Event {
        Event::Feedback(Feedback {
            ts: Timestamp::from_millis(1_764_000_000_000 + i),
            business: format!("b-{}", i % 7),
            recipient: format!("r-{i}"),
            kind: FeedbackKind::Read,
            message: Some(format!("m-{i}")),
        })
    }

    fn read_all(dir: &Path, from: u64) -> (Vec<(u64, Event)>, Opened) {
        let mut seen = Vec::new();
        let (_, opened) = Journal::open(dir, from, |i, e| seen.push((i, e))).unwrap();
        (seen, opened)
    }

    fn write(dir: &Path, range: std::ops::Range<u64>) -> Journal {
        let (mut j, _) = Journal::open(dir, range.start, |_, _| {}).unwrap();
        for i in range {
            j.append(&event(i)).unwrap();
        }
        j.commit().unwrap();
        j
    }

    #[test]
    fn appended_and_committed_events_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = write(dir.path(), 0..10);
        assert_eq!((j.len(), j.committed()), (10, 10));
        // Appended but not committed: lost, as a crash would lose it.
        j.append(&event(10)).unwrap();
        assert_eq!((j.len(), j.committed()), (11, 10));
        drop(j);
        let (seen, opened) = read_all(dir.path(), 0);
        assert_eq!(seen, (0..10).map(|i| (i, event(i))).collect::<Vec<_>>());
        assert_eq!((opened.start, opened.end, opened.cut), (0, 10, None));
        let (seen, opened) = read_all(dir.path(), 4);
        assert_eq!(seen.first(), Some(&(4, event(4))));
        assert_eq!(opened.replayed, 6);
        // A segment is a binary log any reader reads.
        let seg = dir.path().join(segment_name(0));
        assert_eq!(crate::LogReader::open(&seg).unwrap().count(), 10);
    }

    #[test]
    fn rotation_and_removal_keep_the_events_numbered() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = write(dir.path(), 0..5);
        j.rotate().unwrap();
        for i in 5..9 {
            j.append(&event(i)).unwrap();
        }
        j.rotate().unwrap();
        j.append(&event(9)).unwrap();
        j.commit().unwrap();
        assert_eq!(j.segments(), [0, 5, 9]);
        drop(j);
        let (seen, opened) = read_all(dir.path(), 0);
        assert_eq!(seen.len(), 10);
        assert_eq!(seen[7], (7, event(7)));
        assert_eq!(opened.end, 10);
        let (mut j, _) = Journal::open(dir.path(), 9, |_, _| {}).unwrap();
        assert_eq!(j.remove_before(5).unwrap(), 1);
        assert_eq!(j.segments(), [5, 9]);
        drop(j);
        let (seen, opened) = read_all(dir.path(), 5);
        assert_eq!((seen.len(), opened.start), (5, 5));
        // The state needs events from 3 on, which are gone.
        let err = Journal::open(dir.path(), 3, |_, _| {}).unwrap_err();
        assert_eq!(err.kind(), JournalErrorKind::Gap, "{err}");
        // ... or is ahead of the journal's end.
        let err = Journal::open(dir.path(), 12, |_, _| {}).unwrap_err();
        assert_eq!(err.kind(), JournalErrorKind::Gap, "{err}");
    }

    /// A crash mid-write leaves any prefix of the last record: every cut point is found,
    /// reported with its offset, cut off, and the journal goes on after the last good record.
    #[test]
    fn a_torn_tail_is_reported_and_cut_at_every_cut_point() {
        let dir = tempfile::tempdir().unwrap();
        drop(write(dir.path(), 0..4));
        let seg = dir.path().join(segment_name(0));
        let whole = fs::read(&seg).unwrap();
        let mut record = Vec::new();
        binary::encode_record(&event(4), &mut record).unwrap();
        let good = whole.len() as u64;
        for keep in [
            1,
            3,
            RECORD_HEADER_LEN,
            RECORD_HEADER_LEN + 1,
            record.len() - 1,
        ] {
            let mut bytes = whole.clone();
            bytes.extend_from_slice(&record[..keep]);
            fs::write(&seg, &bytes).unwrap();
            let (seen, opened) = read_all(dir.path(), 0);
            assert_eq!(seen.len(), 4, "cut after {keep} bytes");
            let cut = opened.cut.expect("reported");
            assert_eq!((cut.offset, cut.dropped), (good, keep as u64));
            assert!(cut.why.starts_with("torn record"), "{cut}");
            assert!(cut.to_string().contains(&segment_name(0)), "{cut}");
            assert_eq!(fs::metadata(&seg).unwrap().len(), good, "the file is cut");
        }
        // After a cut, appending goes on where the good records end.
        let (mut j, opened) = Journal::open(dir.path(), 0, |_, _| {}).unwrap();
        assert_eq!((opened.end, opened.cut), (4, None));
        j.append(&event(4)).unwrap();
        j.commit().unwrap();
        drop(j);
        let (seen, _) = read_all(dir.path(), 0);
        assert_eq!(seen.last(), Some(&(4, event(4))));
    }

    #[test]
    fn a_bit_flip_in_the_tail_is_caught_by_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        drop(write(dir.path(), 0..5));
        let seg = dir.path().join(segment_name(0));
        let mut bytes = fs::read(&seg).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x04;
        fs::write(&seg, &bytes).unwrap();
        let (seen, opened) = read_all(dir.path(), 0);
        assert_eq!(seen.len(), 4);
        let cut = opened.cut.unwrap();
        assert!(cut.why.contains("CRC-32 mismatch"), "{cut}");
        // A damaged length is refused without trying to read gigabytes.
        let mut bytes = fs::read(&seg).unwrap();
        let at = bytes.len();
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1, 2, 3]);
        fs::write(&seg, &bytes).unwrap();
        let (seen, opened) = read_all(dir.path(), 0);
        assert_eq!(seen.len(), 4);
        let cut = opened.cut.unwrap();
        assert_eq!(cut.offset, at as u64);
        assert!(cut.why.contains("out of range"), "{cut}");
    }

    #[test]
    fn damage_in_an_earlier_segment_refuses_to_open_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = write(dir.path(), 0..5);
        j.rotate().unwrap();
        j.append(&event(5)).unwrap();
        j.commit().unwrap();
        drop(j);
        let seg = dir.path().join(segment_name(0));
        let mut bytes = fs::read(&seg).unwrap();
        bytes.truncate(bytes.len() - 2);
        fs::write(&seg, &bytes).unwrap();
        let err = Journal::open(dir.path(), 0, |_, _| {}).unwrap_err();
        assert_eq!(err.kind(), JournalErrorKind::Corrupt);
        let msg = err.to_string();
        assert!(msg.contains(&segment_name(0)), "{msg}");
        assert!(msg.contains("not the last segment"), "{msg}");
        // Nothing was cut.
        assert_eq!(fs::read(&seg).unwrap(), bytes);
    }

    #[test]
    fn a_missing_segment_is_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = write(dir.path(), 0..3);
        j.rotate().unwrap();
        j.append(&event(3)).unwrap();
        j.rotate().unwrap();
        j.append(&event(4)).unwrap();
        j.commit().unwrap();
        drop(j);
        fs::remove_file(dir.path().join(segment_name(3))).unwrap();
        let err = Journal::open(dir.path(), 0, |_, _| {}).unwrap_err();
        assert_eq!(err.kind(), JournalErrorKind::Gap);
        assert!(err.to_string().contains(&segment_name(4)), "{err}");
    }

    #[test]
    fn numbered_names_sort_and_parse() {
        assert_eq!(segment_name(42), "journal-00000000000000000042.bin");
        assert_eq!(
            parse_numbered(&segment_name(42), "journal-", ".bin"),
            Some(42)
        );
        assert_eq!(parse_numbered("journal-.bin", "journal-", ".bin"), None);
        assert_eq!(parse_numbered("journal-1x.bin", "journal-", ".bin"), None);
        assert!(segment_name(9) < segment_name(10));
    }
}
