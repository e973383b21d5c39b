//! Criterion benches of the scoring path, one group per stage, with `Throughput::Elements`.
//!
//! `cargo bench --bench core` — medians go in README's performance table.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use spamward_core::{Engine, Event, Policy};
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
    let world = World::new(config).expect("valid world");
    let mut out = Vec::new();
    world
        .run(|batch| {
            out.extend_from_slice(batch);
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap();
    out
}

fn decode(c: &mut Criterion, events: &[Event]) {
    let lines: Vec<String> = events.iter().take(100_000).map(Event::to_json).collect();
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

fn benches(c: &mut Criterion) {
    let events = events();
    decode(c, &events);
    engine(c, &events);
}

criterion_group!(core, benches);
criterion_main!(core);
