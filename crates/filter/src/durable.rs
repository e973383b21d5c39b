//! Durable state: a [`Filter`] that survives a crash, from a write-ahead journal and snapshots.
//!
//! A state directory holds two kinds of files:
//!
//! * **Journal segments**, `journal-<start>.bin`: every accepted event, in the binary log format,
//!   written by [`spamward_log::journal`]. An event is appended before it is applied, and
//!   [`Durable::commit`] makes everything appended so far durable (one `fdatasync`). Whoever
//!   drives the filter commits before it lets anyone see a verdict: *acknowledged means durable*.
//! * **Snapshots**, `snapshot-<applied>.bin`: the whole filter state after `applied` events, so a
//!   restart does not replay history from the first event. The layout:
//!
//! ```text
//!   offset 0   9 bytes  magic  89 53 50 57 53 4E 41 50 0A   ("\x89SPWSNAP\n")
//!   offset 9   u16 LE   version (currently 1)
//!   offset 11  u32 LE   CRC-32 (IEEE) of the payload
//!   offset 15  payload, bincode 2 `standard()`, one value after another:
//!              applied u64, clock u64, last_sweep u64, counters [u64; 9] (events, messages,
//!              feedback, deliveries, business records, allow, throttle, hold, block),
//!              business count u64, then (id String, BusinessState) per business by id,
//!              recipient count u64, then (key u64, RecipientLoad) per fatigue entry by key,
//!              bucket count u64, then (key u32, Bucket) per campaign-index bucket by key
//! ```
//!
//! A snapshot is written to a temporary file, synced, renamed into place and the directory
//! synced, so a snapshot that exists under its name is whole (its checksum still guards it
//! against the disk). After a snapshot at `N` the journal starts a new segment at `N`, and what
//! precedes the *previous* snapshot is deleted: the last two snapshots stay, with every segment
//! after the older one, so that a newest snapshot that turns out unreadable can fall back.
//!
//! On [`Durable::open`] the newest snapshot that loads (magic, version, checksum, decoding) is
//! restored — a bad one is reported, renamed to `*.corrupt` and skipped — and every journaled
//! event after it is replayed through [`Filter::observe`], recomputing its verdict. A torn or
//! corrupt journal tail is reported and cut, never loaded (see [`spamward_log::journal`]).
//!
//! The policy is not part of the state: it comes from the [`FilterBuilder`] at every open, and
//! replayed events are judged by it.
//!
//! Snapshots read the filter while nothing else uses it: [`Durable::snapshot`] must be called
//! between events, which the pipe mode's single reader does at input boundaries.

use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use bincode::config;
use spamward_core::content::Bucket;
use spamward_core::{BusinessState, Event, RecipientLoad, Verdict};
use spamward_log::journal::{self, Journal, JournalError};

use crate::{Filter, FilterBuilder, FilterCounts, lock};

/// The first 9 bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 9] = *b"\x89SPWSNAP\n";
/// The snapshot version this build writes and reads.
pub const SNAPSHOT_VERSION: u16 = 3;
/// Bytes before the payload: magic, version, CRC-32.
pub const SNAPSHOT_HEADER_LEN: usize = 15;
/// Events between snapshots by default.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 1_000_000;
/// The most memory one decoded item of a snapshot (a business's state, a recipient's load, a
/// campaign bucket) may claim: 1 GiB, far above any real one. Without a limit a corrupt length
/// that still passes the checksum (a bug, a layout change without a version change) asks for a
/// container of up to 2^64 elements, and opening the state directory panics (capacity overflow)
/// or aborts (allocation failure) instead of setting the snapshot aside.
const ITEM_LIMIT: usize = 1 << 30;
const DECODE_CONFIG: config::Configuration<
    config::LittleEndian,
    config::Varint,
    config::Limit<ITEM_LIMIT>,
> = config::standard().with_limit::<ITEM_LIMIT>();

/// What went wrong with a state directory.
#[derive(Debug)]
pub struct DurableError {
    path: PathBuf,
    detail: String,
}

impl DurableError {
    fn new(path: &Path, detail: impl Into<String>) -> DurableError {
        DurableError {
            path: path.to_owned(),
            detail: detail.into(),
        }
    }

    /// The file or directory concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl From<JournalError> for DurableError {
    fn from(e: JournalError) -> DurableError {
        DurableError::new(e.path(), e.detail())
    }
}

impl fmt::Display for DurableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for DurableError {}

/// How a state directory is kept.
#[derive(Clone, Debug)]
pub struct DurableOptions {
    /// Events between snapshots (at least 1).
    pub snapshot_every: u64,
    /// The last message whose verdict the client received before the crash: the verdicts of
    /// the journaled messages after it are recomputed and returned in
    /// [`Recovery::unacknowledged`]. If it is not in the journal since the snapshot, every
    /// journaled message since the snapshot is. `None`: none.
    pub resume_after: Option<String>,
}

