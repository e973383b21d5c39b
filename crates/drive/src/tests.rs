//! The driver against the engine run batch after batch (and event by event, for an explanation),
//! with the next batch's cross-business pass run ahead and not, on one thread and on two; the
//! reader's bad lines and stops.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use spamward_core::{Analyzer, Engine, Policy, Standing, Verdict};
use spamward_log::{LogWriter, ReadError};
use spamward_sim::{World, WorldConfig};

use super::*;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A generated world's log: enough events for several batches.
fn world() -> Vec<Event> {
    let config = WorldConfig {
        businesses: 40,
        recipients: 20_000,
        days: 2,
        seed: 11,
        ..WorldConfig::default()
    };
    let events = World::new(config).expect("valid world").events();
    assert!(events.len() > 4 * BATCH, "{} events", events.len());
    events
}

/// `events` written as a log at `path` (its format from its extension).
fn write_log(path: &Path, events: &[Event]) {
    let mut w = LogWriter::create(path).unwrap();
    for e in events {
        w.write(e).unwrap();
    }
    w.finish().unwrap();
}

/// A watch that tells nothing and never stops the reading.
struct Quiet;

impl Watch for Quiet {
    fn progress(&mut self, _bytes: u64, _events: u64) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    fn skipped(&mut self, _bad_lines: u64, _error: &ReadError) {}
}

/// The shipped content heuristics; `quick` as told.
struct Facts {
    analyzer: Analyzer,
    quick: bool,
}

impl Facts {
    fn new(quick: bool) -> Facts {
        Facts {
            analyzer: Engine::new(Policy::default()).analyzer(),
            quick,
        }
    }
}

impl Analysis for Facts {
    type Error = Error;

    fn quick(&self) -> bool {
        self.quick
    }

    fn analyze(&mut self, events: &[Event]) -> Result<Analyzed, Error> {
        Ok(self.analyzer.analyze(events))
    }
}

/// Every batch's events and results, in the order the sink got them.
struct Collect<S> {
    events: Vec<Event>,
    scored: Vec<S>,
}

impl<S> Collect<S> {
    fn new() -> Collect<S> {
        Collect {
            events: Vec::new(),
            scored: Vec::new(),
        }
    }
}

impl<S: Send> Sink<S> for Collect<S> {
    type Error = Error;

    fn take(&mut self, events: &[Event], scored: S) -> Result<(), Error> {
        self.events.extend_from_slice(events);
        self.scored.push(scored);
        Ok(())
    }
}

/// The logs of the test: the world written once as a binary log.
struct Logs {
    _dir: tempfile::TempDir,
    events: Vec<Event>,
    paths: Vec<PathBuf>,
}

fn logs() -> Logs {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.bin");
    let events = world();
    write_log(&path, &events);
    Logs {
        _dir: dir,
        events,
        paths: vec![path],
    }
}

/// An engine's verdicts and standings, the engine run batch after batch.
fn processed(events: &[Event], policy: &Policy) -> (Vec<Verdict>, Vec<(String, Standing)>) {
    let analyzer = Facts::new(false).analyzer;
    let mut engine = Engine::with_content(policy.clone(), None);
    let verdicts = events
        .chunks(BATCH)
        .flat_map(|batch| engine.process_analyzed(batch, &analyzer.analyze(batch)))
        .collect();
    (verdicts, engine.finish())
}

/// A policy that decides otherwise than the default one: a recipient tires sooner.
fn other_policy() -> Policy {
    let mut p = Policy::default();
    p.signals.recipient_fatigue_24h.cap = 1;
    p
}

fn run_one(logs: &Logs, quick: bool) -> (Vec<Verdict>, Vec<(String, Standing)>) {
    let mut engine = Engine::with_content(Policy::default(), None);
    let mut sink = Collect::new();
    let reader = Reader::spawn(&logs.paths, 0, Quiet);
    let outcome = run(
        reader,
        &mut Facts::new(quick),
        &mut One(&mut engine),
        &mut sink,
    )
    .unwrap();
    assert_eq!((outcome.bad_lines, outcome.failure), (0, None));
    assert_eq!(
        sink.events, logs.events,
        "the sink sees every event in order"
    );
    (sink.scored.concat(), engine.finish())
}

#[test]
fn one_engine_gives_the_verdicts_of_processing_batch_after_batch() {
    let logs = logs();
    let expected = processed(&logs.events, &Policy::default());
    for quick in [false, true] {
        assert_eq!(run_one(&logs, quick), expected, "quick: {quick}");
    }
}

#[test]
fn the_results_are_the_same_on_one_thread_and_on_two() {
    let logs = logs();
    for quick in [false, true] {
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| run_one(&logs, quick))
        };
        assert_eq!(on(1), on(2), "quick: {quick}");
    }
}

