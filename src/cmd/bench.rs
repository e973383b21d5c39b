//! `spamward bench`: how fast spamward is on this machine, measured the way it is used.
//!
//! It makes (or takes) a log, then measures, several times each and reporting medians: replay as a
//! separate `spamward replay` process (messages/s, MB/s and its peak resident memory), the pipe
//! filter as a separate `spamward filter` process fed the log on stdin, and in-process
//! `Filter::check` latency per message (an HDR histogram: p50, p99, p99.9; also of its two parts,
//! the message's content analysis and the engine applying it, and over the log's second half
//! alone, when the filter's lazily built automata and caches are warm), and the HTTP service
//! as a separate `spamward serve` process on 127.0.0.1, loaded by concurrent connections posting
//! the log's messages to `/v1/check` in batches of 100 (messages/s and per-request latency).
//! Separate processes measure what an operator gets, start-up and I/O included. For each of them
//! (replay, the pipe, the service) it also reports the CPU time, user and system, per message,
//! which is what sizing a deployment needs: messages/s depend on how many cores a machine has and
//! what else runs on them, CPU per message less so.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use serde::Serialize;
use spamward_core::{ContentFacts, Event, Policy};
use spamward_filter::Filter;
use spamward_log::LogReader;
use spamward_sim::{World, WorldConfig};

use crate::util::{LogFormat, thousands};

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
    /// Format of the generated log.
    pub format: LogFormat,
    /// Repetitions of each measurement.
    pub runs: usize,
    /// Print JSON.
    pub json: bool,
    /// Seconds of HTTP load per run; 0 skips the HTTP measurement.
    pub http_seconds: u64,
    /// Concurrent HTTP connections.
    pub http_connections: usize,
    /// Content signals off in every command measured.
    pub no_content: bool,
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
    /// Whether content signals were on (`--no-content` turns them off).
    content_signals: bool,
    replay_seconds_median: f64,
    replay_messages_per_second: f64,
    replay_events_per_second: f64,
    replay_mb_per_second: f64,
    replay_peak_rss_mb: f64,
    /// CPU time (user and system, all threads) of the replay per message, median of the runs.
    replay_cpu_us_per_message: f64,
    /// Replay reading the content analyses a first replay kept (`--analyses`); none with
    /// content signals off.
    replay_kept_messages_per_second: Option<f64>,
    replay_kept_cpu_us_per_message: Option<f64>,
    filter_pipe_messages_per_second: Option<f64>,
    filter_pipe_cpu_us_per_message: Option<f64>,
    check_p50_us: f64,
    check_p99_us: f64,
    check_p999_us: f64,
    check_max_us: f64,
    /// The two parts of each `check`: content analysis (none with content signals off), then
    /// the engine.
    check_content: Option<Percentiles>,
    check_engine: Percentiles,
    /// `check` over the log's second half of messages only: a filter that has run a while, its
    /// lazily built automata and its caches warm. The figures above include the first messages
    /// a new filter sees.
    check_second_half: Percentiles,
    http: Option<Http>,
}

/// Percentiles of `check` or of one of its parts, in µs.
#[derive(Clone, Copy, Serialize)]
struct Percentiles {
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
}

impl Percentiles {
    fn of(hist: &Histogram<u64>) -> Percentiles {
        let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        Percentiles {
            p50_us: us(0.5),
            p99_us: us(0.99),
            p999_us: us(0.999),
        }
    }
}

/// The HTTP service's figures: the run with the median messages/s.
#[derive(Clone, Serialize)]
struct Http {
    connections: usize,
    batch: usize,
    seconds: f64,
    requests: u64,
    messages_per_second: f64,
    request_p50_ms: f64,
    request_p99_ms: f64,
    request_max_ms: f64,
    /// The service's CPU time (user and system) per message answered, its start-up and shutdown
    /// included; the clients run in the bench's own process and are not counted.
    server_cpu_us_per_message: f64,
}

/// Messages per `/v1/check` request.
const HTTP_BATCH: usize = 100;

/// At most this many messages are held as request bodies.
const HTTP_MAX_MESSAGES: usize = 2_000_000;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// What the children waited for so far used: their peak resident memory, in bytes, and their
/// CPU time, user and system, in seconds. The bench runs one child at a time, so the difference
/// before and after a run is that run's.
#[derive(Clone, Copy, Default)]
struct ChildrenUsage {
    peak_rss: u64,
    cpu_seconds: f64,
}