impl Default for DurableOptions {
    fn default() -> DurableOptions {
        DurableOptions {
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            resume_after: None,
        }
    }
}

/// What [`Durable::open`] restored.
#[derive(Debug)]
pub struct Recovery {
    /// The snapshot restored (its event count), if any.
    pub snapshot: Option<u64>,
    /// Events applied in all: the snapshot's and the journal's after it. The client continues
    /// its input after this many events.
    pub applied: u64,
    /// Problems found and dealt with: bad snapshots skipped, a journal tail cut.
    pub notes: Vec<String>,
    /// With [`DurableOptions::resume_after`]: the recomputed verdicts owed to the client, in
    /// order.
    pub unacknowledged: Vec<Verdict>,
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.snapshot.unwrap_or(0);
        let n = self.applied;
        match self.snapshot {
            Some(_) => write!(f, "restored {n} events (snapshot at {s}, journal {s}..{n})")?,
            None => write!(f, "restored {n} events (no snapshot, journal 0..{n})")?,
        }
        write!(f, "; continue the input after event {n}")
    }
}

/// A filter restored from its state directory, and the handle that keeps it durable.
#[derive(Debug)]
pub struct Restored {
    /// The filter, as it was after the last durable event.
    pub filter: Filter,
    /// Journal and snapshots, for the events to come.
    pub durable: Durable,
    /// What was restored.
    pub recovery: Recovery,
}

/// The journal and snapshots of one filter's state directory.
#[derive(Debug)]
pub struct Durable {
    dir: PathBuf,
    journal: Journal,
    snapshot_every: u64,
    /// Snapshots on disk, ascending.
    snapshots: Vec<u64>,
}

impl Durable {
    /// Opens (or creates) the state directory `dir` and restores the filter kept in it, built
    /// with `builder`'s policy and settings.
    pub fn open(
        dir: &Path,
        builder: &FilterBuilder,
        options: &DurableOptions,
    ) -> Result<Restored, DurableError> {
        fs::create_dir_all(dir)
            .map_err(|e| DurableError::new(dir, format!("cannot create: {e}")))?;
        let list = |suffix| {
            journal::list_numbered(dir, "snapshot-", suffix)
                .map_err(|e| DurableError::new(dir, format!("cannot list: {e}")))
        };
        for (_, tmp) in list(".bin.tmp")? {
            fs::remove_file(&tmp)
                .map_err(|e| DurableError::new(&tmp, format!("cannot remove: {e}")))?;
        }
        let mut snapshots: Vec<u64> = Vec::new();
        let mut notes = Vec::new();
        let mut restored = None;
        let listed = list(".bin")?;
        for (applied, path) in listed.iter().rev() {
            if restored.is_some() {
                snapshots.push(*applied);
                continue;
            }
            match load_snapshot(path, builder) {
                Ok((filter, n)) if n == *applied => {
                    snapshots.push(*applied);
                    restored = Some((filter, n));
                }
                Ok((_, n)) => notes.push(set_aside(
                    path,
                    &format!("it holds {n} events, not the {applied} its name says"),
                )?),
                Err(why) => notes.push(set_aside(path, &why)?),
            }
        }
        snapshots.reverse();
        let (filter, from) = match restored {
            Some((filter, n)) => (filter, Some(n)),
            None => (builder.build(), None),
        };
        let mut unacknowledged = Vec::new();
        let resume_after = options.resume_after.as_deref();
        let (journal, opened) = Journal::open(dir, from.unwrap_or(0), |_, ev| {
            let verdict = filter.observe(&ev);
            if let (Some(v), Some(id)) = (verdict, resume_after) {
                if v.message == id {
                    unacknowledged.clear();
                } else {
                    unacknowledged.push(v);
                }
            }
        })?;
        if let Some(cut) = &opened.cut {
            notes.push(cut.to_string());
        }
        let recovery = Recovery {
            snapshot: from,
            applied: opened.end,
            notes,
            unacknowledged,
        };
        let durable = Durable {
            dir: dir.to_owned(),
            journal,
            snapshot_every: options.snapshot_every.max(1),
            snapshots,
        };
        Ok(Restored {
            filter,
            durable,
            recovery,
        })
    }

    /// Appends an accepted event to the journal; call before applying it.
    pub fn append(&mut self, event: &Event) -> Result<(), DurableError> {
        Ok(self.journal.append(event)?)
    }

    /// Journals `event`, then applies it to `filter`. The verdict may be shown once
    /// [`Durable::commit`] has returned.
    pub fn observe(
        &mut self,
        filter: &Filter,
        event: &Event,
    ) -> Result<Option<Verdict>, DurableError> {
        self.append(event)?;
        Ok(filter.observe(event))
    }

