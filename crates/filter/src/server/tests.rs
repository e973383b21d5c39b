//! The service in-process (`tower::ServiceExt::oneshot`) and over loopback; its answers against
//! the plain filter and against its own OpenAPI document.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use serde_json::{Value, json};
use spamward_core::{Event, Verdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::*;

/// A route that panics, to see the panic answered.
pub(super) async fn panic_handler() -> Response {
    panic!("the test route panics")
}

const MESSAGE: &str = r#"{"type":"message","id":"m-1","ts":1764000000000,"business":"b-17","recipient":"r-9312","category":"marketing","template":"t-3","text":"Flash sale! 50% off today only"}"#;
const FEEDBACK: &str = r#"{"type":"feedback","ts":1764000060000,"business":"b-17","recipient":"r-9312","kind":"read","message":"m-1"}"#;
const T0: u64 = 1_764_000_000_000;

/// A message of `business` at `T0 + secs` s.
fn message(id: &str, business: &str, secs: u64) -> String {
    format!(
        r#"{{"id":"{id}","ts":{},"business":"{business}","recipient":"r-{id}","category":"utility","text":"Your code is 1234"}}"#,
        T0 + secs * 1000
    )
}

/// What came back.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8")
    }
}

/// Sends one request through the router in-process.
async fn call(server: &Server, method: Method, path: &str, body: impl Into<Body>) -> Answer {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap();
    let resp = server.router().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

fn server(config: ServerConfig) -> Server {
    Server::new(Arc::new(Filter::new(Policy::default())), config).unwrap()
}

/// A generated world's log.
fn world(seed: u64) -> Vec<Event> {
    crate::tests::world_of(30, 10_000, 2, seed)
}

/// Posts `events` in log order, runs of messages to /v1/check and runs of others to
/// /v1/events, in batches of at most `batch`; returns the verdicts' JSON, one per message.
async fn post_log(server: &Server, events: &[Event], batch: usize) -> Vec<String> {
    let mut verdicts = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let is_message = matches!(events[i], Event::Message(_));
        let run = events[i..]
            .iter()
            .take(batch)
            .take_while(|e| matches!(e, Event::Message(_)) == is_message)
            .count();
        let body = format!(
            "[{}]",
            events[i..i + run]
                .iter()
                .map(Event::to_json)
                .collect::<Vec<_>>()
                .join(",")
        );
        let path = if is_message {
            "/v1/check"
        } else {
            "/v1/events"
        };
        let answer = call(server, Method::POST, path, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        if is_message {
            let list: Vec<&serde_json::value::RawValue> =
                serde_json::from_slice(&answer.body).unwrap();
            assert_eq!(list.len(), run);
            verdicts.extend(list.iter().map(|v| v.get().to_owned()));
        } else {
            assert_eq!(answer.json(), json!({ "accepted": run }));
        }
        i += run;
    }
    verdicts
}

#[tokio::test]
async fn a_log_posted_in_order_gets_the_filters_verdicts_byte_for_byte() {
    let events = world(3);
    let direct = Filter::new(Policy::default());
    let expected: Vec<String> = events
        .iter()
        .filter_map(|ev| direct.observe(ev))
        .map(|v: Verdict| {
            let mut out = Vec::new();
            v.write_json(&mut out);
            String::from_utf8(out).unwrap()
        })
        .collect();
    assert!(expected.len() > 5_000, "{}", expected.len());
    // On the async worker, and all of it on the blocking pool.
    for blocking_body_bytes in [usize::MAX, 0] {
        let server = server(ServerConfig {
            blocking_body_bytes,
            ..ServerConfig::default()
        });
        let got = post_log(&server, &events, 100).await;
        assert_eq!(got.len(), expected.len());
        let first_difference = got.iter().zip(&expected).position(|(a, b)| a != b);
        assert_eq!(first_difference, None, "blocking at {blocking_body_bytes}");
        assert_eq!(server.filter().counts(), direct.counts());
    }
}

#[tokio::test]
async fn one_object_gets_one_verdict_and_a_batch_an_array_in_order() {
    let s = server(ServerConfig::default());
    let one = call(&s, Method::POST, "/v1/check", MESSAGE).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(one.json()["message"], "m-1");
    assert_eq!(one.json()["action"], "allow");

    // `type` left out, given, or null; then an empty batch.
    let batch = format!(
        "[{},{},{}]",
        message("a", "b-1", 1),
        message("b", "b-2", 2).replacen('{', r#"{"type":"message","#, 1),
        message("c", "b-1", 3).replacen('{', r#"{"type":null,"#, 1),
    );
    let many = call(&s, Method::POST, "/v1/check", batch).await;
    assert_eq!(many.status, StatusCode::OK, "{}", many.text());
    let ids: Vec<Value> = many
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["message"].clone())
        .collect();
    assert_eq!(ids, [json!("a"), json!("b"), json!("c")]);
    let empty = call(&s, Method::POST, "/v1/check", " [ ] ").await;
    assert_eq!(
        (empty.status, empty.text()),
        (StatusCode::OK, "[]".to_owned())
    );

    let events = call(&s, Method::POST, "/v1/events", format!("[{FEEDBACK}]")).await;
    assert_eq!(events.json(), json!({ "accepted": 1 }));
    let counts = s.filter().counts();
    assert_eq!((counts.messages, counts.feedback), (4, 1));
}

/// A bad body: route, body, status, field, index, the start of the error.
type BadCase = (
    &'static str,
    String,
    u16,
    Option<&'static str>,
    Option<usize>,
    &'static str,
);

/// Each bad body is refused as it should be.
#[tokio::test]
async fn bad_requests_name_the_field_and_the_index_and_apply_nothing() {
    let good = message("ok", "b-1", 1);
    let cases: Vec<BadCase> = vec![
        ("/v1/check", String::new(), 400, None, None, "empty body"),
        (
            "/v1/check",
            "not json".into(),
            400,
            None,
            None,
            "malformed JSON",
        ),
        ("/v1/check", "[1,".into(), 400, None, None, "malformed JSON"),
        (
            "/v1/check",
            format!("[{good},1]"),
            400,
            None,
            Some(1),
            "malformed JSON",
        ),
        (
            "/v1/check",
            "{}".into(),
            400,
            Some("id"),
            None,
            "field `id`: missing",
        ),
        (
            "/v1/check",
            MESSAGE.replace("1764000000000", "1764000000"),
            400,
            Some("ts"),
            None,
            "field `ts`: bad timestamp",
        ),
        (
            "/v1/check",
            format!("[{good},{good},{}]", good.replace("utility", "spam")),
            400,
            Some("category"),
            Some(2),
            "field `category`: expected one of",
        ),
        (
            "/v1/check",
            FEEDBACK.into(),
            400,
            Some("type"),
            None,
            "field `type`: \"feedback\" events go to",
        ),
        (
            "/v1/check",
            format!("[{good},{}]", MESSAGE.replace("message\"", "wave\"")),
            400,
            Some("type"),
            Some(1),
            "field `type`: unknown event type",
        ),
        (
            "/v1/events",
            format!("[{FEEDBACK},{MESSAGE}]"),
            400,
            Some("type"),
            Some(1),
            "field `type`: messages go to",
        ),
        (
            "/v1/events",
            good.clone(),
            400,
            Some("type"),
            None,
            "field `type`: missing",
        ),
        (
            "/v1/events",
            FEEDBACK.replace("read", "like"),
            400,
            Some("kind"),
            None,
            "field `kind`",
        ),
    ];
    let s = server(ServerConfig::default());
    for (path, body, status, field, index, error) in cases {
        let a = call(&s, Method::POST, path, body.clone()).await;
        let v = a.json();
        assert_eq!(a.status.as_u16(), status, "{body}: {v}");
        assert_eq!(v["field"].as_str(), field, "{body}: {v}");
        assert_eq!(v["index"].as_u64(), index.map(|i| i as u64), "{body}: {v}");
        let text = v["error"].as_str().unwrap();
        assert!(text.starts_with(error), "{body}: {text}");
    }
    assert_eq!(
        s.filter().counts().events,
        0,
        "nothing of a bad request is applied"
    );
}

#[tokio::test]
async fn oversized_bodies_and_batches_are_refused_with_413() {
    let s = server(ServerConfig {
        max_body_bytes: 4096,
        max_batch: 5,
        ..ServerConfig::default()
    });
    let big = format!("[{}]", vec![message("x", "b-1", 1); 40].join(","));
    assert!(big.len() > 4096);
    let a = call(&s, Method::POST, "/v1/check", big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        a.json()["error"]
            .as_str()
            .unwrap()
            .contains("limit of 4096 bytes")
    );

    let six = format!("[{}]", [FEEDBACK; 6].join(","));
    let a = call(&s, Method::POST, "/v1/events", six).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        a.json()["error"],
        "a batch of 6 events is over the limit of 5"
    );
    let five = format!("[{}]", [FEEDBACK; 5].join(","));
    assert_eq!(
        call(&s, Method::POST, "/v1/events", five).await.status,
        StatusCode::OK
    );
    assert_eq!(s.filter().counts().events, 5);
}

#[tokio::test]
async fn a_business_standing_or_404() {
    let s = server(ServerConfig::default());
    call(&s, Method::POST, "/v1/check", MESSAGE).await;
    let a = call(&s, Method::GET, "/v1/businesses/b-17", Body::empty()).await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert_eq!(v["business"], "b-17");
    assert_eq!(v["status"], "active");
    assert_eq!(v["totals"]["messages"], 1);
    let expected = serde_json::to_value(s.filter().standing("b-17").unwrap()).unwrap();
    for (k, want) in expected.as_object().unwrap() {
        assert_eq!(&v[k], want, "{k}");
    }

    let a = call(&s, Method::GET, "/v1/businesses/b%2099", Body::empty()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(
        a.json(),
        json!({"error": "no event of business \"b 99\" has been seen", "field": "id"})
    );
}

/// A policy that throttles a new business's second message in an hour.
const STRICT: &str = "[signals.new_business_ramp_1h]\nper_hour = 1\n";

#[tokio::test]
async fn reload_puts_a_valid_policy_in_force_and_keeps_the_old_one_on_error() {
    let text = Arc::new(Mutex::new(String::new()));
    let source = Arc::clone(&text);
    let s = Server::with_policy_loader(
        Arc::new(Filter::new(Policy::default())),
        ServerConfig::default(),
        move || {
            Policy::from_toml_overlay(&source.lock().unwrap())
                .map_err(|e| format!("policy.toml: {e}"))
        },
    )
    .unwrap();
    let action = |id: &str, secs: u64| {
        let s = s.clone();
        let body = message(id, "b-new", secs);
        async move { call(&s, Method::POST, "/v1/check", body).await.json()["action"].clone() }
    };
    assert_eq!(action("1", 0).await, "allow");
    assert_eq!(action("2", 1).await, "allow");

    *text.lock().unwrap() = STRICT.to_owned();
    let a = call(&s, Method::POST, "/v1/policy/reload", Body::empty()).await;
    assert_eq!(
        (a.status, a.json()),
        (StatusCode::OK, json!({"status": "reloaded"}))
    );
    assert_eq!(action("3", 2).await, "throttle");

    *text.lock().unwrap() = "[signals.new_business_ramp_1h]\nper_hour = \"lots\"\n".to_owned();
    let a = call(&s, Method::POST, "/v1/policy/reload", Body::empty()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let error = a.json()["error"].as_str().unwrap().to_owned();
    assert!(
        error.starts_with("policy not reloaded, the old one stays: policy.toml: policy key `signals.new_business_ramp_1h.per_hour`"),
        "{error}"
    );
    assert_eq!(
        action("4", 3).await,
        "throttle",
        "the last good policy stays"
    );
    assert!(s.reload_policy().is_err());
}

/// Reloads while requests run on many tasks at once: every request is answered 200 with one
/// verdict per message, each verdict under one policy or the other (never a half-swapped one),
/// and the metrics count every verdict once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_answer_every_request_once() {
    let strict = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flip = Arc::clone(&strict);
    let s = Server::with_policy_loader(
        Arc::new(Filter::new(Policy::default())),
        ServerConfig::default(),
        move || {
            // Each reload puts the other policy in force.
            let n = flip.fetch_xor(true, std::sync::atomic::Ordering::SeqCst);
            Policy::from_toml_overlay(if n { "" } else { STRICT }).map_err(|e| e.to_string())
        },
    )
    .unwrap();
    let (clients, requests, batch) = (4u64, 40u64, 25u64);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut actions = Vec::new();
            for r in 0..requests {
                let body = (0..batch)
                    .map(|k| {
                        let n = r * batch + k;
                        message(&format!("m-{c}-{n}"), &format!("b-{c}-{}", n % 7), n)
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                let a = call(&s, Method::POST, "/v1/check", format!("[{body}]")).await;
                assert_eq!(a.status, StatusCode::OK, "{}", a.text());
                let verdicts = a.json();
                let verdicts = verdicts.as_array().unwrap();
                assert_eq!(verdicts.len() as u64, batch);
                for (k, v) in verdicts.iter().enumerate() {
                    let n = r * batch + k as u64;
                    assert_eq!(v["message"], format!("m-{c}-{n}"), "in order");
                    let ramp = v["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|h| h["signal"] == "new_business_ramp_1h")
                        .map(|h| h["threshold"].as_f64().unwrap());
                    actions.push((v["action"].as_str().unwrap().to_owned(), ramp));
                }
            }
            actions
        }));
    }
    let reloader = {
        let s = s.clone();
        tokio::spawn(async move {
            let mut done = 0;
            for _ in 0..50 {
                let a = call(&s, Method::POST, "/v1/policy/reload", Body::empty()).await;
                assert_eq!(a.status, StatusCode::OK, "{}", a.text());
                done += 1;
                tokio::task::yield_now().await;
            }
            done
        })
    };
    let mut actions = Vec::new();
    for t in tasks {
        actions.extend(t.await.unwrap());
    }
    assert_eq!(reloader.await.unwrap(), 50);
    assert_eq!(actions.len() as u64, clients * requests * batch);
    // New businesses: the defaults allow their first messages, the strict policy throttles
    // all but the first of the hour. Both throttle past their hourly ramp, so what tells the
    // policies apart is the line a ramp reason names: the defaults' or the strict policy's,
    // never another, and both occur, or the reloads changed nothing under load.
    assert!(actions.iter().any(|(a, _)| a == "allow"), "{actions:?}");
    let default = Policy::default().signals.new_business_ramp_1h.per_hour as f64;
    let strict = Policy::from_toml_overlay(STRICT)
        .unwrap()
        .signals
        .new_business_ramp_1h
        .per_hour as f64;
    assert_ne!(default, strict);
    let lines: std::collections::BTreeSet<u64> = actions
        .iter()
        .filter_map(|(_, ramp)| ramp.map(f64::to_bits))
        .collect();
    assert_eq!(
        lines,
        [default.to_bits(), strict.to_bits()].into_iter().collect(),
        "the ramp lines verdicts named: {:?}",
        lines.iter().map(|&b| f64::from_bits(b)).collect::<Vec<_>>()
    );
    let c = s.filter().counts();
    assert_eq!(c.messages, clients * requests * batch);
    assert_eq!(c.allowed + c.throttled + c.held + c.blocked, c.messages);
}

/// A server owning partition 0 of 2, and a business of each partition.
fn partitioned() -> (Server, String, String) {
    let filter = Filter::builder()
        .partition(crate::Partition::new(0, 2).unwrap())
        .build();
    let s = Server::new(Arc::new(filter), ServerConfig::default()).unwrap();
    let of = |p| {
        (0..)
            .map(|i| format!("b-{i}"))
            .find(|b| crate::Partition::of(b, 2) == p)
            .unwrap()
    };
    (s, of(0), of(1))
}

#[tokio::test]
async fn a_partition_refuses_other_businesses_with_421_and_applies_nothing() {
    let (s, mine, theirs) = partitioned();
    let batch = format!("[{},{}]", message("a", &mine, 1), message("b", &theirs, 2));
    let a = call(&s, Method::POST, "/v1/check", batch).await;
    assert_eq!(a.status, StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(
        a.json(),
        json!({
            "error": format!("business {theirs:?} belongs to partition 1/2, not to this instance (0/2)"),
            "field": "business",
            "index": 1,
        })
    );
    let feedback = FEEDBACK.replace("b-17", &theirs);
    let a = call(&s, Method::POST, "/v1/events", feedback).await;
    assert_eq!(
        (a.status, a.json()["index"].clone()),
        (StatusCode::MISDIRECTED_REQUEST, Value::Null)
    );
    assert_eq!(s.filter().counts().events, 0);
    let a = call(
        &s,
        Method::GET,
        &format!("/v1/businesses/{theirs}"),
        Body::empty(),
    )
    .await;
    assert_eq!(
        (a.status, a.json()["field"].clone()),
        (StatusCode::MISDIRECTED_REQUEST, json!("id"))
    );
    let a = call(&s, Method::POST, "/v1/check", message("c", &mine, 3)).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn a_panic_is_answered_500_and_the_service_goes_on() {
    let s = server(ServerConfig::default());
    let a = call(&s, Method::POST, "/v1/test/panic", Body::empty()).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.json()["error"], "internal error: the test route panics");
    assert_eq!(s.in_flight(), 0, "the panicking request's permit is back");
    assert_eq!(
        call(&s, Method::POST, "/v1/check", MESSAGE).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let s = server(ServerConfig::default());
    let a = call(&s, Method::GET, "/v2/nothing", Body::empty()).await;
    assert_eq!(
        (a.status, a.json()),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "no route for GET /v2/nothing"})
        )
    );
    let a = call(&s, Method::GET, "/v1/check", Body::empty()).await;
    assert_eq!(
        (a.status, a.json()),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "GET is not allowed on /v1/check"})
        )
    );
    let a = call(&s, Method::GET, "/healthz", Body::empty()).await;
    assert_eq!(
        (a.status, a.json()),
        (StatusCode::OK, json!({"status": "ok"}))
    );
}

