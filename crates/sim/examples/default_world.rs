//! Generates a world and prints its size, speed and per-archetype rates.
//!
//! `cargo run --release -p spamward-sim --example default_world -- [scale] [businesses] [days] [seed]`

use std::time::Instant;

use spamward_sim::{World, WorldConfig, summary::Summary};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg = WorldConfig::default();
    if let Some(s) = args.first() {
        cfg.scale = s.parse().expect("scale");
    }
    if let Some(b) = args.get(1) {
        cfg.businesses = b.parse().expect("businesses");
    }
    if let Some(d) = args.get(2) {
        cfg.days = d.parse().expect("days");
    }
    if let Some(s) = args.get(3) {
        cfg.seed = s.parse().expect("seed");
    }
    let analyse = std::env::var_os("NO_SUMMARY").is_none();
    let world = World::new(cfg).expect("valid config");
    let mut summary = Summary::new();
    let mut json_bytes = 0u64;
    let encode = std::env::var_os("ENCODE").is_some();
    let mut buf = Vec::new();
    let t = Instant::now();
    let stats = world
        .run(|batch| {
            for e in batch {
                if analyse {
                    summary.observe(e);
                }
                if encode {
                    buf.clear();
                    e.write_json(&mut buf);
                    json_bytes += buf.len() as u64 + 1;
                }
            }
            Ok::<(), ()>(())
        })
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!("{stats:#?}");
    println!(
        "{:.2} s, {:.0} events/s{}",
        secs,
        stats.events as f64 / secs,
        if encode {
            format!(", {:.1} MB of JSON", json_bytes as f64 / 1e6)
        } else {
            String::new()
        }
    );
    if analyse {
        println!(
            "{:<20} {:>4} {:>9} {:>8} {:>7} {:>7} {:>7} {:>8} {:>7}",
            "archetype", "n", "messages", "unique", "fail%", "read%", "compl%", "optout%", "reply%"
        );
        for (a, r) in summary.by_archetype(world.truth()) {
            println!(
                "{:<20} {:>4} {:>9} {:>8} {:>7.2} {:>7.1} {:>7.3} {:>8.3} {:>7.2}",
                a.as_str(),
                r.businesses,
                r.messages,
                r.unique_recipients,
                100.0 * r.failure_rate(),
                100.0 * r.read_rate(),
                100.0 * r.complaint_rate(),
                100.0 * r.opt_out_rate(),
                100.0 * r.replies as f64 / r.messages.max(1) as f64,
            );
        }
    }
}
