//! `spamward serve` with a state directory under load and faults, on loopback, for a few
//! seconds: concurrent clients, a SIGKILL at a random moment, a restart, a disk that fills up.
//! What must hold: no error but the deliberate 503s, every acknowledged event in the journal
//! exactly once, every verdict answered equal to replay's over the journal (the order the
//! service applied them), and a full disk closing the service rather than losing events.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use spamward_core::time::HOUR;
use spamward_core::{Event, Millis, Timestamp};
use spamward_log::LogReader;

use crate::serve::Service;
use crate::util::{ok, p};

const T0: Timestamp = Timestamp::from_millis(1_764_000_000_000);

const TEXTS: [(&str, &str); 4] = [
    (
        "authentication",
        "Your code is 482913. Do not share it with anyone.",
    ),
    (
        "marketing",
        "Flash sale! 50% off everything today only: https://shop.example/s/8812",
    ),
    (
        "utility",
        "Your order #44120 has shipped. Track it at https://shop.example/t/44120",
    ),
    (
        "marketing",
        "WINNER!! You have won a free prize, claim now at http://prize.example/c",
    ),
];

/// What one client was answered.
#[derive(Default)]
struct Acked {
    /// Message id → the verdict record answered for it.
    verdicts: Vec<(String, String)>,
    /// Recipients of the feedback events answered `accepted`, one per event.
    feedback: Vec<String>,
    /// Requests answered 503 for being over `--max-in-flight`.
    shed: u64,
    /// Requests answered.
    requests: u64,
    /// Answered 503 because the state directory failed: the client stopped there.
    closed: bool,
}

/// One client: batches of messages to `/v1/check` and now and then a feedback event to
/// `/v1/events`, one request after another, until `until` or, once `killed` is set, the first
/// failed connection. Ids are unique per client and round.
fn client(addr: String, c: u64, round: u64, until: Instant, killed: Arc<AtomicBool>) -> Acked {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut acked = Acked::default();
    let mut n: u64 = 0;
    while Instant::now() < until {
        n += 1;
        let ts = T0 + round * HOUR + Millis::from_millis(n * 40 + c);
        let k = (n * 7919 + c * 104_729) as usize;
        let business = format!("b-{}", k % 30);
        let (path, body) = if n.is_multiple_of(5) {
            let recipient = format!("r-fb-{round}-{c}-{n}");
            let body = format!(
                r#"{{"type":"feedback","ts":{ts},"business":"{business}","recipient":"{recipient}","kind":"block"}}"#
            );
            acked.feedback.push(recipient);
            ("/v1/events", body)
        } else {
            let batch: Vec<String> = (0..20)
                .map(|i| {
                    let (category, text) = TEXTS[(k + i) % TEXTS.len()];
                    format!(
                        r#"{{"id":"m-{round}-{c}-{n}-{i}","ts":{ts},"business":"{business}","recipient":"r-{}","category":"{category}","text":"{text}"}}"#,
                        (k + i * 31) % 5000
                    )
                })
                .collect();
            ("/v1/check", format!("[{}]", batch.join(",")))
        };
        let sent = agent
            .post(format!("http://{addr}{path}"))
            .header("content-type", "application/json")
            .send(&body);
        let resp = match sent {
            Ok(resp) => resp,
            Err(_) if killed.load(Ordering::SeqCst) => {
                if path == "/v1/events" {
                    acked.feedback.pop();
                }
                break;
            }
            Err(e) => panic!("client {c}: {path}: {e}"),
        };
        let status = resp.status().as_u16();
        let retry = resp.headers().get("retry-after").cloned();
        let Ok(answer) = resp.into_body().read_to_string() else {
            assert!(
                killed.load(Ordering::SeqCst),
                "client {c}: a cut-off answer"
            );
            if path == "/v1/events" {
                acked.feedback.pop();
            }
            break;
        };
        acked.requests += 1;
        match status {
            200 if path == "/v1/check" => {
                let verdicts: Vec<serde_json::Value> = serde_json::from_str(&answer).unwrap();
                assert_eq!(verdicts.len(), 20);
                for v in verdicts {
                    let id = v["message"].as_str().unwrap().to_owned();
                    acked.verdicts.push((id, v.to_string()));
                }
            }
            200 => assert_eq!(answer, r#"{"accepted":1}"#),
            503 if answer.contains("state directory failed") => {
                if path == "/v1/events" {
                    acked.feedback.pop();
                }
                acked.closed = true;
                break;
            }
            503 => {
                assert_eq!(retry.as_ref().map(|v| v.to_str().unwrap()), Some("1"));
                assert!(answer.contains("already in flight"), "{answer}");
                if path == "/v1/events" {
                    acked.feedback.pop();
                }
                acked.shed += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            _ => panic!("client {c}: {path}: {status} {answer}"),
        }
    }
    acked
}

/// Runs `clients` clients against `service` for `secs`; if `kill_after` is given, SIGKILLs the
/// service then. Returns every client's answers and the wall time.
fn load(
    service: &Service,
    clients: u64,
    round: u64,
    secs: f64,
    kill_after: Option<Duration>,
) -> (Vec<Acked>, f64) {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(secs);
    let killed = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let addr = service.addr.to_string();
            let killed = Arc::clone(&killed);
            std::thread::spawn(move || client(addr, c, round, until, killed))
        })
        .collect();
    if let Some(after) = kill_after {
        std::thread::sleep(after);
        killed.store(true, Ordering::SeqCst);
        service.signal("KILL");
    }
    let acked = workers.into_iter().map(|w| w.join().unwrap()).collect();
    (acked, started.elapsed().as_secs_f64())
}