#[test]
fn limits_are_checked_at_construction() {
    let filter = Arc::new(Filter::new(Policy::default()));
    for (config, key) in [
        (
            ServerConfig {
                max_in_flight: 0,
                ..ServerConfig::default()
            },
            "max_in_flight",
        ),
        (
            ServerConfig {
                max_batch: 0,
                ..ServerConfig::default()
            },
            "max_batch",
        ),
        (
            ServerConfig {
                max_body_bytes: 0,
                ..ServerConfig::default()
            },
            "max_body_bytes",
        ),
    ] {
        let e = Server::new(Arc::clone(&filter), config).unwrap_err();
        assert_eq!(e.key(), key);
        assert_eq!(e.to_string(), format!("`{key}` must be at least 1"));
    }
}

/// Parses the exposition: every sample `name{labels} value`, after its family's HELP and TYPE.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().unwrap().to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert_eq!(
                helped.last().map(String::as_str),
                Some(name),
                "HELP before TYPE"
            );
            typed.insert(name.to_owned(), kind.to_owned());
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let name = series.split('{').next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(name);
            assert!(typed.contains_key(family), "{line}: no TYPE for {family}");
            if typed[family] == "counter" {
                assert!(family.ends_with("_total"), "{family}");
            }
            let value: f64 = value.parse().unwrap();
            assert!(
                samples.insert(series.to_owned(), value).is_none(),
                "{series} twice"
            );
        }
    }
    samples
}