#[test]
fn two_engines_give_each_engines_verdicts() {
    let logs = logs();
    let (old_policy, new_policy) = (Policy::default(), other_policy());
    let (old_expected, new_expected) = (
        processed(&logs.events, &old_policy),
        processed(&logs.events, &new_policy),
    );
    assert_ne!(old_expected.0, new_expected.0, "the policies differ");
    for quick in [false, true] {
        let mut old = Engine::with_content(old_policy.clone(), None);
        let mut new = Engine::with_content(new_policy.clone(), None);
        let mut sink = Collect::new();
        let reader = Reader::spawn(&logs.paths, 0, Quiet);
        run(
            reader,
            &mut Facts::new(quick),
            &mut Pair(&mut old, &mut new),
            &mut sink,
        )
        .unwrap();
        let (a, b): (Vec<Vec<Verdict>>, Vec<Vec<Verdict>>) = sink.scored.into_iter().unzip();
        assert_eq!((a.concat(), old.finish()), old_expected, "quick: {quick}");
        assert_eq!((b.concat(), new.finish()), new_expected, "quick: {quick}");
    }
}

#[test]
fn explain_gives_the_messages_readings_and_every_verdict() {
    let logs = logs();
    // A message in the third batch, so batches are scored in two passes before and after it.
    let (index, target) = logs
        .events
        .iter()
        .enumerate()
        .skip(2 * BATCH + 100)
        .find_map(|(i, e)| match e {
            Event::Message(m) => Some((i, m.clone())),
            _ => None,
        })
        .unwrap();
    // Expected: the engine event by event, the message explained.
    let analyzer = Facts::new(false).analyzer;
    let facts = analyzer.analyze(&logs.events);
    let mut engine = Engine::with_content(Policy::default(), None);
    let mut verdicts = Vec::new();
    let mut explained = None;
    for (i, (ev, f)) in logs.events.iter().zip(facts.facts()).enumerate() {
        if let Some((v, readings)) = engine.observe_analyzed(ev, f.as_ref(), i == index) {
            if i == index {
                explained = Some((v.clone(), readings));
            }
            verdicts.push(v);
        }
    }
    let standings = engine.finish();
    let (verdict, readings) = explained.unwrap();
    assert!(!readings.is_empty());

    for quick in [false, true] {
        let mut engine = Engine::with_content(Policy::default(), None);
        let mut sink = Collect::new();
        let reader = Reader::spawn(&logs.paths, 0, Quiet);
        let mut scoring = Explain::new(&mut engine, &target.business, Some(&target.id));
        run(reader, &mut Facts::new(quick), &mut scoring, &mut sink).unwrap();
        let mut got = Vec::new();
        let mut targets = Vec::new();
        for (k, batch) in sink.scored.into_iter().enumerate() {
            got.extend(batch.verdicts);
            if let Some(t) = batch.target {
                targets.push((k * BATCH + t.event, t.verdict, t.readings));
            }
        }
        assert_eq!(got, verdicts, "quick: {quick}");
        assert_eq!(
            targets,
            vec![(index, verdict.clone(), readings.clone())],
            "quick: {quick}"
        );
        assert_eq!(engine.finish(), standings, "quick: {quick}");
    }
}

/// Records what the reader told; stops it at the first progress report when asked to.
struct Told {
    stop: bool,
    progress: std::sync::Arc<std::sync::Mutex<Vec<(u64, u64)>>>,
    skipped: std::sync::Arc<std::sync::Mutex<Vec<(u64, u64)>>>,
}

impl Watch for Told {
    fn progress(&mut self, bytes: u64, events: u64) -> ControlFlow<()> {
        self.progress.lock().unwrap().push((bytes, events));
        if self.stop {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn skipped(&mut self, bad_lines: u64, error: &ReadError) {
        self.skipped.lock().unwrap().push((bad_lines, error.line()));
    }
}

/// Reads `paths` to the end with `watch`; the events read and the outcome.
fn read(paths: &[PathBuf], max_errors: u64, watch: Told) -> (Vec<Event>, ReadOutcome) {
    let reader = Reader::spawn(paths, max_errors, watch);
    let mut events = Vec::new();
    for batch in &reader.batches {
        events.extend_from_slice(&batch);
        reader.spent.give_back(batch);
    }
    (events, reader.finish().unwrap())
}

#[test]
fn the_reader_skips_bad_lines_up_to_the_limit_and_stops_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Event> = world().into_iter().take(5000).collect();
    let path = dir.path().join("events.jsonl");
    write_log(&path, &events);
    // Lines 3 and 10 of the file spoiled.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, "{not json");
    lines.insert(9, "{\"type\":\"unknown\"}");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let paths = vec![path];
    let watch = |stop| Told {
        stop,
        progress: Default::default(),
        skipped: Default::default(),
    };

    let told = watch(false);
    let (progress, skipped) = (told.progress.clone(), told.skipped.clone());
    let (read_events, outcome) = read(&paths, 2, told);
    assert_eq!(read_events, events);
    assert_eq!((outcome.bad_lines, outcome.failure), (2, None));
    assert_eq!(*skipped.lock().unwrap(), vec![(1, 3), (2, 10)]);
    assert_eq!(progress.lock().unwrap().len(), 1, "every 4,096 lines");

    let (_, outcome) = read(&paths, 1, watch(false));
    let failure = outcome.failure.unwrap();
    assert!(failure.starts_with("more than 1 bad lines"), "{failure}");

    let (read_events, outcome) = read(&paths, 2, watch(true));
    assert_eq!(outcome.failure.as_deref(), Some("interrupted"));
    assert!(read_events.len() < events.len());
}
