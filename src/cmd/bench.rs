//! `spamward bench`: how fast spamward is on this machine, measured the way it is used.
//!
//! It makes (or takes) a log, then measures, several times each and reporting medians: replay as a
//! separate `spamward replay` process (messages/s, MB/s and its peak resident memory), the pipe
//! filter as a separate `spamward filter` process fed the log on stdin, and in-process
//! `Filter::check` latency per message (an HDR histogram: p50, p99, p99.9). Separate processes
//! measure what an operator gets, start-up and I/O included.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use serde::Serialize;
use spamward_core::{Event, Policy};
use spamward_filter::Filter;
use spamward_log::LogReader;
use spamward_sim::{World, WorldConfig};

use crate::util::thousands;

/// Events in the default world at scale 1.
const DEFAULT_WORLD_EVENTS: f64 = 4_342_846.0;

/// Options of a bench run.
pub struct BenchOptions {
    /// Events to generate when no input is given.
    pub events: u64,
    /// A log to use instead.
    pub input: Option<PathBuf>,
    /// Threads for replay.
    pub threads: Option<usize>,
    /// Format of the generated log: `bin` or `jsonl`.
    pub format: String,
    /// Repetitions of each measurement.
    pub runs: usize,
    /// Print JSON.
    pub json: bool,
}

/// The figures.
#[derive(Serialize)]
struct Figures {
    input: String,
    input_bytes: u64,
    events: u64,
    messages: u64,
    threads: String,
    runs: usize,
    replay_seconds_median: f64,
    replay_messages_per_second: f64,
    replay_events_per_second: f64,
    replay_mb_per_second: f64,
    replay_peak_rss_mb: f64,
    filter_pipe_messages_per_second: Option<f64>,
    check_p50_us: f64,
    check_p99_us: f64,
    check_p999_us: f64,
    check_max_us: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Peak resident memory of the children waited for so far, in bytes.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage writes into the struct we own; RUSAGE_CHILDREN is a valid selector.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    if rc == 0 {
        usage.ru_maxrss as u64 * 1024
    } else {
        0
    }
}

fn generate(dir: &Path, events: u64, format: &str) -> Result<PathBuf> {
    let scale = (events as f64 / DEFAULT_WORLD_EVENTS).max(0.001);
    let config = WorldConfig {
        scale,
        ..WorldConfig::default()
    };
    let world = World::new(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = dir.join(format!("events.{format}"));
    let mut w = spamward_log::LogWriter::create(&path)?;
    world.run(|batch| -> Result<(), spamward_log::Error> {
        for e in batch {
            w.write(e)?;
        }
        Ok(())
    })?;
    w.finish()?;
    Ok(path)
}

/// Runs the benchmark.
pub fn run(opts: BenchOptions) -> Result<bool> {
    let exe = std::env::current_exe().context("cannot find the spamward executable")?;
    let dir = tempfile::tempdir()?;
    let input = match &opts.input {
        Some(p) => p.clone(),
        None => {
            eprintln!("generating about {} events ...", thousands(opts.events));
            generate(dir.path(), opts.events, &opts.format)?
        }
    };
    let input_bytes = std::fs::metadata(&input)
        .with_context(|| format!("cannot read {}", input.display()))?
        .len();
    let threads = opts.threads.map_or("all".to_owned(), |t| t.to_string());

    // Replay, as its own process.
    let report = dir.path().join("report.json");
    let mut seconds = Vec::new();
    for _ in 0..opts.runs.max(1) {
        let mut cmd = Command::new(&exe);
        cmd.args(["replay", "-q", "--verdicts", "/dev/null", "--report"])
            .arg(&report)
            .arg(&input)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(t) = opts.threads {
            cmd.args(["--threads", &t.to_string()]);
        }
        let started = Instant::now();
        let out = cmd.output()?;
        seconds.push(started.elapsed().as_secs_f64());
        if !out.status.success() {
            bail!("replay failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&report)?)?;
    let events = summary["summary"]["events"].as_u64().unwrap_or(0);
    let messages = summary["summary"]["messages"].as_u64().unwrap_or(0);
    let peak = children_peak_rss();
    let replay = median(&mut seconds);

    // The pipe filter, as its own process, fed JSON Lines.
    let jsonl = if input.to_string_lossy().ends_with(".jsonl") {
        Some(input.clone())
    } else {
        let p = dir.path().join("pipe.jsonl");
        let mut reader = LogReader::open(&input)?;
        let mut w = std::io::BufWriter::new(File::create(&p)?);
        let mut line = Vec::new();
        for rec in &mut reader {
            line.clear();
            rec.map_err(|e| anyhow::anyhow!("{e}"))?
                .event
                .write_json(&mut line);
            line.push(b'\n');
            w.write_all(&line)?;
        }
        w.flush()?;
        Some(p)
    };
    let mut pipe = Vec::new();
    if let Some(p) = &jsonl {
        for _ in 0..opts.runs.max(1) {
            let started = Instant::now();
            let status = Command::new(&exe)
                .arg("filter")
                .stdin(File::open(p)?)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            pipe.push(started.elapsed().as_secs_f64());
            if !status.success() {
                bail!("the pipe filter failed");
            }
        }
    }

    // In-process check latency, every event in order, messages timed.
    let filter = Filter::new(Policy::default());
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let mut reader = LogReader::open(&input)?;
    for rec in &mut reader {
        let ev = rec.map_err(|e| anyhow::anyhow!("{e}"))?.event;
        if let Event::Message(_) = &ev {
            let t = Instant::now();
            std::hint::black_box(filter.observe(&ev));
            hist.record(t.elapsed().as_nanos().max(1) as u64)?;
        } else {
            filter.observe(&ev);
        }
    }
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;

    let f = Figures {
        input: input.display().to_string(),
        input_bytes,
        events,
        messages,
        threads,
        runs: opts.runs.max(1),
        replay_seconds_median: replay,
        replay_messages_per_second: messages as f64 / replay,
        replay_events_per_second: events as f64 / replay,
        replay_mb_per_second: input_bytes as f64 / 1e6 / replay,
        replay_peak_rss_mb: peak as f64 / 1e6,
        filter_pipe_messages_per_second: (!pipe.is_empty())
            .then(|| messages as f64 / median(&mut pipe)),
        check_p50_us: us(0.5),
        check_p99_us: us(0.99),
        check_p999_us: us(0.999),
        check_max_us: hist.max() as f64 / 1000.0,
    };
    let mut o = std::io::stdout().lock();
    if opts.json {
        serde_json::to_writer_pretty(&mut o, &f)?;
        writeln!(o)?;
        return Ok(true);
    }
    writeln!(
        o,
        "input       {} ({:.1} MB, {} events, {} messages)",
        f.input,
        f.input_bytes as f64 / 1e6,
        thousands(f.events),
        thousands(f.messages)
    )?;
    writeln!(
        o,
        "replay      {:.0} messages/s, {:.0} events/s, {:.1} MB/s (median of {}, threads {}), peak RSS {:.0} MB",
        f.replay_messages_per_second,
        f.replay_events_per_second,
        f.replay_mb_per_second,
        f.runs,
        f.threads,
        f.replay_peak_rss_mb
    )?;
    if let Some(m) = f.filter_pipe_messages_per_second {
        writeln!(o, "filter pipe {m:.0} messages/s (median of {})", f.runs)?;
    }
    writeln!(
        o,
        "check       p50 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs, max {:.0} µs (in-process, one thread)",
        f.check_p50_us, f.check_p99_us, f.check_p999_us, f.check_max_us
    )?;
    Ok(true)
}