    /// Makes every appended event durable (one `fdatasync` if anything was appended).
    pub fn commit(&mut self) -> Result<(), DurableError> {
        Ok(self.journal.commit()?)
    }

    /// Events appended in all, counted from the first event ever.
    pub fn applied(&self) -> u64 {
        self.journal.len()
    }

    /// Whether `snapshot_every` events have been appended since the last snapshot.
    pub fn snapshot_due(&self) -> bool {
        let last = self.snapshots.last().copied().unwrap_or(0);
        self.applied() - last >= self.snapshot_every
    }

    /// The snapshots on disk (their event counts), ascending.
    pub fn snapshots(&self) -> &[u64] {
        &self.snapshots
    }

    /// The journal's segment starts, ascending.
    pub fn segments(&self) -> &[u64] {
        self.journal.segments()
    }

    /// Commits, writes a snapshot of `filter` (which must have applied exactly the events
    /// appended, and be used by nobody else meanwhile), starts a new journal segment, and
    /// deletes the snapshots and segments that precede the previous snapshot.
    pub fn snapshot(&mut self, filter: &Filter) -> Result<(), DurableError> {
        self.commit()?;
        let applied = self.applied();
        if self.snapshots.last() == Some(&applied) {
            return Ok(());
        }
        let path = self.dir.join(snapshot_name(applied));
        let tmp = self.dir.join(format!("{}.tmp", snapshot_name(applied)));
        let bytes = encode_snapshot(filter, applied);
        let io = |what: &str, e: std::io::Error| DurableError::new(&path, format!("{what}: {e}"));
        let mut file = File::create(&tmp).map_err(|e| io("cannot create", e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| io("cannot write", e))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(|e| io("cannot rename into place", e))?;
        journal::sync_dir(&self.dir).map_err(|e| io("cannot sync the directory", e))?;
        self.journal.rotate()?;
        let previous = self.snapshots.last().copied();
        self.snapshots.push(applied);
        if let Some(previous) = previous {
            for &old in self.snapshots.iter().filter(|&&s| s < previous) {
                let old = self.dir.join(snapshot_name(old));
                fs::remove_file(&old)
                    .map_err(|e| DurableError::new(&old, format!("cannot remove: {e}")))?;
            }
            self.snapshots.retain(|&s| s >= previous);
            self.journal.remove_before(previous)?;
        }
        Ok(())
    }
}

/// The file name of the snapshot after `applied` events.
pub fn snapshot_name(applied: u64) -> String {
    format!("snapshot-{applied:020}.bin")
}

/// Renames a bad snapshot out of the way; returns the note saying so.
fn set_aside(path: &Path, why: &str) -> Result<String, DurableError> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    fs::rename(path, &aside)
        .map_err(|e| DurableError::new(path, format!("cannot set aside: {e}")))?;
    Ok(format!(
        "{}: unusable snapshot ({why}); skipped, kept as {}",
        path.display(),
        Path::new(&aside).display()
    ))
}

/// The snapshot file of `filter` after `applied` events: header and payload.
pub fn encode_snapshot(filter: &Filter, applied: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let enc = |out: &mut Vec<u8>, v: &dyn EncodeDyn| v.encode_to(out);
    let c = filter.counts();
    let counters = [
        c.events,
        c.messages,
        c.feedback,
        c.deliveries,
        c.business_records,
        c.allowed,
        c.throttled,
        c.held,
        c.blocked,
    ];
    enc(&mut out, &applied);
    enc(&mut out, &filter.cross.clock.load(Ordering::Relaxed));
    enc(&mut out, &filter.cross.last_sweep.load(Ordering::Relaxed));
    enc(&mut out, &counters);
    let mut businesses: Vec<(String, Arc<Mutex<BusinessState>>)> = filter
        .businesses
        .iter()
        .map(|e| (e.key().clone(), Arc::clone(e.value())))
        .collect();
    businesses.sort_by(|a, b| a.0.cmp(&b.0));
    enc(&mut out, &(businesses.len() as u64));
    for (id, state) in &businesses {
        enc(&mut out, id);
        enc(&mut out, &*lock(state));
    }
    let mut keys: Vec<u64> = filter.cross.fatigue.iter().map(|e| *e.key()).collect();
    keys.sort_unstable();
    enc(&mut out, &(keys.len() as u64));
    for key in keys {
        if let Some(load) = filter.cross.fatigue.get(&key) {
            enc(&mut out, &key);
            enc(&mut out, &*load);
        }
    }
    let mut keys: Vec<u32> = filter.cross.campaigns.iter().map(|e| *e.key()).collect();
    keys.sort_unstable();
    enc(&mut out, &(keys.len() as u64));
    for key in keys {
        if let Some(bucket) = filter.cross.campaigns.get(&key) {
            enc(&mut out, &key);
            enc(&mut out, &*bucket);
        }
    }
    let crc = crc32fast::hash(&out[SNAPSHOT_HEADER_LEN..]);
    out[11..15].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Reads a snapshot into a filter built by `builder`; returns it with its event count, or why
/// the file is unusable.
pub fn load_snapshot(path: &Path, builder: &FilterBuilder) -> Result<(Filter, u64), String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    decode_snapshot(&bytes, builder)
}

