//! Rough throughput of `ContentEngine::analyze` on ~100-byte messages:
//! `cargo run --release --example throughput [-- MESSAGES [THREADS]]`, or on the texts of a file,
//! one per line: `cargo run --release --example throughput -- --texts FILE`.
//!
//! Prints the time to build the default engine, then messages per second for normalisation alone,
//! rule scanning alone, link extraction alone, the classifier alone (tokenising and scoring an
//! analysed message), the fingerprint alone (tokenising and hashing a normal form), the whole
//! analysis on one thread; then per-message quantiles (p50, p99, p99.9, max) of the whole analysis
//! on a newly built engine and of the rule scan alone on a new rule set, first and second pass
//! over the same texts; then the whole analysis on every available core (one engine clone per
//! thread). With a second argument `THREADS` it runs only the threaded analysis, on that many
//! threads.

use std::hint::black_box;
use std::time::Instant;

use spamward_content::{ContentEngine, Fingerprint, Normalizer, Scratch};

/// Message shapes, legitimate and not, about 100 bytes each once filled in.
const TEMPLATES: &[&str] = &[
    "Your Acme Bank code is {n}. Do not share it with anyone. We will never ask for it.",
    "Flight BA{n} to JFK delayed to 14:35, gate B22. We're sorry for the wait. Details in the app.",
    "Your order #{n} has shipped! Track it at https://shop.example.com/track/{n}",
    "Flash sale 20% off this weekend only at example.com/sale. Reply STOP to opt out. Ref {n}",
    "Acme Bank: a payment of £1,250.00 was made from your account ending {n}. Call 0345 600 1234.",
    "Reminder: your appointment is tomorrow at 10:30. Reply C to confirm or R to reschedule. {n}",
    "URGENT: your PayPal account has been suspended. Verify at paypa1-secure.com/login?id={n}",
    "Congratulations! You have won a £1000 gift card. Claim your prize now at bit.ly/{n}",
    "Royal Mail: your parcel is on hold, unpaid shipping fee £1.45. Pay: royalmail-redelivery.com/{n}",
    "FR€E entry to win £500 cash! Text WIN to 87121. £1.50/msg. 18+ ref {n}",
    "Y0u h@ve w0n! Cla1m your ca$h prize today, call 09061701461 now. Code {n}",
    "Hi mum, I dropped my phone and this is my new number. Can you text me on WhatsApp? {n}",
];

fn messages(n: usize) -> Vec<String> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let t = TEMPLATES[i % TEMPLATES.len()];
            t.replace("{n}", &(state % 1_000_000).to_string())
        })
        .collect()
}

fn rate(label: &str, n: usize, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{label:<34} {:>10.0} messages/s  ({:.2} µs each)",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let texts = match args.first().map(String::as_str) {
        Some("--texts") => {
            let path = args.get(1).expect("--texts FILE");
            let all = std::fs::read_to_string(path).expect("readable texts");
            Some(all.lines().map(str::to_owned).collect::<Vec<_>>())
        }
        _ => None,
    };
    let n: usize = match &texts {
        Some(t) => t.len(),
        None => args.first().and_then(|a| a.parse().ok()).unwrap_or(200_000),
    };
    let started = Instant::now();
    let engine = ContentEngine::default();
    println!(
        "build the default engine: {:.1} ms ({} rules)",
        started.elapsed().as_secs_f64() * 1e3,
        engine.rules().len()
    );
    let msgs = texts.unwrap_or_else(|| messages(n));
    let bytes: usize = msgs.iter().map(String::len).sum();
    println!(
        "{n} messages, {:.0} bytes on average",
        bytes as f64 / n as f64
    );

    if let Some(threads) = args.get(1).and_then(|a| a.parse().ok()) {
        threaded(&engine, &msgs, threads);
        return;
    }

    let mut nz = Normalizer::new();
    let t = Instant::now();
    for m in &msgs {
        black_box(nz.normalize(m));
    }
    rate("normalize", n, t);

    let normal: Vec<_> = msgs.iter().map(|m| nz.normalize(m)).collect();
    let t = Instant::now();
    for m in &normal {
        black_box(engine.rules().scan(m));
    }
    rate("rules scan (normalised input)", n, t);

    let t = Instant::now();
    for m in &msgs {
        black_box(engine.links().scan(m));
    }
    rate("links and phones", n, t);

    let mut scratch = Scratch::new();
    let analysed: Vec<_> = msgs
        .iter()
        .map(|m| engine.analyze_with(m, &mut scratch))
        .collect();
    if let Some(model) = engine.model() {
        let t = Instant::now();
        for (m, a) in msgs.iter().zip(&analysed) {
            black_box(model.spam_probability(m, a, &mut scratch));
        }
        rate("classifier (analysed input)", n, t);
    }
    let t = Instant::now();
    for a in &analysed {
        black_box(Fingerprint::of_normalized(&a.normalized.text, &mut scratch));
    }
    rate("fingerprint (normalised input)", n, t);
    drop(analysed);

    let t = Instant::now();
    for m in &msgs {
        black_box(engine.analyze_with(m, &mut scratch));
    }
    rate("analyze, 1 thread", n, t);

    // Each message timed, on a newly built engine (its automata's caches empty) and fresh
    // working memory: the tail that a caller waiting for one message sees.
    let fresh = ContentEngine::builder().build();
    let mut scratch = Scratch::new();
    let took = timed(&msgs, |m| {
        black_box(fresh.analyze_with(m, &mut scratch));
    });
    quantiles("analyze, each timed, new engine", took);
    // The rule set alone, on a new set, twice over the same texts: on the second pass its lazy
    // DFA has the states the texts need.
    let rules = spamward_content::RuleSet::default();
    for pass in ["first", "second"] {
        let took = timed(&normal, |m| {
            black_box(rules.scan(m));
        });
        quantiles(&format!("rules scan, each timed, {pass} pass"), took);
    }

    let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    threaded(&engine, &msgs, threads);
}

/// The time each item takes, in nanoseconds.
fn timed<T>(items: &[T], mut f: impl FnMut(&T)) -> Vec<u64> {
    items
        .iter()
        .map(|m| {
            let t = Instant::now();
            f(m);
            t.elapsed().as_nanos() as u64
        })
        .collect()
}

fn quantiles(label: &str, mut took: Vec<u64>) {
    took.sort_unstable();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)] as f64 / 1e3;
    println!(
        "{label:<34} p50 {:.2} µs, p99 {:.2} µs, p99.9 {:.1} µs, max {:.0} µs",
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0)
    );
}

/// The whole analysis on `threads` threads, each with its own clone of the engine.
fn threaded(engine: &ContentEngine, msgs: &[String], threads: usize) {
    let n = msgs.len();
    let t = Instant::now();
    std::thread::scope(|s| {
        for chunk in msgs.chunks(n.div_ceil(threads)) {
            let engine = engine.clone();
            s.spawn(move || {
                let mut scratch = Scratch::new();
                for m in chunk {
                    black_box(engine.analyze_with(m, &mut scratch));
                }
            });
        }
    });
    rate(&format!("analyze, {threads} threads (clones)"), n, t);
}