#[tokio::test]
async fn metrics_count_what_was_done_in_prometheus_text() {
    let s = server(ServerConfig::default());
    let batch = format!(
        "[{},{},{}]",
        message("a", "b-1", 1),
        message("b", "b-1", 2),
        message("c", "b-2", 2)
    );
    call(&s, Method::POST, "/v1/check", batch).await;
    call(&s, Method::POST, "/v1/check", MESSAGE).await;
    call(&s, Method::POST, "/v1/check", "nope").await;
    call(
        &s,
        Method::POST,
        "/v1/events",
        format!("[{FEEDBACK},{FEEDBACK}]"),
    )
    .await;
    call(&s, Method::GET, "/v1/businesses/b-1", Body::empty()).await;
    call(&s, Method::GET, "/v1/businesses/none", Body::empty()).await;
    call(&s, Method::GET, "/healthz", Body::empty()).await;
    call(&s, Method::GET, "/metrics", Body::empty()).await;
    call(&s, Method::GET, "/somewhere", Body::empty()).await;

    let a = call(&s, Method::GET, "/metrics", Body::empty()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.headers[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let m = parse_metrics(&a.text());
    let get = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no {k} in\n{}", a.text()))
    };
    assert_eq!(get(r#"spamward_events_total{type="message"}"#), 4.0);
    assert_eq!(get(r#"spamward_events_total{type="feedback"}"#), 2.0);
    assert_eq!(get(r#"spamward_events_total{type="delivery"}"#), 0.0);
    assert_eq!(get(r#"spamward_verdicts_total{action="allow"}"#), 4.0);
    assert_eq!(get(r#"spamward_verdicts_total{action="block"}"#), 0.0);
    for (route, code, n) in [
        ("/v1/check", "200", 2.0),
        ("/v1/check", "400", 1.0),
        ("/v1/events", "200", 1.0),
        ("/v1/businesses/{id}", "200", 1.0),
        ("/v1/businesses/{id}", "404", 1.0),
        ("/healthz", "200", 1.0),
        ("/metrics", "200", 1.0),
        ("other", "404", 1.0),
    ] {
        let key = format!(r#"spamward_http_requests_total{{route="{route}",code="{code}"}}"#);
        assert_eq!(get(&key), n, "{key}");
    }
    // Three checks timed (the bad one too), in cumulative buckets.
    let h = "spamward_check_duration_seconds";
    assert_eq!(get(&format!("{h}_count")), 3.0);
    assert_eq!(get(&format!(r#"{h}_bucket{{le="+Inf"}}"#)), 3.0);
    let buckets: Vec<f64> = a
        .text()
        .lines()
        .filter(|l| l.starts_with(&format!("{h}_bucket")))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), BOUND_COUNT + 1);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert!(get(&format!("{h}_sum")) > 0.0);
    assert_eq!(get("spamward_in_flight_requests"), 0.0);
    assert_eq!(get("spamward_max_in_flight_requests"), 256.0);
    assert_eq!(get("spamward_rejected_requests_total"), 0.0);
    assert_eq!(get("spamward_businesses"), 3.0);
    assert_eq!(get("spamward_content_signals"), 1.0);
}

const BOUND_COUNT: usize = 15;

/// Starts a server on a loopback port; returns its address and a handle to stop it.
async fn start(
    config: ServerConfig,
) -> (
    Server,
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<io::Result<()>>,
) {
    let s = server(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(s.clone().serve(listener, async move {
        let _ = stopped.await;
    }));
    (s, addr, stop, task)
}

/// Opens a POST of a `length`-byte body and sends only its head and `part` of the body.
async fn open_post(addr: std::net::SocketAddr, path: &str, length: usize, part: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n{part}"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp
}

/// Reads an HTTP/1.1 answer to the end (the request said `connection: close`).
async fn read_answer(mut tcp: TcpStream) -> (u16, String, String) {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut raw))
        .await
        .expect("an answer in time")
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_capacity_a_request_gets_503_at_once_and_the_held_one_completes() {
    let (s, addr, stop, task) = start(ServerConfig {
        max_in_flight: 1,
        ..ServerConfig::default()
    })
    .await;
    // The first request holds the only permit while its body trickles in.
    let (head, tail) = MESSAGE.split_at(20);
    let mut held = open_post(addr, "/v1/check", MESSAGE.len(), head).await;
    until("the request in flight", || s.in_flight() == 1).await;

    let second = open_post(addr, "/v1/check", MESSAGE.len(), MESSAGE).await;
    let (status, head_lines, body) = read_answer(second).await;
    assert_eq!(status, 503);
    assert!(
        head_lines
            .to_ascii_lowercase()
            .contains("retry-after: 1\r\n"),
        "{head_lines}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["error"],
        "1 requests are already in flight; retry shortly"
    );
    // Watching is not bounded.
    let health = open_get(addr, "/healthz").await;
    assert_eq!(read_answer(health).await.0, 200);

    held.write_all(tail.as_bytes()).await.unwrap();
    let (status, _, body) = read_answer(held).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with(r#"{"message":"m-1""#), "{body}");
    assert_eq!(s.in_flight(), 0);

    let metrics = open_get(addr, "/metrics").await;
    let (_, _, text) = read_answer(metrics).await;
    let m = parse_metrics(&text);
    assert_eq!(m["spamward_rejected_requests_total"], 1.0);
    assert_eq!(
        m[r#"spamward_http_requests_total{route="/v1/check",code="503"}"#],
        1.0
    );
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

async fn open_get(addr: std::net::SocketAddr, path: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_lets_the_request_in_flight_finish() {
    let (s, addr, stop, task) = start(ServerConfig::default()).await;
    let (head, tail) = MESSAGE.split_at(30);
    let mut held = open_post(addr, "/v1/check", MESSAGE.len(), head).await;
    until("the request in flight", || s.in_flight() == 1).await;
    stop.send(()).unwrap();
    // The listener closes: a new connection is refused (or, if it slipped into the backlog,
    // never answered).
    until("the listener to close", || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_err()
    })
    .await;
    assert!(!task.is_finished(), "the request in flight is waited for");
    held.write_all(tail.as_bytes()).await.unwrap();
    let (status, _, body) = read_answer(held).await;
    assert_eq!(status, 200, "{body}");
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the server stops once the request is answered")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_on_a_stuck_request_after_the_grace() {
    let (s, addr, stop, task) = start(ServerConfig {
        shutdown_grace: Duration::from_millis(200),
        ..ServerConfig::default()
    })
    .await;
    let _held = open_post(addr, "/v1/check", MESSAGE.len(), "{").await;
    until("the request in flight", || s.in_flight() == 1).await;
    stop.send(()).unwrap();
    let e = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert!(
        e.to_string().starts_with("1 requests still in flight"),
        "{e}"
    );
}

// ---- The OpenAPI document against real answers.

fn document() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("data/openapi.json is JSON")
}

/// Follows a local `$ref` (`#/a/b`) in the document.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.strip_prefix('#').unwrap())
            .unwrap_or_else(|| panic!("dangling {r}")),
        None => v,
    }
}

/// A JSON Schema validator for `schema`, a schema object of the document (OpenAPI 3.1 schemas
/// are JSON Schema 2020-12): the whole document is the root, so `#/components/...` references
/// resolve, with the schema laid over it.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = doc.clone();
    let root_object = root.as_object_mut().unwrap();
    for (k, v) in schema.as_object().expect("a schema object") {
        root_object.insert(k.clone(), v.clone());
    }
    jsonschema::draft202012::options()
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {schema}: {e}"))
}

/// The route pattern in the document that `path` matches.
fn template<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    let path = path.split('?').next().unwrap();
    doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .find(|t| {
            let (a, b): (Vec<&str>, Vec<&str>) =
                (t.split('/').collect(), path.split('/').collect());
            a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || x.starts_with('{'))
        })
}

/// Checks an answer against the document: its status is documented for the operation, its
/// content type is the documented one, and its body matches the documented schema.
fn conforms(doc: &Value, method: &Method, path: &str, a: &Answer) -> Result<(), String> {
    let t = template(doc, path).ok_or_else(|| format!("{path} is not in the document"))?;
    let op = &doc["paths"][t][method.as_str().to_ascii_lowercase()];
    if op.is_null() {
        return Err(format!("{method} {t} is not in the document"));
    }
    let documented = op["responses"]
        .get(a.status.as_str())
        .ok_or_else(|| format!("{method} {t}: status {} is not documented", a.status))?;
    let response = resolve(doc, documented);
    let content_type = a.headers[header::CONTENT_TYPE].to_str().unwrap();
    let media = content_type.split(';').next().unwrap();
    let schema = &response["content"][media]["schema"];
    if schema.is_null() {
        return Err(format!(
            "{method} {t} {}: {content_type} is not documented",
            a.status
        ));
    }
    if media == "application/json" {
        let errors: Vec<String> = validator(doc, schema)
            .iter_errors(&a.json())
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            return Err(format!(
                "{method} {t} {}: {errors:?}\n{}",
                a.status,
                a.text()
            ));
        }
    }
    for (name, _) in response["headers"].as_object().into_iter().flatten() {
        if !a.headers.contains_key(name.as_str()) {
            return Err(format!("{method} {t} {}: no {name} header", a.status));
        }
    }
    Ok(())
}

#[test]
fn the_schemas_catch_what_they_should() {
    let doc = document();
    let verdict = validator(&doc, &json!({"$ref": "#/components/schemas/Verdict"}));
    let good = json!({"message": "m", "business": "b", "action": "hold", "score": 0.7,
        "reasons": [{"signal": "opted_out", "value": 1.0, "threshold": 0.0}]});
    assert!(verdict.is_valid(&good));
    for bad in [
        json!({"message": "m"}),
        json!({"message": "m", "business": "b", "action": "maybe", "score": 0.7, "reasons": []}),
        json!({"message": "m", "business": "b", "action": "hold", "score": 0.7, "reasons": [{"signal": "x"}]}),
        json!({"message": "m", "business": "b", "action": "hold", "score": 0.7, "reasons": [], "extra": 1}),
    ] {
        assert!(!verdict.is_valid(&bad), "{bad}");
    }
    let check = validator(&doc, &json!({"$ref": "#/components/schemas/CheckRequest"}));
    let message: Value = serde_json::from_str(MESSAGE).unwrap();
    assert!(check.is_valid(&message));
    assert!(check.is_valid(&json!([message, message])));
    assert!(!check.is_valid(&serde_json::from_str::<Value>(FEEDBACK).unwrap()));
    assert!(!check.is_valid(&json!([{"id": "m"}])));
    let events = validator(&doc, &json!({"$ref": "#/components/schemas/EventsRequest"}));
    assert!(events.is_valid(&serde_json::from_str::<Value>(FEEDBACK).unwrap()));
    assert!(!events.is_valid(&message));
}

#[tokio::test]
async fn every_answer_matches_the_openapi_document() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let s = Server::with_policy_loader(
        Arc::new(Filter::new(Policy::default())),
        ServerConfig {
            max_batch: 3,
            max_body_bytes: 8192,
            ..ServerConfig::default()
        },
        || Policy::from_toml_overlay("[score]\nhold = 2.0\n").map_err(|e| e.to_string()),
    )
    .unwrap();
    let mut exchanges: Vec<(Method, String, Answer)> = Vec::new();
    let mut ask = async |method: Method, path: &str, body: String| {
        let a = call(&s, method.clone(), path, body).await;
        exchanges.push((method, path.to_owned(), a));
    };
    // The document's own request examples are real requests.
    for (path, op) in doc["paths"].as_object().unwrap() {
        let Some(content) = op["post"]["requestBody"]["content"]["application/json"].as_object()
        else {
            continue;
        };
        let request = validator(&doc, &content["schema"]);
        for (name, example) in content["examples"].as_object().unwrap() {
            let value = &example["value"];
            assert!(
                request.is_valid(value),
                "{path} example {name} is not valid"
            );
            ask(Method::POST, path, value.to_string()).await;
        }
    }
    let suspend = (0..3)
        .map(|i| format!(r#"{{"type":"delivery","ts":{},"business":"b-17","recipient":"r-{i}","message":"m-{i}","status":"failed","error":"invalid_number"}}"#, T0 + i))
        .collect::<Vec<_>>()
        .join(",");
    ask(Method::POST, "/v1/events", format!("[{suspend}]")).await;
    ask(
        Method::POST,
        "/v1/check",
        format!("[{}]", message("z", "b-17", 99)),
    )
    .await;
    ask(Method::POST, "/v1/check", "[{\"id\":1}]".into()).await;
    ask(Method::POST, "/v1/check", format!("[{FEEDBACK}]")).await;
    ask(
        Method::POST,
        "/v1/check",
        format!("[{MESSAGE},{MESSAGE},{MESSAGE},{MESSAGE}]"),
    )
    .await;
    ask(Method::POST, "/v1/check", format!("[{}]", "x".repeat(9000))).await;
    ask(Method::POST, "/v1/events", MESSAGE.into()).await;
    ask(Method::GET, "/v1/businesses/b-17", String::new()).await;
    ask(Method::GET, "/v1/businesses/b-404", String::new()).await;
    ask(Method::POST, "/v1/policy/reload", String::new()).await;
    ask(Method::POST, "/v1/test/panic", String::new()).await;
    ask(Method::GET, "/metrics", String::new()).await;
    ask(Method::GET, "/healthz", String::new()).await;
    ask(Method::GET, "/openapi.json", String::new()).await;

    let mut seen = BTreeMap::new();
    for (method, path, a) in &exchanges {
        if path == "/v1/test/panic" {
            // Not a route of the service: its answer is the documented 500 of every route.
            let internal = &doc["components"]["responses"]["InternalError"];
            let schema = &internal["content"]["application/json"]["schema"];
            assert!(validator(&doc, schema).is_valid(&a.json()));
            continue;
        }
        if let Err(e) = conforms(&doc, method, path, a) {
            panic!("{e}");
        }
        let t = template(&doc, path).unwrap();
        *seen
            .entry((method.to_string(), t.to_owned(), a.status.as_u16()))
            .or_insert(0) += 1;
    }
    // Every operation of the document was exercised, with each of the statuses expected here.
    let statuses: Vec<_> = seen
        .keys()
        .map(|(m, t, s)| format!("{m} {t} {s}"))
        .collect();
    for want in [
        "POST /v1/check 200",
        "POST /v1/check 400",
        "POST /v1/check 413",
        "POST /v1/events 200",
        "POST /v1/events 400",
        "GET /v1/businesses/{id} 200",
        "GET /v1/businesses/{id} 404",
        "POST /v1/policy/reload 400",
        "GET /metrics 200",
        "GET /healthz 200",
        "GET /openapi.json 200",
    ] {
        assert!(
            statuses.iter().any(|s| s == want),
            "{want} not exercised: {statuses:?}"
        );
    }
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    let exercised: std::collections::BTreeSet<_> = seen
        .keys()
        .map(|(m, t, _)| (m.clone(), t.clone()))
        .collect();
    assert_eq!(exercised.len(), operations, "{exercised:?}");
    // Verdicts with every kind of reason, standings with status changes: a world, posted.
    let s = server(ServerConfig::default());
    let events = world(4);
    let verdict = validator(&doc, &json!({"$ref": "#/components/schemas/Verdict"}));
    let mut with_evidence = 0;
    for v in post_log(&s, &events, 200).await {
        let v: Value = serde_json::from_str(&v).unwrap();
        assert!(verdict.is_valid(&v), "{v}");
        with_evidence += v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r.get("window").is_some() && r.get("probability").is_some())
            .count();
    }
    assert!(with_evidence > 0);
    let mut businesses: Vec<&str> = events.iter().map(Event::business).collect();
    businesses.sort_unstable();
    businesses.dedup();
    let mut changed = 0;
    for b in businesses {
        let path = format!("/v1/businesses/{b}");
        let a = call(&s, Method::GET, &path, Body::empty()).await;
        conforms(&doc, &Method::GET, &path, &a).unwrap();
        let v = a.json();
        changed += usize::from(
            !v["changes"].as_array().unwrap().is_empty() && !v["first_action"].is_null(),
        );
    }
    assert!(changed > 0, "some business was flagged");
    // The 421s of a partition.
    let (p, _, theirs) = partitioned();
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/check".to_owned(),
            message("x", &theirs, 1),
        ),
        (
            Method::POST,
            "/v1/events".to_owned(),
            FEEDBACK.replace("b-17", &theirs),
        ),
        (
            Method::GET,
            format!("/v1/businesses/{theirs}"),
            String::new(),
        ),
    ] {
        let a = call(&p, method.clone(), &path, body).await;
        assert_eq!(a.status, StatusCode::MISDIRECTED_REQUEST);
        conforms(&doc, &method, &path, &a).unwrap();
    }
    // The 200 of reload and the 503 of every route: a policy that loads, and a full server.
    let s = server(ServerConfig {
        max_in_flight: 1,
        ..ServerConfig::default()
    });
    let a = call(&s, Method::POST, "/v1/policy/reload", Body::empty()).await;
    conforms(&doc, &Method::POST, "/v1/policy/reload", &a).unwrap();
    let _permit = Arc::clone(&s.shared.permits).try_acquire_owned().unwrap();
    for (method, path) in [
        (Method::POST, "/v1/check"),
        (Method::POST, "/v1/events"),
        (Method::GET, "/v1/businesses/b-17"),
        (Method::POST, "/v1/policy/reload"),
    ] {
        let a = call(&s, method.clone(), path, MESSAGE).await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
        conforms(&doc, &method, path, &a).unwrap();
    }
}

#[test]
fn every_route_of_the_router_is_in_the_document() {
    let doc = document();
    let documented: std::collections::BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let served = [
        "/v1/check",
        "/v1/events",
        "/v1/businesses/{id}",
        "/v1/policy/reload",
        "/metrics",
        "/healthz",
        "/openapi.json",
    ];
    assert_eq!(documented, served.into_iter().collect());
    for route in served {
        assert_ne!(metrics::Route::of(route), metrics::Route::Other, "{route}");
    }
}