/// The service's peak resident set size, in MiB (`VmHWM`).
fn peak_rss_mib(service: &Service) -> f64 {
    let status = fs::read_to_string(format!("/proc/{}/status", service.child.id())).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kb / 1024.0
}

/// The journal's segments, in order.
fn segments(state: &Path) -> Vec<PathBuf> {
    spamward_log::journal::list_numbered(state, "journal-", ".bin")
        .unwrap()
        .into_iter()
        .map(|(_, path)| path)
        .collect()
}

/// Every complete event of the journal, in order (a torn tail is left out, as a restart cuts it).
fn journal_events(state: &Path) -> Vec<Event> {
    let mut events = Vec::new();
    for seg in segments(state) {
        for item in LogReader::open(&seg).unwrap() {
            match item {
                Ok(record) => events.push(record.event),
                Err(e) => assert!(e.is_fatal(), "{e}"),
            }
        }
    }
    events
}

/// Every acknowledged event is in the journal, none twice, and every verdict answered is the
/// one replay gives over the journal.
fn check_against_journal(state: &Path, acked: &[Acked], work: &Path) {
    let events = journal_events(state);
    let mut ids = HashSet::new();
    let mut feedback = HashSet::new();
    for ev in &events {
        match ev {
            Event::Message(m) => assert!(ids.insert(m.id.clone()), "{} applied twice", m.id),
            Event::Feedback(f) => {
                assert!(
                    feedback.insert(f.recipient.clone()),
                    "{} twice",
                    f.recipient
                );
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    let answered: HashMap<&str, &str> = acked
        .iter()
        .flat_map(|a| a.verdicts.iter().map(|(id, v)| (id.as_str(), v.as_str())))
        .collect();
    for id in answered.keys() {
        assert!(
            ids.contains(*id),
            "acknowledged message {id} is not in the journal"
        );
    }
    for r in acked.iter().flat_map(|a| &a.feedback) {
        assert!(
            feedback.contains(r),
            "acknowledged feedback {r} is not in the journal"
        );
    }
    // Replay over the journal, as one log in the order the service applied it.
    let verdicts = work.join("replayed.jsonl");
    let segs = segments(state);
    let mut args: Vec<&str> = vec!["replay"];
    args.extend(segs.iter().map(|s| p(s)));
    args.extend(["--verdicts", p(&verdicts)]);
    ok(&args);
    let replayed = fs::read_to_string(&verdicts).unwrap();
    let mut matched = 0;
    for line in replayed.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(answer) = answered.get(v["message"].as_str().unwrap()) {
            assert_eq!(*answer, v.to_string(), "the service and replay disagree");
            matched += 1;
        }
    }
    assert_eq!(matched, answered.len());
}

/// Load from concurrent clients for a fixed time, a SIGKILL at a random moment of a second
/// round of load, a restart and a third round: nothing acknowledged is lost, nothing applied
/// twice, every verdict is replay's over the journal, and the only errors are 503s for load
/// over `--max-in-flight`. Prints peak RSS and throughput.
#[test]
fn concurrent_load_and_a_random_sigkill_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // No snapshot during the run, so the journal holds every event to check against.
    let args = [
        "--state-dir",
        p(&state),
        "--snapshot-every",
        "1000000000",
        "--max-in-flight",
        "2",
    ];
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let kill_ms = 300 + seed % 1200;
    println!("SIGKILL after {kill_ms} ms (from the clock: {seed})");

    let service = Service::start(&args);
    let (mut acked, secs) = load(&service, 4, 0, 2.5, None);
    let requests: u64 = acked.iter().map(|a| a.requests).sum();
    let shed: u64 = acked.iter().map(|a| a.shed).sum();
    let messages: usize = acked.iter().map(|a| a.verdicts.len()).sum();
    println!(
        "4 clients, {secs:.1} s: {requests} requests ({:.0}/s), {shed} shed with 503, \
         {messages} messages answered ({:.0}/s), peak RSS {:.1} MiB",
        requests as f64 / secs,
        messages as f64 / secs,
        peak_rss_mib(&service)
    );
    assert!(messages > 0);

    let (killed, _) = load(&service, 4, 1, 5.0, Some(Duration::from_millis(kill_ms)));
    let mut service = service;
    assert!(!service.wait_exit().success());
    acked.extend(killed);

    let before = journal_events(&state).len();
    let mut service = Service::start(&args);
    let restored = service.wait_stderr("state: restored");
    assert!(
        restored.starts_with(&format!("state: restored {before} events")),
        "{restored}"
    );
    let (last, _) = load(&service, 2, 2, 1.0, None);
    acked.extend(last);
    service.signal("TERM");
    assert!(service.wait_exit().success());

    check_against_journal(&state, &acked, dir.path());
}

/// A disk that fills up under the journal (a file size limit, `RLIMIT_FSIZE`, which binds root
/// too) closes the service: the request that could not be kept is answered 503, and so is every
/// later one, `/healthz` says failed, every event answered before is in the journal, and a
/// restart with room again restores them all, cuts the torn tail and goes on.
#[test]
fn a_full_disk_closes_the_service_and_keeps_every_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let args = ["--state-dir", p(&state), "--snapshot-every", "1000000000"];
    let mut cmd = Service::command(&args);
    with_file_size_limit(&mut cmd, 64 << 10);
    let mut service = Service::start_command(cmd);
    let mut acked = Acked::default();
    let killed = Arc::new(AtomicBool::new(false));
    let mut failed = None;
    for round in 0..200 {
        let a = client(
            service.addr.to_string(),
            0,
            round,
            Instant::now() + Duration::from_millis(1),
            Arc::clone(&killed),
        );
        acked.verdicts.extend(a.verdicts);
        acked.feedback.extend(a.feedback);
        if a.closed {
            failed = Some(service.get("/healthz"));
            break;
        }
    }
    let health = failed.expect("64 KiB of journal filled up");
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["status"], "failed");
    let why = health.json()["error"].as_str().unwrap().to_owned();
    assert!(why.contains("File too large"), "{why}");
    let a = service.post("/v1/check", &crate::serve::message("m-after", "b-1", 0));
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(a.body.contains("state directory failed"), "{}", a.body);
    service.signal("KILL");
    service.wait_exit();

    let kept = journal_events(&state).len();
    assert!(kept >= acked.verdicts.len() + acked.feedback.len());
    let service = Service::start(&args);
    let restored = service.wait_stderr("state: restored");
    assert!(
        restored.starts_with(&format!("state: restored {kept} events")),
        "{restored}"
    );
    let a = service.post("/v1/check", &crate::serve::message("m-after", "b-1", 0));
    assert_eq!(a.status, 200, "{}", a.body);
    check_against_journal(&state, &[acked], dir.path());
}

