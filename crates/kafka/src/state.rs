//! One input partition's business states, and their checkpoints on the changelog topic.
//!
//! Every business's events are in one partition (the record key is the business id), so a
//! partition's businesses are a closed set: an instance that owns the partition owns their whole
//! state, and a checkpoint of the partition moves it to whichever instance owns it next.
//!
//! # Checkpoint records
//!
//! The changelog topic has as many partitions as the input, and input partition `p`
//! checkpoints to changelog partition `p`. A checkpoint at input offset `M` (the next offset to
//! read) is written in two steps:
//!
//! 1. one *state* record per business whose state changed since the previous checkpoint, key =
//!    the business id, value = the state and `M`;
//! 2. once the broker has acknowledged all of them, one *marker* record, key
//!    [`MARKER_KEY`], value = `M`.
//!
//! Only then is `M` committed as the group's offset. Restoring reads the partition to its end
//! and keeps each key's latest record. The latest marker `M` says where to resume: every
//! business changed before `M` has a state record at `M` or earlier, and a business whose latest
//! record is older than `M` did not change in between. A record newer than the marker comes
//! from a checkpoint that never finished (its owner died); its state already holds the events
//! before its own offset, so those are skipped for that business when the partition is read
//! again from `M`. Log compaction keeps each key's latest record, which is all this needs.
//!
//! Value layout, little-endian:
//!
//! ```text
//! offset 0  4 bytes  magic "SWK2" (the number changes with the state's layout)
//! offset 4  u8       kind: 1 = state, 2 = marker
//! offset 5  i64      the input offset the record covers up to (the next one to read)
//! offset 13 ...      state: zstd of the bincode 2 (standard config) BusinessState; marker: nothing
//! ```

use rustc_hash::{FxHashMap, FxHashSet};
use spamward_core::BusinessState;

/// The key of a checkpoint's marker record. Business ids are never empty and never start with a
/// NUL byte, so no business can collide with it.
pub const MARKER_KEY: &[u8] = b"\0checkpoint";
const MAGIC: &[u8; 4] = b"SWK2";
const STATE: u8 = 1;
const MARKER: u8 = 2;
const HEADER_LEN: usize = 13;
/// The most memory one decoded state may claim (a corrupt length must not abort the process).
const STATE_LIMIT: usize = 1 << 30;
const CONFIG: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<STATE_LIMIT>,
> = bincode::config::standard().with_limit::<STATE_LIMIT>();

/// One changelog record: key and value.
pub type Record = (Vec<u8>, Vec<u8>);

/// The business states of one input partition.
#[derive(Debug, Default)]
pub struct PartitionState {
    businesses: FxHashMap<String, BusinessState>,
    /// Businesses changed since the last checkpoint.
    dirty: FxHashSet<String>,
    /// Businesses restored from an unfinished checkpoint: their state already holds every event
    /// before this offset.
    skip_before: FxHashMap<String, i64>,
    /// The next input offset to read.
    next: i64,
}

impl PartitionState {
    /// An empty partition that starts reading at `next`.
    pub fn starting_at(next: i64) -> PartitionState {
        PartitionState {
            next,
            ..PartitionState::default()
        }
    }

    /// The next input offset to read.
    pub fn next_offset(&self) -> i64 {
        self.next
    }

    /// Businesses held.
    pub fn businesses(&self) -> usize {
        self.businesses.len()
    }

    /// The state of the business of the event at `offset`, created at `ts` if new, marked
    /// changed; `None` if the business's restored state already holds that event.
    pub fn state_for(
        &mut self,
        business: &str,
        offset: i64,
        ts: spamward_core::Timestamp,
    ) -> Option<&mut BusinessState> {
        self.next = self.next.max(offset + 1);
        if let Some(&from) = self.skip_before.get(business) {
            if offset < from {
                return None;
            }
            self.skip_before.remove(business);
        }
        if !self.dirty.contains(business) {
            self.dirty.insert(business.to_owned());
        }
        Some(
            self.businesses
                .entry(business.to_owned())
                .or_insert_with(|| BusinessState::new(ts)),
        )
    }

    /// Marks the records up to `offset` as read, with nothing to apply (a record that could not
    /// be decoded, say).
    pub fn skip(&mut self, offset: i64) {
        self.next = self.next.max(offset + 1);
    }

    /// The records of a checkpoint at the current offset: one state record per changed business
    /// (sorted by id), then the marker, as `(key, value)`. The changed set is cleared; the caller
    /// writes the records in order, the marker only after the broker acknowledged the rest.
    pub fn checkpoint(&mut self) -> (Vec<Record>, Record) {
        let mut ids: Vec<String> = self.dirty.drain().collect();
        ids.sort_unstable();
        let states = ids
            .into_iter()
            .filter_map(|id| {
                let state = self.businesses.get(&id)?;
                Some((id.into_bytes(), encode_state(state, self.next)))
            })
            .collect();
        (states, (MARKER_KEY.to_vec(), header(MARKER, self.next)))
    }
}

fn header(kind: u8, offset: i64) -> Vec<u8> {
    let mut v = Vec::with_capacity(256);
    v.extend_from_slice(MAGIC);
    v.push(kind);
    v.extend_from_slice(&offset.to_le_bytes());
    v
}

fn encode_state(state: &BusinessState, offset: i64) -> Vec<u8> {
    let mut out = header(STATE, offset);
    let raw = bincode::encode_to_vec(state, bincode::config::standard())
        .expect("a business state encodes");
    // Level 1: checkpoints are on the scoring path; the states compress well even so.
    let packed = zstd::bulk::compress(&raw, 1).expect("zstd compresses a buffer");
    out.extend_from_slice(&packed);
    out
}

