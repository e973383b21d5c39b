//! A filter stopped anywhere and restored from its state directory gives the verdicts of one
//! that never stopped.

use spamward_core::Policy;

use super::*;

/// A small generated world's log.
fn world(seed: u64) -> Vec<Event> {
    crate::tests::world_of(30, 10_000, 2, seed)
}

/// Each event's verdict (if a message) from a filter that never stops.
fn uninterrupted(events: &[Event]) -> (Vec<Option<Verdict>>, FilterCounts) {
    let filter = Filter::new(Policy::default());
    let verdicts = events.iter().map(|ev| filter.observe(ev)).collect();
    (verdicts, filter.counts())
}

fn options(snapshot_every: u64) -> DurableOptions {
    DurableOptions {
        snapshot_every,
        resume_after: None,
    }
}

fn open(dir: &Path, opts: &DurableOptions) -> Restored {
    Durable::open(dir, &Filter::builder(), opts).unwrap()
}

/// Feeds `events` as the pipe does: journal, apply, commit every `piece` events, snapshot when
/// due at a commit. Then "crashes": appends a few more without committing, and drops all.
fn run_until_crash(dir: &Path, opts: &DurableOptions, events: &[Event], piece: usize) {
    let Restored {
        filter,
        mut durable,
        ..
    } = open(dir, opts);
    for chunk in events.chunks(piece) {
        for ev in chunk {
            durable.observe(&filter, ev).unwrap();
        }
        durable.commit().unwrap();
        if durable.snapshot_due() {
            durable.snapshot(&filter).unwrap();
        }
    }
    for ev in events.iter().take(3) {
        durable.append(ev).unwrap();
    }
}

fn finish(restored: Restored, events: &[Event]) -> (Vec<Option<Verdict>>, FilterCounts) {
    let Restored {
        filter,
        mut durable,
        ..
    } = restored;
    let verdicts = events
        .iter()
        .map(|ev| durable.observe(&filter, ev).unwrap())
        .collect();
    durable.commit().unwrap();
    (verdicts, filter.counts())
}

#[test]
fn a_restored_filter_goes_on_as_if_it_had_never_stopped() {
    let events = world(3);
    let (expected, counts) = uninterrupted(&events);
    let k = events.len() * 3 / 5;
    // Journal only; then snapshots every few thousand events, the crash between two of them.
    for every in [u64::MAX, 4_000] {
        let dir = tempfile::tempdir().unwrap();
        run_until_crash(dir.path(), &options(every), &events[..k], 1_000);
        let restored = open(dir.path(), &options(every));
        let r = &restored.recovery;
        assert_eq!(r.applied, k as u64, "every {every}");
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        if every == u64::MAX {
            assert_eq!(r.snapshot, None);
        } else {
            let s = r.snapshot.expect("a snapshot was taken");
            assert!(s <= k as u64 && k as u64 - s < every + 1_000, "{s}");
            assert_eq!(restored.durable.snapshots().len(), 2);
            assert_eq!(
                r.to_string(),
                format!(
                    "restored {k} events (snapshot at {s}, journal {s}..{k}); continue the input \
                 after event {k}"
                )
            );
        }
        let (verdicts, got) = finish(restored, &events[k..]);
        assert!(verdicts == expected[k..], "every {every}: verdicts differ");
        assert_eq!(got, counts);
    }
}

#[test]
fn old_snapshots_and_segments_are_deleted_but_the_previous_snapshot_stays() {
    let events = world(4);
    let dir = tempfile::tempdir().unwrap();
    let k = events.len() / 2;
    run_until_crash(dir.path(), &options(2_000), &events[..k], 500);
    let restored = open(dir.path(), &options(2_000));
    let snaps = restored.durable.snapshots().to_vec();
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    // Segments start at the older snapshot: everything after it is still there.
    assert_eq!(restored.durable.segments(), snaps);
    let mut files: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let want: Vec<String> = snaps
        .iter()
        .map(|&s| spamward_log::journal::segment_name(s))
        .chain(snaps.iter().map(|&s| snapshot_name(s)))
        .collect();
    let mut want = want;
    want.sort();
    assert_eq!(files, want);
}