/// Decodes a snapshot file's bytes; see [`load_snapshot`].
pub fn decode_snapshot(bytes: &[u8], builder: &FilterBuilder) -> Result<(Filter, u64), String> {
    if bytes.len() < SNAPSHOT_HEADER_LEN {
        return Err(format!("{} bytes: shorter than the header", bytes.len()));
    }
    if bytes[..9] != SNAPSHOT_MAGIC {
        return Err("not a snapshot (bad magic)".to_owned());
    }
    let version = u16::from_le_bytes([bytes[9], bytes[10]]);
    if version != SNAPSHOT_VERSION {
        return Err(format!(
            "version {version}; this build reads {SNAPSHOT_VERSION}"
        ));
    }
    let stored = u32::from_le_bytes([bytes[11], bytes[12], bytes[13], bytes[14]]);
    let payload = &bytes[SNAPSHOT_HEADER_LEN..];
    let crc = crc32fast::hash(payload);
    if crc != stored {
        return Err(format!(
            "CRC-32 mismatch (stored {stored:08x}, computed {crc:08x})"
        ));
    }
    let mut at = 0;
    fn dec<T: bincode::Decode<()>>(
        payload: &[u8],
        at: &mut usize,
        what: &str,
    ) -> Result<T, String> {
        let (v, used) = bincode::decode_from_slice(&payload[*at..], DECODE_CONFIG)
            .map_err(|e| format!("undecodable {what} at payload byte {at}: {e}"))?;
        *at += used;
        Ok(v)
    }
    let applied: u64 = dec(payload, &mut at, "event count")?;
    let clock: u64 = dec(payload, &mut at, "clock")?;
    let last_sweep: u64 = dec(payload, &mut at, "last sweep")?;
    let c: [u64; 9] = dec(payload, &mut at, "counters")?;
    let filter = builder.build();
    filter.cross.clock.store(clock, Ordering::Relaxed);
    filter.cross.last_sweep.store(last_sweep, Ordering::Relaxed);
    filter.counters.restore(FilterCounts {
        events: c[0],
        messages: c[1],
        feedback: c[2],
        deliveries: c[3],
        business_records: c[4],
        allowed: c[5],
        throttled: c[6],
        held: c[7],
        blocked: c[8],
    });
    let n: u64 = dec(payload, &mut at, "business count")?;
    for _ in 0..n {
        let id: String = dec(payload, &mut at, "business id")?;
        let state: BusinessState = dec(payload, &mut at, "business state")?;
        filter.businesses.insert(id, Arc::new(Mutex::new(state)));
    }
    let n: u64 = dec(payload, &mut at, "recipient count")?;
    for _ in 0..n {
        let key: u64 = dec(payload, &mut at, "recipient key")?;
        let load: RecipientLoad = dec(payload, &mut at, "recipient load")?;
        filter.cross.fatigue.insert(key, load);
    }
    let n: u64 = dec(payload, &mut at, "campaign bucket count")?;
    for _ in 0..n {
        let key: u32 = dec(payload, &mut at, "campaign bucket key")?;
        let bucket: Bucket = dec(payload, &mut at, "campaign bucket")?;
        filter.cross.campaigns.insert(key, bucket);
    }
    if at != payload.len() {
        return Err(format!("{} bytes left over", payload.len() - at));
    }
    Ok((filter, applied))
}

/// Encodes any value into a growing buffer (bincode's `Encode` is not object-safe).
trait EncodeDyn {
    fn encode_to(&self, out: &mut Vec<u8>);
}

impl<T: bincode::Encode + ?Sized> EncodeDyn for T {
    fn encode_to(&self, out: &mut Vec<u8>) {
        bincode::encode_into_std_write(self, out, config::standard())
            .expect("encoding into memory cannot fail");
    }
}

impl crate::Counters {
    /// Sets every counter, as a snapshot recorded them.
    fn restore(&self, c: FilterCounts) {
        let set = |a: &std::sync::atomic::AtomicU64, v| a.store(v, Ordering::Relaxed);
        set(&self.events, c.events);
        set(&self.messages, c.messages);
        set(&self.feedback, c.feedback);
        set(&self.deliveries, c.deliveries);
        set(&self.business_records, c.business_records);
        for (a, v) in self
            .actions
            .iter()
            .zip([c.allowed, c.throttled, c.held, c.blocked])
        {
            set(a, v);
        }
    }
}

#[cfg(test)]
mod tests;