/// Limits the file size of a command's process to `bytes` (`RLIMIT_FSIZE`, binding on root as
/// well), with a write past it failing with EFBIG rather than killing the process: a disk that
/// fills up.
pub(crate) fn with_file_size_limit(cmd: &mut std::process::Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls: signal(2), setrlimit(2).
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The pipe filter on a full disk stops with an error naming the journal, and every verdict it
/// printed is for a message its journal kept.
#[test]
fn a_full_disk_stops_the_pipe_filter_with_no_verdict_for_an_unkept_event() {
    let dir = tempfile::tempdir().unwrap();
    let events = crate::util::small_world(&dir.path().join("world"), 5);
    let state = dir.path().join("state");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_spamward"));
    cmd.args(["filter", "--state-dir", p(&state)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    with_file_size_limit(&mut cmd, 64 << 10);
    let mut child = cmd.spawn().unwrap();
    // In small pieces, as a live stream comes: many commits before the disk is full.
    let mut stdin = child.stdin.take().unwrap();
    let log = fs::read_to_string(&events).unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let lines: Vec<&str> = log.lines().collect();
        for piece in lines.chunks(50) {
            let mut text = piece.join("\n");
            text.push('\n');
            if stdin.write_all(text.as_bytes()).is_err() {
                return; // The filter stopped.
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    let kept: HashSet<String> = journal_events(&state)
        .into_iter()
        .filter_map(|ev| match ev {
            Event::Message(m) => Some(m.id),
            _ => None,
        })
        .collect();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let printed: Vec<&str> = stdout.lines().collect();
    assert!(
        !printed.is_empty(),
        "the disk filled before any verdict: raise the limit"
    );
    for line in printed {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["message"].as_str().unwrap();
        assert!(
            kept.contains(id),
            "verdict for {id}, which the journal did not keep"
        );
    }
}