#[test]
fn a_corrupt_newest_snapshot_falls_back_to_the_previous_one() {
    let events = world(5);
    let (expected, counts) = uninterrupted(&events);
    let k = events.len() / 2;
    let dir = tempfile::tempdir().unwrap();
    run_until_crash(dir.path(), &options(3_000), &events[..k], 1_000);
    let snaps = open(dir.path(), &options(3_000))
        .durable
        .snapshots()
        .to_vec();
    let newest = dir.path().join(snapshot_name(snaps[1]));
    let mut bytes = fs::read(&newest).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    fs::write(&newest, &bytes).unwrap();

    let restored = open(dir.path(), &options(3_000));
    let r = &restored.recovery;
    assert_eq!((r.snapshot, r.applied), (Some(snaps[0]), k as u64));
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert!(r.notes[0].contains("CRC-32 mismatch"), "{}", r.notes[0]);
    assert!(
        r.notes[0].contains(&snapshot_name(snaps[1])),
        "{}",
        r.notes[0]
    );
    assert!(
        dir.path()
            .join(format!("{}.corrupt", snapshot_name(snaps[1])))
            .exists()
    );
    let (verdicts, got) = finish(restored, &events[k..]);
    assert!(verdicts == expected[k..], "verdicts differ");
    assert_eq!(got, counts);
}

#[test]
fn unreadable_snapshots_are_refused_for_a_reason() {
    let filter = Filter::new(Policy::default());
    for ev in world(6).iter().take(2_000) {
        filter.observe(ev);
    }
    let good = encode_snapshot(&filter, 2_000);
    let b = Filter::builder();
    let (back, n) = decode_snapshot(&good, &b).unwrap();
    assert_eq!(
        (n, back.counts(), back.businesses()),
        (2_000, filter.counts(), filter.businesses())
    );
    assert_eq!(back.fatigue_entries(), filter.fatigue_entries());
    let mut cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..10].to_vec(), "shorter than the header"),
        (b"{\"not\":\"a snapshot\"}".to_vec(), "bad magic"),
    ];
    let mut newer = good.clone();
    newer[9..11].copy_from_slice(&(SNAPSHOT_VERSION + 1).to_le_bytes());
    let newer_version = format!("version {}", SNAPSHOT_VERSION + 1);
    cases.push((newer, &newer_version));
    let mut torn = good.clone();
    torn.truncate(good.len() - 5);
    cases.push((torn, "CRC-32 mismatch"));
    // A checksum that matches a payload that is not a state.
    let mut junk = good[..SNAPSHOT_HEADER_LEN].to_vec();
    junk.extend_from_slice(&[0xff; 7]);
    let crc = crc32fast::hash(&junk[SNAPSHOT_HEADER_LEN..]);
    junk[11..15].copy_from_slice(&crc.to_le_bytes());
    cases.push((junk, "undecodable"));
    for (bytes, want) in cases {
        let err = decode_snapshot(&bytes, &b).unwrap_err();
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn verdicts_owed_after_a_crash_are_recomputed_from_the_journal() {
    let events = world(7);
    let (expected, _) = uninterrupted(&events);
    let k = events.len() / 3;
    let dir = tempfile::tempdir().unwrap();
    run_until_crash(dir.path(), &options(5_000), &events[..k], 1_000);
    let snapshot = open(dir.path(), &options(5_000)).recovery.snapshot.unwrap() as usize;
    // The client saw verdicts up to a message between the snapshot and the crash.
    let last_seen = (snapshot..k)
        .rev()
        .nth(200)
        .and_then(|i| (snapshot..=i).rev().find(|&j| expected[j].is_some()))
        .unwrap();
    let id = expected[last_seen].as_ref().unwrap().message.clone();
    let owed =
        |from: usize| -> Vec<Verdict> { expected[from..k].iter().flatten().cloned().collect() };
    let resume = |id: &str| DurableOptions {
        snapshot_every: 5_000,
        resume_after: Some(id.to_owned()),
    };
    let r = open(dir.path(), &resume(&id)).recovery;
    assert!(!r.unacknowledged.is_empty());
    assert!(r.unacknowledged == owed(last_seen + 1));
    // An id the journal does not hold since the snapshot: everything since the snapshot.
    let r = open(dir.path(), &resume("m-none")).recovery;
    assert!(r.unacknowledged == owed(snapshot));
    // Without the option: nothing.
    assert!(
        open(dir.path(), &options(5_000))
            .recovery
            .unacknowledged
            .is_empty()
    );
}
