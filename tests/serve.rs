//! `spamward serve` as a process on a loopback port: the HTTP service answers what replay
//! answers, refuses what it must, sheds load, reloads its policy and stops cleanly.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use spamward_core::time::SECOND;
use spamward_core::{Millis, Timestamp};

use crate::util::{is_content_signal, ok, p, small_world};

/// Long enough for any step on a loaded machine; every wait below is bounded by it.
const PATIENCE: Duration = Duration::from_secs(60);

/// The event time the messages posted here start from.
const T0: Timestamp = Timestamp::from_millis(1_764_000_000_000);

/// A running `spamward serve` on a port the system picked.
pub(crate) struct Service {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    stderr: Arc<(Mutex<Vec<String>>, Condvar)>,
    agent: ureq::Agent,
}

/// An answer: status, headers (names in lower case), body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Service {
    pub(crate) fn start(args: &[&str]) -> Service {
        Service::start_command(Service::command(args))
    }

    /// The command [`Service::start`] runs, for a caller to adjust before starting it.
    pub(crate) fn command(args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spamward"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        cmd
    }

    pub(crate) fn start_command(mut cmd: Command) -> Service {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spamward runs");
        let stderr = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let lines = Arc::clone(&stderr);
        let pipe = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in pipe.lines() {
                let Ok(line) = line else { break };
                lines.0.lock().unwrap().push(line);
                lines.1.notify_all();
            }
        });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(PATIENCE))
            .build()
            .into();
        let mut service = Service {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            stderr,
            agent,
        };
        let line = service.wait_stderr("listening on ");
        service.addr = line["listening on ".len()..].parse().expect("an address");
        assert!(service.addr.ip().is_loopback());
        service
    }

    /// The first stderr line starting with `prefix`, waiting for it.
    pub(crate) fn wait_stderr(&self, prefix: &str) -> String {
        let (lines, more) = &*self.stderr;
        let deadline = Instant::now() + PATIENCE;
        let mut lines = lines.lock().unwrap();
        loop {
            if let Some(l) = lines.iter().find(|l| l.starts_with(prefix)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no stderr line {prefix:?} in {lines:?}");
            lines = more.wait_timeout(lines, left).unwrap().0;
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn answer(resp: ureq::http::Response<ureq::Body>) -> Answer {
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        let body = resp.into_body().read_to_string().unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub(crate) fn post(&self, path: &str, body: &str) -> Answer {
        let resp = self
            .agent
            .post(self.url(path))
            .header("content-type", "application/json")
            .send(body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        Service::answer(resp)
    }

    pub(crate) fn get(&self, path: &str) -> Answer {
        let resp = self
            .agent
            .get(self.url(path))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        Service::answer(resp)
    }

    pub(crate) fn metrics(&self) -> BTreeMap<String, f64> {
        let a = self.get("/metrics");
        assert_eq!(a.status, 200);
        parse_metrics(&a.body)
    }

    /// Sends a signal (`HUP`, `TERM`) to the process.
    pub(crate) fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the service did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Opens a POST whose body is `length` bytes and sends only `part` of it: a request held in
    /// flight until the rest comes.
    fn open_post(&self, path: &str, length: usize, part: &str) -> TcpStream {
        let mut tcp = TcpStream::connect(self.addr).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        write!(
            tcp,
            "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
             content-length: {length}\r\nconnection: close\r\n\r\n{part}"
        )
        .unwrap();
        tcp.flush().unwrap();
        tcp
    }

    fn wait_in_flight(&self, n: f64) {
        let deadline = Instant::now() + PATIENCE;
        while self.metrics()["spamward_in_flight_requests"] != n {
            assert!(Instant::now() < deadline, "never {n} requests in flight");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Finishes a held request and reads its answer to the end: status and body.
fn finish(mut tcp: TcpStream, rest: &str) -> (u16, String) {
    tcp.write_all(rest.as_bytes()).unwrap();
    let mut raw = String::new();
    tcp.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    (head[9..12].parse().unwrap(), body.to_owned())
}

/// The samples of a Prometheus text exposition, checking its shape on the way: each family has
/// HELP then TYPE before its samples, counters end in `_total`, no series twice.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut last_help = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            last_help = rest.split(' ').next().unwrap().to_owned();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(name, last_help, "HELP then TYPE");
            types.insert(name.to_owned(), kind.to_owned());
        } else {
            let (series, value) = line.rsplit_once(' ').expect("name value");
            let name = series.split('{').next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|s| name.strip_suffix(s))
                .find(|f| types.get(*f).is_some_and(|k| k == "histogram"))
                .unwrap_or(name);
            let kind = types
                .get(family)
                .unwrap_or_else(|| panic!("no TYPE for {line}"));
            assert!(kind != "counter" || family.ends_with("_total"), "{line}");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            assert!(
                samples.insert(series.to_owned(), value).is_none(),
                "{series} twice"
            );
        }
    }
    samples
}

pub(crate) fn message(id: &str, business: &str, secs: u64) -> String {
    format!(
        r#"{{"id":"{id}","ts":{},"business":"{business}","recipient":"r-{id}","category":"utility","text":"Your code is 1234"}}"#,
        T0 + secs * SECOND
    )
}

/// Posts a log in log order, one request after another: runs of messages (at most 100) to
/// /v1/check, runs of other events to /v1/events. Each check's answer must be exactly the
/// array of replay's verdict lines for those messages.
#[test]
fn a_log_posted_in_order_is_answered_byte_for_byte_as_replay_answers() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(dir.path(), 71);
    let verdicts = dir.path().join("verdicts.jsonl");
    ok(&["replay", p(&events), "--verdicts", p(&verdicts)]);
    let expected = fs::read_to_string(&verdicts).unwrap();
    let mut expected = expected.lines();
    let log = fs::read_to_string(&events).unwrap();
    let lines: Vec<&str> = log.lines().collect();

    let service = Service::start(&[]);
    let Posted {
        requests,
        messages,
        others,
    } = post_log(&service, &lines, &mut expected);
    assert_eq!(
        expected.next(),
        None,
        "every verdict of replay was answered"
    );
    assert!(messages > 10_000 && others > 10_000, "{messages} {others}");

    let m = service.metrics();
    let events_total: f64 = ["message", "feedback", "delivery", "business"]
        .iter()
        .map(|t| m[&format!(r#"spamward_events_total{{type="{t}"}}"#)])
        .sum();
    assert_eq!(events_total, lines.len() as f64);
    assert_eq!(
        m[r#"spamward_events_total{type="message"}"#],
        messages as f64
    );
    let verdicts_total: f64 = ["allow", "throttle", "hold", "block"]
        .iter()
        .map(|a| m[&format!(r#"spamward_verdicts_total{{action="{a}"}}"#)])
        .sum();
    assert_eq!(verdicts_total, messages as f64);
    assert!(m[r#"spamward_verdicts_total{action="block"}"#] > 0.0);
    let answered = m[r#"spamward_http_requests_total{route="/v1/check",code="200"}"#]
        + m[r#"spamward_http_requests_total{route="/v1/events",code="200"}"#];
    assert_eq!(answered, requests as f64);
    assert_eq!(
        m["spamward_check_duration_seconds_count"],
        m[r#"spamward_http_requests_total{route="/v1/check",code="200"}"#]
    );

    // The business behind the first blocked verdict stands suspended or throttled.
    let replayed = fs::read_to_string(&verdicts).unwrap();
    let blocked: Value = replayed
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["action"] == "block")
        .unwrap();
    let business = blocked["business"].as_str().unwrap();
    let a = service.get(&format!("/v1/businesses/{business}"));
    assert_eq!(a.status, 200);
    let standing = a.json();
    assert_eq!(standing["business"], business);
    assert_ne!(standing["status"], "active", "{}", standing["status"]);
    assert!(!standing["changes"].as_array().unwrap().is_empty());
}

/// What [`post_log`] sent.
pub(crate) struct Posted {
    requests: usize,
    messages: usize,
    others: usize,
}

/// Posts log lines in log order, one request after another: runs of messages (at most 100) to
/// /v1/check, runs of other events to /v1/events. Each check's answer must be exactly the
/// array of the next `expected` verdict lines.
pub(crate) fn post_log<'a>(
    service: &Service,
    lines: &[&str],
    expected: &mut impl Iterator<Item = &'a str>,
) -> Posted {
    let (mut requests, mut messages, mut others) = (0, 0, 0);
    let mut i = 0;
    while i < lines.len() {
        let is_message = lines[i].starts_with(r#"{"type":"message""#);
        let run = lines[i..]
            .iter()
            .take(100)
            .take_while(|l| l.starts_with(r#"{"type":"message""#) == is_message)
            .count();
        let body = format!("[{}]", lines[i..i + run].join(","));
        if is_message {
            let a = service.post("/v1/check", &body);
            assert_eq!(a.status, 200, "{}", a.body);
            let want: Vec<&str> = expected.by_ref().take(run).collect();
            assert_eq!(
                a.body,
                format!("[{}]", want.join(",")),
                "events {i}..{}",
                i + run
            );
            messages += run;
        } else {
            let a = service.post("/v1/events", &body);
            assert_eq!((a.status, a.json()), (200, json!({ "accepted": run })));
            others += run;
        }
        requests += 1;
        i += run;
    }
    Posted {
        requests,
        messages,
        others,
    }
}

/// With `--state-dir`, a service killed with SIGKILL restarts with every answered event and
/// goes on answering exactly what replay answers; SIGTERM leaves a snapshot to restart from.
#[test]
fn a_durable_service_killed_and_restarted_answers_as_replay_answers() {
    let dir = tempfile::tempdir().unwrap();
    let events = small_world(&dir.path().join("world"), 72);
    let verdicts = dir.path().join("verdicts.jsonl");
    ok(&["replay", p(&events), "--verdicts", p(&verdicts)]);
    let expected = fs::read_to_string(&verdicts).unwrap();
    let mut expected = expected.lines();
    let log = fs::read_to_string(&events).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let state = dir.path().join("state");
    let args = ["--state-dir", p(&state), "--snapshot-every", "3000"];

    // A third, then SIGKILL: no clean stop, no last snapshot.
    let cut = lines.len() / 3;
    let mut service = Service::start(&args);
    assert_eq!(
        service.wait_stderr("state: restored"),
        "state: restored 0 events (no snapshot, journal 0..0); continue the input after event 0"
    );
    post_log(&service, &lines[..cut], &mut expected);
    service.child.kill().unwrap();
    service.wait_exit();

    // Restored from a snapshot and the journal after it; the second third, then SIGTERM.
    let cut2 = 2 * lines.len() / 3;
    let mut service = Service::start(&args);
    let restored = service.wait_stderr("state: restored");
    assert!(
        restored.starts_with(&format!("state: restored {cut} events (snapshot at ")),
        "{restored}"
    );
    post_log(&service, &lines[cut..cut2], &mut expected);
    service.signal("TERM");
    assert!(service.wait_exit().success());
    assert_eq!(
        service.wait_stderr("state: snapshot"),
        format!("state: snapshot after {} events", thousands(cut2))
    );

    // The last snapshot holds everything: nothing to replay from the journal.
    let service = Service::start(&args);
    assert_eq!(
        service.wait_stderr("state: restored"),
        format!(
            "state: restored {cut2} events (snapshot at {cut2}, journal {cut2}..{cut2}); \
             continue the input after event {cut2}"
        )
    );
    post_log(&service, &lines[cut2..], &mut expected);
    assert_eq!(
        expected.next(),
        None,
        "every verdict of replay was answered"
    );
}

/// A state directory that fails closes the service: 503 for events, 503 on /healthz, and no
/// verdict for an event that could not be kept.
#[test]
fn a_failed_state_directory_closes_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let service = Service::start(&["--state-dir", p(&state), "--snapshot-every", "2"]);
    let a = service.post("/v1/check", &message("m-1", "b-1", 0));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(service.get("/healthz").status, 200);
    // Without its directory, the snapshot due after the next event cannot be written.
    fs::remove_dir_all(&state).unwrap();
    let a = service.post("/v1/check", &message("m-2", "b-1", 1));
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(
        a.json()["error"]
            .as_str()
            .unwrap()
            .contains("state directory failed")
    );
    let a = service.post("/v1/check", &message("m-3", "b-1", 2));
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(!a.headers.contains_key("retry-after"));
    let a = service.post(
        "/v1/events",
        r#"{"type":"feedback","ts":1764000003000,"business":"b-1","recipient":"r-m-1","kind":"block"}"#,
    );
    assert_eq!(a.status, 503, "{}", a.body);
    let health = service.get("/healthz");
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["status"], "failed");
    // Reading goes on: the standing of what was applied.
    assert_eq!(service.get("/v1/businesses/b-1").status, 200);
}

/// `1234567` as `1,234,567`, as the command line prints counts.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn batches_keep_their_order_and_bad_requests_name_field_and_index() {
    let service = Service::start(&["--max-body-bytes", "2000", "--max-batch", "3"]);
    // `type` may be left out; the answer follows the batch's order, not the businesses'.
    let batch = format!(
        "[{},{},{}]",
        message("c", "b-2", 1),
        message("a", "b-1", 2),
        message("b", "b-2", 3)
    );
    let a = service.post("/v1/check", &batch);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers["content-type"], "application/json");
    let ids: Vec<Value> = a
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["message"].clone())
        .collect();
    assert_eq!(ids, [json!("c"), json!("a"), json!("b")]);
    let one = service.post("/v1/check", &message("d", "b-1", 4));
    assert_eq!(one.json()["message"], "d", "one object, one verdict");

    // A bad event anywhere refuses the whole batch, naming it.
    let bad = format!(
        "[{},{}]",
        message("e", "b-1", 5),
        message("f", "b-1", 6).replace("1764000006000", "1764000006")
    );
    let a = service.post("/v1/check", &bad);
    assert_eq!(a.status, 400);
    let e = a.json();
    assert_eq!(
        (e["field"].clone(), e["index"].clone()),
        (json!("ts"), json!(1)),
        "{e}"
    );
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .starts_with("field `ts`: bad timestamp"),
        "{e}"
    );
    let a = service.post("/v1/events", &message("g", "b-1", 7));
    assert_eq!((a.status, a.json()["field"].clone()), (400, json!("type")));
    let a = service.post("/v1/check", "{\"id\": ");
    assert_eq!(a.status, 400);
    assert!(
        a.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON")
    );
    assert_eq!(
        service.metrics()[r#"spamward_events_total{type="message"}"#],
        4.0,
        "nothing of a refused request was applied"
    );

    // Too large: the body, and the batch.
    let big = format!("[{}]", vec![message("h", "b-1", 8); 3].join(","))
        .replace("1234", &"9".repeat(700));
    assert!(big.len() > 2000);
    let a = service.post("/v1/check", &big);
    assert_eq!(a.status, 413, "{}", a.body);
    assert!(a.json()["error"].as_str().unwrap().contains("2000 bytes"));
    // Its body was left unread: the connection closes, and the answer says so.
    assert_eq!(a.headers["connection"], "close");
    let four = format!("[{}]", vec![message("i", "b-1", 9); 4].join(","));
    let a = service.post("/v1/check", &four);
    assert_eq!(
        (a.status, a.json()["error"].clone()),
        (413, json!("a batch of 4 events is over the limit of 3"))
    );

    let a = service.get("/v1/businesses/b-unknown");
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["field"], "id");
    let a = service.get("/v1/businesses/b-1");
    assert_eq!(
        (a.status, a.json()["totals"]["messages"].clone()),
        (200, json!(2))
    );
    assert_eq!(service.get("/nowhere").status, 404);
    assert_eq!(service.get("/healthz").json(), json!({"status": "ok"}));
}

#[test]
fn past_max_in_flight_a_request_gets_503_with_retry_after_at_once() {
    let service = Service::start(&["--max-in-flight", "1"]);
    let body = message("m-1", "b-1", 1);
    let (head, tail) = body.split_at(10);
    let held = service.open_post("/v1/check", body.len(), head);
    service.wait_in_flight(1.0);

    let started = Instant::now();
    let a = service.post("/v1/check", &message("m-2", "b-1", 2));
    assert_eq!(a.status, 503);
    assert_eq!(a.headers["retry-after"], "1");
    // Answered without reading the body, so the connection cannot serve another request: the
    // answer says it closes, and the client's next request goes on a new connection (it failed
    // now and then with "peer disconnected" when the client reused this one).
    assert_eq!(a.headers["connection"], "close");
    assert_eq!(
        a.json()["error"],
        "1 requests are already in flight; retry shortly"
    );
    assert!(started.elapsed() < PATIENCE);
    let a = service.post("/v1/events", "[]");
    assert_eq!(a.status, 503);

    let (status, answer) = finish(held, tail);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.starts_with(r#"{"message":"m-1""#), "{answer}");
    let m = service.metrics();
    assert_eq!(m["spamward_rejected_requests_total"], 2.0);
    assert_eq!(m["spamward_in_flight_requests"], 0.0);
    assert_eq!(m["spamward_max_in_flight_requests"], 1.0);
    assert_eq!(
        m[r#"spamward_events_total{type="message"}"#], 1.0,
        "a 503 applies nothing"
    );
    assert_eq!(
        service.post("/v1/check", &message("m-3", "b-1", 3)).status,
        200
    );
}

/// Throttles a new business's second message in an hour.
const STRICT: &str = "[signals.new_business_ramp_1h]\nper_hour = 1\n";

#[test]
fn the_policy_reloads_on_request_and_on_sighup_and_a_bad_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    fs::write(&policy, "# the defaults\n").unwrap();
    let service = Service::start(&["--policy", p(&policy)]);
    let action = |id: &str, business: &str, secs: u64| {
        let a = service.post("/v1/check", &message(id, business, secs));
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["action"].as_str().unwrap().to_owned()
    };
    assert_eq!(action("1", "b-a", 0), "allow");
    assert_eq!(action("2", "b-a", 1), "allow");

    // On request: the stricter file throttles the same business's next message.
    fs::write(&policy, STRICT).unwrap();
    let a = service.post("/v1/policy/reload", "");
    assert_eq!((a.status, a.json()), (200, json!({"status": "reloaded"})));
    assert_eq!(action("3", "b-a", 2), "throttle");

    // A bad file is refused with its error, naming the key, and the stricter policy stays.
    fs::write(&policy, "[signals.new_business_ramp_1h]\nper_hour = -3\n").unwrap();
    let a = service.post("/v1/policy/reload", "");
    assert_eq!(a.status, 400);
    let error = a.json()["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("signals.new_business_ramp_1h.per_hour"),
        "{error}"
    );
    assert!(error.contains(p(&policy)), "{error}");
    assert_eq!(action("4", "b-a", 3), "throttle");

    // SIGHUP: back to the defaults, the next message of a new business in its first hour passes.
    fs::write(&policy, "").unwrap();
    service.signal("HUP");
    service.wait_stderr("SIGHUP: policy reloaded");
    assert_eq!(action("5", "b-b", 4), "allow");
    assert_eq!(action("6", "b-b", 5), "allow");
    // SIGHUP with a bad file: reported on stderr, the service goes on under the defaults.
    fs::write(&policy, "[score]\nhold = 2.0\n").unwrap();
    service.signal("HUP");
    let line = service.wait_stderr("SIGHUP: policy not reloaded");
    assert!(line.contains("score.hold"), "{line}");
    assert_eq!(action("7", "b-b", 6), "allow");
    let m = service.metrics();
    assert_eq!(m[r#"spamward_policy_reloads_total{result="ok"}"#], 2.0);
    assert_eq!(m[r#"spamward_policy_reloads_total{result="error"}"#], 2.0);
}

/// `serve --no-content` reads no message text: a phishing lure that the service with content
/// signals blocks for its link gets no content reason, `/metrics` says content signals are off,
/// and a policy reload keeps them off.
#[test]
fn with_content_off_no_answer_has_a_content_reason_even_after_a_reload() {
    let lure = r#"{"id":"m-1","ts":1764000000000,"business":"b-1","recipient":"r-1","category":"utility","text":"Your PayPal account is suspended. Verify now at https://paypa1-secure.com/login"}"#;
    let signals = |service: &Service| -> Vec<String> {
        let a = service.post("/v1/check", lure);
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["signal"].as_str().unwrap().to_owned())
            .collect()
    };
    let on = Service::start(&[]);
    assert!(
        signals(&on).iter().any(|s| s == "phishing_link"),
        "the lure is caught with content on"
    );
    assert_eq!(on.metrics()["spamward_content_signals"], 1.0);

    let off = Service::start(&["--no-content"]);
    assert_eq!(off.metrics()["spamward_content_signals"], 0.0);
    let a = off.post("/v1/policy/reload", "");
    assert_eq!(a.status, 200, "{}", a.body);
    let reasons = signals(&off);
    assert!(!reasons.iter().any(|s| is_content_signal(s)), "{reasons:?}");
    assert_eq!(off.metrics()["spamward_content_signals"], 0.0);
}

#[test]
fn a_bad_policy_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    fs::write(&policy, "[score]\nhodl = 0.5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spamward"))
        .args(["serve", "--listen", "127.0.0.1:0", "--policy", p(&policy)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("hodl") && !stderr.contains("listening"),
        "{stderr}"
    );
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let mut service = Service::start(&[]);
    let body = message("m-1", "b-1", 1);
    let (head, tail) = body.split_at(25);
    let held = service.open_post("/v1/check", body.len(), head);
    service.wait_in_flight(1.0);
    service.signal("TERM");
    service.wait_stderr("SIGTERM: stopping");
    // No new connection is served once stopping.
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(service.addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        service.child.try_wait().unwrap(),
        None,
        "waiting for the request"
    );
    let (status, answer) = finish(held, tail);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.starts_with(r#"{"message":"m-1""#));
    assert_eq!(service.wait_exit().code(), Some(0));
    let stopped = service.wait_stderr("stopped: ");
    assert!(
        stopped.starts_with("stopped: 1 events (1 messages"),
        "{stopped}"
    );
}

#[test]
fn a_partition_answers_for_its_own_businesses_only() {
    let service = Service::start(&["--partition", "1/2"]);
    let (mut mine, mut theirs) = (None, None);
    for i in 0..64 {
        let business = format!("b-{i}");
        let a = service.post("/v1/check", &message(&format!("m-{i}"), &business, i));
        match a.status {
            200 => mine = mine.or(Some(business)),
            421 => {
                let e = a.json();
                assert_eq!(e["field"], "business");
                assert!(
                    e["error"]
                        .as_str()
                        .unwrap()
                        .ends_with("not to this instance (1/2)"),
                    "{e}"
                );
                theirs = theirs.or(Some(business));
            }
            other => panic!("{other}: {}", a.body),
        }
    }
    let (mine, theirs) = (mine.unwrap(), theirs.unwrap());
    assert_eq!(service.get(&format!("/v1/businesses/{mine}")).status, 200);
    assert_eq!(service.get(&format!("/v1/businesses/{theirs}")).status, 421);
}

/// Ctrl-C stops the service the same way; the exit code says it was interrupted, as for every
/// spamward command.
#[test]
fn ctrl_c_stops_the_same_way_and_exits_130() {
    let mut service = Service::start(&[]);
    assert_eq!(
        service.post("/v1/check", &message("m-1", "b-1", 1)).status,
        200
    );
    service.signal("INT");
    assert_eq!(service.wait_exit().code(), Some(130));
    service.wait_stderr("stopped: 1 events");
}

/// The document at /openapi.json is the one in the repository, and real answers have what it
/// says they have. (The full check, every answer against the JSON Schemas, is the
/// filter crate's `every_answer_matches_the_openapi_document`.)
#[test]
fn the_openapi_document_is_served_and_real_answers_have_its_required_fields() {
    let service = Service::start(&[]);
    let a = service.get("/openapi.json");
    assert_eq!(a.status, 200);
    let shipped =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/openapi.json")).unwrap();
    assert_eq!(a.body, shipped);
    let doc = a.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, method) in [
        ("/v1/check", "post"),
        ("/v1/events", "post"),
        ("/v1/businesses/{id}", "get"),
        ("/v1/policy/reload", "post"),
        ("/metrics", "get"),
        ("/healthz", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    // Required properties, followed through $ref, against real answers.
    let required = |schema: &str, v: &Value| {
        let s = &doc["components"]["schemas"][schema];
        for key in s["required"].as_array().unwrap() {
            assert!(
                v.get(key.as_str().unwrap()).is_some(),
                "{schema} lacks {key}: {v}"
            );
        }
        if s["additionalProperties"] == false {
            for key in v.as_object().unwrap().keys() {
                assert!(s["properties"].get(key).is_some(), "{schema} has no {key}");
            }
        }
    };
    required(
        "Verdict",
        &service.post("/v1/check", &message("m", "b-1", 1)).json(),
    );
    required("Accepted", &service.post("/v1/events", "[]").json());
    let standing = service.get("/v1/businesses/b-1").json();
    required("BusinessStanding", &standing);
    for part in ["Totals", "Ratios", "Volume"] {
        let key = part.to_lowercase();
        required(part, &standing[&key]);
    }
    required("Error", &service.post("/v1/check", "[1]").json());
    required("Error", &service.get("/v1/businesses/none").json());
    required("Health", &service.get("/healthz").json());
    required("Reloaded", &service.post("/v1/policy/reload", "").json());
}

/// Throughput over loopback: several connections, each posting batches of 100 messages one
/// after another for a while; prints messages/s and latency percentiles. By hand, on a release
/// build: `cargo test --release --test integration serve::throughput -- --ignored --nocapture`
/// (`SPAMWARD_LOAD_SECS`, `SPAMWARD_LOAD_CONNECTIONS`, `SPAMWARD_LOAD_BATCH` and
/// `SPAMWARD_LOAD_ARGS`, extra `serve` options, change the load).
#[test]
#[ignore = "a measurement, run by hand on a release build"]
fn throughput() {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .map_or(default, |v| v.parse().expect(name))
    };
    let secs = var("SPAMWARD_LOAD_SECS", 10);
    let connections = var("SPAMWARD_LOAD_CONNECTIONS", 4);
    let batch = var("SPAMWARD_LOAD_BATCH", 100);
    let extra = std::env::var("SPAMWARD_LOAD_ARGS").unwrap_or_default();
    let args: Vec<&str> = extra.split_whitespace().collect();
    let service = Arc::new(Service::start(&args));
    let texts = [
        "Your code is 482913. Do not share it with anyone.",
        "Flash sale! 50% off everything today only: https://shop.example/s/8812",
        "Your order #44120 has shipped and will arrive on Thursday. Track it at https://shop.example/t/44120",
        "Your flight BA117 now departs at 18:40 from gate B32.",
    ];
    let categories = ["authentication", "marketing", "utility", "utility"];
    let deadline = Instant::now() + Duration::from_secs(secs);
    let workers: Vec<_> = (0..connections)
        .map(|c| {
            let service = Arc::clone(&service);
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(PATIENCE))
                    .build()
                    .into();
                let url = service.url("/v1/check");
                let mut latencies = Vec::new();
                let mut n: u64 = 0;
                while Instant::now() < deadline {
                    let body = (0..batch)
                        .map(|_| {
                            n += 1;
                            let k = (n * 7919 + c * 104_729) as usize;
                            format!(
                                r#"{{"id":"m-{c}-{n}","ts":{},"business":"b-{}","recipient":"r-{}","category":"{}","text":"{}"}}"#,
                                T0 + Millis::from_millis(n * 10),
                                k % 500,
                                k % 200_000,
                                categories[k % 4],
                                texts[k % 4]
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(",");
                    let started = Instant::now();
                    let resp = agent.post(&url).send(format!("[{body}]")).expect("an answer");
                    let answer = resp.into_body().read_to_vec().unwrap();
                    latencies.push(started.elapsed());
                    assert_eq!(answer.first(), Some(&b'['));
                }
                latencies
            })
        })
        .collect();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let messages = latencies.len() as u64 * batch;
    println!(
        "{connections} connections, batches of {batch}, {secs} s: {} requests, {messages} messages, \
         {:.0} messages/s; latency per request p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        messages as f64 / elapsed,
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
    let m = service.metrics();
    println!(
        "server side: /v1/check handling p50 <= {} s, p99 <= {} s (histogram buckets)",
        quantile_bound(&m, 0.50),
        quantile_bound(&m, 0.99)
    );
}

/// The smallest histogram bound under which a share `q` of the checks fell.
fn quantile_bound(m: &BTreeMap<String, f64>, q: f64) -> String {
    let count = m["spamward_check_duration_seconds_count"];
    let mut buckets: Vec<(f64, &str, f64)> = m
        .iter()
        .filter_map(|(k, &n)| {
            let le = k
                .strip_prefix(r#"spamward_check_duration_seconds_bucket{le=""#)?
                .strip_suffix(r#""}"#)?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, le, n))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
        .iter()
        .find(|(_, _, n)| *n >= q * count)
        .map_or("+Inf", |(_, le, _)| le)
        .to_owned()
}

/// Rule packs reload with the policy: a new pack's rule fires on the next message, and a pack
/// with a mistake is refused by name while the packs in force stay.
#[test]
fn rule_packs_reload_with_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    fs::create_dir(&rules).unwrap();
    let pack = |id: &str, word: &str| {
        format!(
            "[[rule]]\nid = \"{id}\"\ndescription = \"x\"\ncategory = \"phishing\"\nkeywords = [\"{word}\"]\nweight = 0.9\n"
        )
    };
    fs::write(rules.join("a.toml"), pack("house.one", "zebra")).unwrap();
    let service = Service::start(&["--rules", p(&rules)]);
    let rules_fired = |id: &str, text: &str, secs: u64| {
        let body = format!(
            r#"{{"id":"{id}","ts":{},"business":"b-r","recipient":"r-{id}","category":"utility","text":"{text}"}}"#,
            T0 + secs * SECOND
        );
        let a = service.post("/v1/check", &body);
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["signal"] == "content_rules")
            .map(|r| r["detail"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        rules_fired("1", "a zebra at the door", 0).as_deref(),
        Some("house.one")
    );
    assert_eq!(rules_fired("2", "a giraffe at the door", 1), None);

    fs::write(rules.join("a.toml"), pack("house.two", "giraffe")).unwrap();
    let a = service.post("/v1/policy/reload", "");
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        rules_fired("3", "a giraffe at the door", 2).as_deref(),
        Some("house.two")
    );

    fs::write(rules.join("b.toml"), "[[rule]]\nid = \"Bad Id\"\n").unwrap();
    let a = service.post("/v1/policy/reload", "");
    assert_eq!(a.status, 400, "{}", a.body);
    let error = a.json()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("b.toml"), "{error}");
    assert_eq!(
        rules_fired("4", "a giraffe at the door", 3).as_deref(),
        Some("house.two"),
        "the packs in force stay"
    );
}