/// Rebuilds a partition from its changelog records, fed in the order they were read.
#[derive(Debug, Default)]
pub struct Restore {
    states: FxHashMap<String, (i64, BusinessState)>,
    marker: Option<i64>,
    records: u64,
}

impl Restore {
    /// Folds in one record. An unreadable record is an error naming what is wrong with it: a
    /// changelog that cannot be trusted must stop the restore, not be half-applied.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.records += 1;
        if value.len() < HEADER_LEN || &value[..4] != MAGIC {
            return Err("not a spamward checkpoint record (bad magic or too short)".into());
        }
        let offset = i64::from_le_bytes(value[5..13].try_into().expect("8 bytes"));
        if offset < 0 {
            return Err(format!("negative offset {offset}"));
        }
        match value[4] {
            MARKER if key == MARKER_KEY => self.marker = Some(offset),
            STATE => {
                let id = std::str::from_utf8(key)
                    .map_err(|_| "state record key is not UTF-8".to_string())?;
                if id.is_empty() || key.starts_with(b"\0") {
                    return Err("state record key is not a business id".into());
                }
                let raw = zstd::bulk::decompress(&value[HEADER_LEN..], STATE_LIMIT)
                    .map_err(|e| format!("business {id:?}: state does not decompress: {e}"))?;
                let (state, used): (BusinessState, usize) =
                    bincode::decode_from_slice(&raw, CONFIG)
                        .map_err(|e| format!("business {id:?}: state does not decode: {e}"))?;
                if used != raw.len() {
                    return Err(format!("business {id:?}: trailing bytes after the state"));
                }
                self.states.insert(id.to_owned(), (offset, state));
            }
            kind => return Err(format!("unknown record kind {kind}")),
        }
        Ok(())
    }

    /// Records folded in.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The latest finished checkpoint's offset, if any checkpoint finished.
    pub fn marker(&self) -> Option<i64> {
        self.marker
    }

    /// The partition as of the latest finished checkpoint, resuming at its offset, or at
    /// `start` when no checkpoint finished.
    pub fn finish(self, start: i64) -> PartitionState {
        let next = self.marker.unwrap_or(start);
        let mut p = PartitionState::starting_at(next);
        for (id, (offset, state)) in self.states {
            if offset > next {
                p.skip_before.insert(id.clone(), offset);
            }
            p.businesses.insert(id, state);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spamward_core::{Event, Policy, apply};

    fn events() -> Vec<Event> {
        crate::tests::world(20, 5_000, 2, 3)
    }

    /// Verdicts of each event applied through a partition, with checkpoints after `cut`
    /// events restored into a fresh partition mid-way: the same as never stopping.
    #[test]
    fn a_restored_checkpoint_continues_like_never_stopping() {
        let evs = events();
        let policy = Policy::default();
        let run = |p: &mut PartitionState, from: usize, to: usize| -> Vec<String> {
            let mut out = Vec::new();
            for (i, ev) in evs.iter().enumerate().take(to).skip(from) {
                if let Some(state) = p.state_for(ev.business(), i as i64, ev.ts())
                    && let Some(v) = apply(state, ev, Default::default(), None, &policy)
                {
                    out.push(format!("{v:?}"));
                }
            }
            out
        };
        let mut whole = PartitionState::default();
        let expected = run(&mut whole, 0, evs.len());
        assert!(expected.len() > 100, "the log has messages");

        let cut = evs.len() / 3;
        let later = 2 * evs.len() / 3;
        let mut first = PartitionState::default();
        let mut got = run(&mut first, 0, cut);
        let mut changelog = Vec::new();
        let (states, marker) = first.checkpoint();
        assert!(!states.is_empty());
        changelog.extend(states);
        changelog.push(marker);
        // More events, then a checkpoint that dies before its marker, for half its records.
        got.extend(run(&mut first, cut, later));
        let (states, _marker) = first.checkpoint();
        let half = states.len() / 2;
        changelog.extend(states.into_iter().take(half));

        let mut restore = Restore::default();
        for (k, v) in &changelog {
            restore.add(k, v).unwrap();
        }
        assert_eq!(restore.marker(), Some(cut as i64));
        let mut second = restore.finish(0);
        assert_eq!(second.next_offset(), cut as i64);
        // Events from the marker on are read again: those a restored state already holds are
        // skipped, the rest scored again, and the verdicts from `later` on are the same.
        let again = run(&mut second, cut, evs.len());
        let tail = expected.len() - got.len();
        assert_eq!(again[again.len() - tail..], expected[got.len()..]);
    }

    #[test]
    fn damaged_records_are_refused_with_a_reason() {
        let mut p = PartitionState::default();
        let ev = &events()[0];
        p.state_for(ev.business(), 0, ev.ts());
        let (states, marker) = p.checkpoint();
        let (key, value) = &states[0];
        let mut r = Restore::default();
        assert!(r.add(key, b"nope").unwrap_err().contains("magic"));
        let mut cut = value.clone();
        cut.truncate(cut.len() - 3);
        assert!(r.add(key, &cut).unwrap_err().contains("decompress"));
        let mut kind = value.clone();
        kind[4] = 9;
        assert!(r.add(key, &kind).unwrap_err().contains("kind 9"));
        assert!(r.add(b"\0x", value).unwrap_err().contains("business id"));
        r.add(&marker.0, &marker.1).unwrap();
        assert_eq!(r.marker(), Some(1));
    }
}
