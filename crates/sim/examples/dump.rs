//! Prints a small world's log as JSON Lines on stdout and its ground truth on stderr.
//!
//! `cargo run -p spamward-sim --example dump -- [businesses] [days] [seed] > log.jsonl 2> truth.json`

use std::io::Write;

use spamward_sim::{World, WorldConfig};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let cfg = WorldConfig {
        businesses: args.first().map_or(30, |&n| n as usize),
        recipients: 20_000,
        days: args.get(1).map_or(3, |&d| d as u32),
        seed: args.get(2).copied().unwrap_or(7),
        ..WorldConfig::default()
    };
    let world = World::new(cfg).expect("valid config");
    eprintln!(
        "{}",
        serde_json::to_string_pretty(world.truth()).expect("truth serialises")
    );
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let mut buf = Vec::new();
    world
        .run(|batch| {
            for e in batch {
                buf.clear();
                e.write_json(&mut buf);
                buf.push(b'\n');
                out.write_all(&buf)?;
            }
            Ok::<(), std::io::Error>(())
        })
        .expect("stdout");
}