fn children_usage() -> ChildrenUsage {
    // SAFETY: getrusage writes into the struct we own; RUSAGE_CHILDREN is a valid selector.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    if rc != 0 {
        return ChildrenUsage::default();
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    ChildrenUsage {
        peak_rss: usage.ru_maxrss as u64 * 1024,
        cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
    }
}

/// One run of a measured process: wall and CPU seconds.
#[derive(Clone, Copy)]
struct Run {
    wall: f64,
    cpu: f64,
}

/// The medians of runs' wall and CPU seconds (each its own median).
fn medians(runs: &[Run]) -> Run {
    let mut wall: Vec<f64> = runs.iter().map(|r| r.wall).collect();
    let mut cpu: Vec<f64> = runs.iter().map(|r| r.cpu).collect();
    Run {
        wall: median(&mut wall),
        cpu: median(&mut cpu),
    }
}

/// Runs `cmd` to its end, timed, and its output.
fn timed(cmd: &mut Command) -> Result<(Run, std::process::Output)> {
    let before = children_usage().cpu_seconds;
    let started = Instant::now();
    let out = cmd.output()?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = children_usage().cpu_seconds - before;
    Ok((Run { wall, cpu }, out))
}

fn generate(dir: &Path, events: u64, format: LogFormat) -> Result<PathBuf> {
    let scale = (events as f64 / DEFAULT_WORLD_EVENTS).max(0.001);
    let config = WorldConfig {
        scale,
        ..WorldConfig::default()
    };
    let world = World::new(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = dir.join(format!("events.{}", format.extension()));
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
            generate(dir.path(), opts.events, opts.format)?
        }
    };
    let input_bytes = std::fs::metadata(&input)
        .with_context(|| format!("cannot read {}", input.display()))?
        .len();
    let threads = opts.threads.map_or("all".to_owned(), |t| t.to_string());
    // Passed to every command measured.
    let content_flag: &[&str] = if opts.no_content {
        &["--no-content"]
    } else {
        &[]
    };

    // Replay, as its own process.
    let report = dir.path().join("report.json");
    let replays = |extra: &[&std::ffi::OsStr], runs: usize| -> Result<Vec<Run>> {
        let mut measured = Vec::new();
        for _ in 0..runs {
            let mut cmd = Command::new(&exe);
            cmd.args(["replay", "-q", "--verdicts", "/dev/null", "--report"])
                .arg(&report)
                .arg(&input)
                .args(content_flag)
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if let Some(t) = opts.threads {
                cmd.args(["--threads", &t.to_string()]);
            }
            let (run, out) = timed(&mut cmd)?;
            measured.push(run);
            if !out.status.success() {
                bail!("replay failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        Ok(measured)
    };
    let replay = medians(&replays(&[], opts.runs.max(1))?);
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&report)?)?;
    let events = summary["summary"]["events"].as_u64().unwrap_or(0);
    let messages = summary["summary"]["messages"].as_u64().unwrap_or(0);
    let peak = children_usage().peak_rss;
    // Again with the content analyses kept by a first replay (`--analyses`), as when a policy
    // change is replayed over logs replayed before; with content off there are none to keep.
    let replay_kept = if opts.no_content {
        None
    } else {
        let kept = dir.path().join("kept.analyses");
        let kept_args = [std::ffi::OsStr::new("--analyses"), kept.as_os_str()];
        replays(&kept_args, 1)?; // writes the file
        Some(medians(&replays(&kept_args, opts.runs.max(1))?))
    };

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
            let (run, out) = timed(
                Command::new(&exe)
                    .arg("filter")
                    .args(content_flag)
                    .stdin(File::open(p)?)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped()),
            )?;
            pipe.push(run);
            if !out.status.success() {
                bail!(
                    "the pipe filter failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }

    // In-process check latency, every event in order, messages timed: `Filter::observe` is the
    // content analysis and then `observe_analyzed`, timed each.
    let mut builder = Filter::builder();
    builder.policy(Policy::default());
    if opts.no_content {
        builder.content(None);
    }
    let filter = builder.build();
    let engine = filter.content();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let (mut content_hist, mut engine_hist) = (hist.clone(), hist.clone());
    let mut second_half_hist = hist.clone();
    let mut seen = 0u64;
    let nanos = |d: std::time::Duration| d.as_nanos().max(1) as u64;
    let mut reader = LogReader::open(&input)?;
    for rec in &mut reader {
        let ev = rec.map_err(|e| anyhow::anyhow!("{e}"))?.event;
        if let Event::Message(m) = &ev {
            let started = Instant::now();
            let content = engine
                .as_ref()
                .map(|engine| ContentFacts::analyze(engine, &m.text));
            let analysed = Instant::now();
            std::hint::black_box(filter.observe_analyzed(&ev, content));
            let applied = Instant::now();
            hist.record(nanos(applied - started))?;
            seen += 1;
            if seen > messages / 2 {
                second_half_hist.record(nanos(applied - started))?;
            }
            content_hist.record(nanos(analysed - started))?;
            engine_hist.record(nanos(applied - analysed))?;
        } else {
            filter.observe(&ev);
        }
    }
    let total = Percentiles::of(&hist);

    let http = if opts.http_seconds > 0 {
        let shares = http_bodies(&input, opts.http_connections.max(1))?;
        let mut runs = Vec::new();
        for _ in 0..opts.runs.max(1) {
            runs.push(http_run(&exe, content_flag, &shares, opts.http_seconds)?);
        }
        runs.sort_by(|a, b| a.messages_per_second.total_cmp(&b.messages_per_second));
        Some(runs[runs.len() / 2].clone())
    } else {
        None
    };

    let per_message = |seconds: f64| us_per_message(seconds, messages);
    let pipe = (!pipe.is_empty()).then(|| medians(&pipe));
    let f = Figures {
        input: input.display().to_string(),
        input_bytes,
        events,
        messages,
        threads,
        runs: opts.runs.max(1),
        content_signals: !opts.no_content,
        replay_seconds_median: replay.wall,
        replay_messages_per_second: messages as f64 / replay.wall,
        replay_events_per_second: events as f64 / replay.wall,
        replay_mb_per_second: input_bytes as f64 / 1e6 / replay.wall,
        replay_peak_rss_mb: peak as f64 / 1e6,
        replay_cpu_us_per_message: per_message(replay.cpu),
        replay_kept_messages_per_second: replay_kept.map(|r| messages as f64 / r.wall),
        replay_kept_cpu_us_per_message: replay_kept.map(|r| per_message(r.cpu)),
        filter_pipe_messages_per_second: pipe.map(|r| messages as f64 / r.wall),
        filter_pipe_cpu_us_per_message: pipe.map(|r| per_message(r.cpu)),
        check_p50_us: total.p50_us,
        check_p99_us: total.p99_us,
        check_p999_us: total.p999_us,
        check_max_us: hist.max() as f64 / 1000.0,
        check_content: (!opts.no_content).then(|| Percentiles::of(&content_hist)),
        check_engine: Percentiles::of(&engine_hist),
        check_second_half: Percentiles::of(&second_half_hist),
        http,
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
    if !f.content_signals {
        writeln!(o, "signals     content off (--no-content)")?;
    }
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
    writeln!(
        o,
        "  {}",
        cpu_line(f.replay_cpu_us_per_message, f.replay_messages_per_second)
    )?;
    if let (Some(kept), Some(cpu)) = (
        f.replay_kept_messages_per_second,
        f.replay_kept_cpu_us_per_message,
    ) {
        writeln!(
            o,
            "  analyses kept {kept:.0} messages/s (median of {}; `--analyses`, written by a first replay)",
            f.runs
        )?;
        writeln!(o, "    {}", cpu_line(cpu, kept))?;
    }
    if let (Some(m), Some(cpu)) = (
        f.filter_pipe_messages_per_second,
        f.filter_pipe_cpu_us_per_message,
    ) {
        writeln!(o, "filter pipe {m:.0} messages/s (median of {})", f.runs)?;
        writeln!(o, "  {}", cpu_line(cpu, m))?;
    }
    writeln!(
        o,
        "check       p50 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs, max {:.0} µs (in-process, one thread)",
        f.check_p50_us, f.check_p99_us, f.check_p999_us, f.check_max_us
    )?;
    for (part, p) in [
        ("content analysis", f.check_content),
        ("engine", Some(f.check_engine)),
        ("second half", Some(f.check_second_half)),
    ] {
        let Some(p) = p else { continue };
        writeln!(
            o,
            "  {part:<18}p50 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs",
            p.p50_us, p.p99_us, p.p999_us
        )?;
    }
    if let Some(h) = &f.http {
        writeln!(
            o,
            "http        {:.0} messages/s, request p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms \
             ({} connections, batches of {}, {:.0} s, median of {})",
            h.messages_per_second,
            h.request_p50_ms,
            h.request_p99_ms,
            h.request_max_ms,
            h.connections,
            h.batch,
            h.seconds,
            f.runs
        )?;
        writeln!(
            o,
            "  the service's {}",
            cpu_line(h.server_cpu_us_per_message, h.messages_per_second)
        )?;
    }
    Ok(true)
}

/// `seconds` of CPU spread over `messages`, in µs a message.
fn us_per_message(seconds: f64, messages: u64) -> f64 {
    seconds * 1e6 / messages.max(1) as f64
}

/// CPU per message, and the cores it kept busy at the rate measured.
fn cpu_line(us_per_message: f64, messages_per_second: f64) -> String {
    format!(
        "CPU {us_per_message:.2} µs a message ({:.2} cores busy)",
        us_per_message * messages_per_second / 1e6
    )
}

/// The log's messages as `/v1/check` bodies of [`HTTP_BATCH`], dealt round-robin to `connections`
/// so each connection sends its share in log order.
fn http_bodies(input: &Path, connections: usize) -> Result<Vec<Vec<String>>> {
    let mut shares = vec![Vec::new(); connections];
    let mut reader = LogReader::open(input)?;
    let mut body = String::from("[");
    let mut in_body = 0;
    let mut line = Vec::new();
    let mut bodies = 0usize;
    for rec in &mut reader {
        let ev = rec.map_err(|e| anyhow::anyhow!("{e}"))?.event;
        if !matches!(ev, Event::Message(_)) {
            continue;
        }
        line.clear();
        ev.write_json(&mut line);
        if in_body > 0 {
            body.push(',');
        }
        body.push_str(std::str::from_utf8(&line)?);
        in_body += 1;
        if in_body == HTTP_BATCH {
            body.push(']');
            shares[bodies % connections].push(std::mem::replace(&mut body, String::from("[")));
            in_body = 0;
            bodies += 1;
            if bodies * HTTP_BATCH >= HTTP_MAX_MESSAGES {
                break;
            }
        }
    }
    Ok(shares)
}

/// One run of `spamward serve` under load: started on a free loopback port, loaded for `seconds`
/// (or until the messages run out) by one connection per share of [`http_bodies`], then stopped
/// with SIGTERM.
fn http_run(
    exe: &Path,
    content_flag: &[&str],
    shares: &[Vec<String>],
    seconds: u64,
) -> Result<Http> {
    use std::io::BufRead;
    use std::time::Duration;

    let cpu_before = children_usage().cpu_seconds;
    let mut child = Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(content_flag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start spamward serve")?;
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        if stderr.read_line(&mut line)? == 0 {
            let _ = child.wait();
            bail!("spamward serve exited before listening");
        }
        if let Some(at) = line.find("listening on ") {
            break line[at + "listening on ".len()..].trim().to_owned();
        }
    };
    // Keep draining the service's log so it never blocks on a full pipe.
    let drain = std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));

    let url = format!("http://{addr}/v1/check");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let results: Vec<Result<Vec<Duration>>> = std::thread::scope(|s| {
        let workers: Vec<_> = shares
            .iter()
            .map(|bodies| {
                let url = &url;
                s.spawn(move || -> Result<Vec<Duration>> {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .timeout_global(Some(Duration::from_secs(60)))
                        .build()
                        .into();
                    let mut latencies = Vec::new();
                    for body in bodies {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let t = Instant::now();
                        let answer = agent
                            .post(url)
                            .header("content-type", "application/json")
                            .send(body.as_str())
                            .context("a /v1/check request failed")?
                            .into_body()
                            .read_to_vec()?;
                        latencies.push(t.elapsed());
                        if answer.first() != Some(&b'[') {
                            bail!("/v1/check answered {}", String::from_utf8_lossy(&answer));
                        }
                    }
                    Ok(latencies)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a client panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    // SAFETY: kill() sends a signal to the child we started; it has no memory effects here.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();
    let server_cpu = children_usage().cpu_seconds - cpu_before;
    let _ = drain.join();
    let mut latencies = Vec::new();
    for r in results {
        latencies.extend(r?);
    }
    if latencies.is_empty() {
        bail!("no HTTP request was answered");
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let requests = latencies.len() as u64;
    let messages = requests * HTTP_BATCH as u64;
    Ok(Http {
        connections: shares.len(),
        batch: HTTP_BATCH,
        seconds: elapsed,
        requests,
        messages_per_second: messages as f64 / elapsed,
        request_p50_ms: at(0.5).as_secs_f64() * 1e3,
        request_p99_ms: at(0.99).as_secs_f64() * 1e3,
        request_max_ms: latencies[latencies.len() - 1].as_secs_f64() * 1e3,
        server_cpu_us_per_message: us_per_message(server_cpu, messages),
    })
}
