//! Criterion benches of the scoring path, one group per stage, with `Throughput::Elements`.
//!
//! `cargo bench --bench core` — medians go in README's performance table. Stages: decoding an
//! event from JSON Lines and from the binary log; the content analysis of a message text, part by
//! part (normalisation, rules, links and phones, classifier, fingerprint) and whole; judging one
//! message on a business's state (state update and decision); and the engine end to end over a
//! small world. Texts are the generated world's, in log order.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use spamward_content::{ContentEngine, Fingerprint, Normalizer, Scratch};
use spamward_core::business::{BusinessState, MessageContext, recipient_key};
use spamward_core::{Engine, Event, Policy};
use spamward_log::{Format, LogReader, LogWriter};
use spamward_sim::{World, WorldConfig};

/// A small world's events, generated once.
fn events() -> Vec<Event> {
    let config = WorldConfig {
        businesses: 60,
        recipients: 30_000,
        days: 2,
        seed: 7,
        ..WorldConfig::default()
    };
    World::new(config).expect("valid world").events()
}

/// The events as a binary log in memory.
fn binary(events: &[Event]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.bin");
    let mut w = LogWriter::create(&path).unwrap();
    for e in events {
        w.write(e).unwrap();
    }
    w.finish().unwrap();
    std::fs::read(path).unwrap()
}

fn decode(c: &mut Criterion, events: &[Event]) {
    let sample = &events[..events.len().min(100_000)];
    let lines: Vec<String> = sample.iter().map(Event::to_json).collect();
    let mut g = c.benchmark_group("Event::from_json");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("jsonl", |b| {
        b.iter(|| {
            for l in &lines {
                std::hint::black_box(Event::from_json(l.as_bytes()).unwrap());
            }
        })
    });
    g.finish();

    let bin = binary(sample);
    let mut g = c.benchmark_group("LogReader");
    g.throughput(Throughput::Elements(sample.len() as u64));
    g.bench_function("binary", |b| {
        b.iter(|| {
            let r = LogReader::from_reader(
                "bench",
                std::io::Cursor::new(bin.clone()),
                Some(Format::Binary),
            )
            .unwrap();
            for rec in r {
                std::hint::black_box(rec.unwrap());
            }
        })
    });
    g.finish();
}

fn judge(c: &mut Criterion, events: &[Event]) {
    // One busy business's messages, judged on its own state (state update and decision).
    let busiest = {
        let mut counts = std::collections::HashMap::<&str, usize>::new();
        for e in events {
            *counts.entry(e.business()).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(b, n)| (*n, *b))
            .map(|(b, _)| b.to_owned())
            .unwrap()
    };
    let mine: Vec<&spamward_core::Message> = events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.business == busiest => Some(m),
            _ => None,
        })
        .collect();
    let policy = Policy::default();
    let mut g = c.benchmark_group("BusinessState::on_message");
    g.throughput(Throughput::Elements(mine.len() as u64));
    g.bench_function("busiest_business", |b| {
        b.iter_batched(
            || BusinessState::new(mine[0].ts),
            |mut s| {
                for m in &mine {
                    std::hint::black_box(s.on_message(
                        m,
                        recipient_key(&m.recipient),
                        MessageContext::default(),
                        None,
                        &policy,
                    ));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn engine(c: &mut Criterion, events: &[Event]) {
    let mut g = c.benchmark_group("Engine::process");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("world_60x2d", |b| {
        b.iter_batched(
            || Engine::new(Policy::default()),
            |mut e| {
                for chunk in events.chunks(1 << 16) {
                    std::hint::black_box(e.process(chunk));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn content(c: &mut Criterion, events: &[Event]) {
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.text.as_str()),
            _ => None,
        })
        .take(20_000)
        .collect();
    let engine = ContentEngine::default();
    let mut scratch = Scratch::new();
    let mut normalizer = Normalizer::new();
    let normal: Vec<_> = texts.iter().map(|t| normalizer.normalize(t)).collect();
    let analysed: Vec<_> = texts
        .iter()
        .map(|t| engine.analyze_with(t, &mut scratch))
        .collect();
    let n = Throughput::Elements(texts.len() as u64);

    let mut g = c.benchmark_group("content");
    g.throughput(n);
    g.bench_function("normalize", |b| {
        b.iter(|| {
            texts
                .iter()
                .for_each(|t| drop(black_box(normalizer.normalize(t))))
        })
    });
    g.bench_function("rules", |b| {
        b.iter(|| {
            normal
                .iter()
                .for_each(|t| drop(black_box(engine.rules().scan(t))))
        })
    });
    g.bench_function("links_and_phones", |b| {
        b.iter(|| {
            texts
                .iter()
                .for_each(|t| drop(black_box(engine.links().scan(t))))
        })
    });
    let model = engine.model().expect("the shipped model");
    g.bench_function("classifier", |b| {
        b.iter(|| {
            for (t, a) in texts.iter().zip(&analysed) {
                black_box(model.spam_probability(t, a, &mut scratch));
            }
        })
    });
    g.bench_function("fingerprint", |b| {
        b.iter(|| {
            for a in &analysed {
                black_box(Fingerprint::of_normalized(&a.normalized.text, &mut scratch));
            }
        })
    });
    g.bench_function("analyze", |b| {
        b.iter(|| {
            texts
                .iter()
                .for_each(|t| drop(black_box(engine.analyze_with(t, &mut scratch))))
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let events = events();
    decode(c, &events);
    content(c, &events);
    judge(c, &events);
    engine(c, &events);
}

criterion_group!(core, benches);
criterion_main!(core);
