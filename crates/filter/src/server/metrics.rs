//! The service's own counters and their Prometheus text exposition (format 0.0.4), written by
//! hand: a handful of atomics need no metrics framework.
//!
//! Events and verdicts are the filter's own counts ([`FilterCounts`]), so they are exact
//! whichever route brought the events. Everything else is counted here: answers by route and
//! status, 503s, policy reloads, and the latency of `POST /v1/check` as a histogram in seconds.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;

use crate::FilterCounts;

/// Upper bounds of the latency buckets, in seconds; `+Inf` follows.
const BOUNDS: [f64; 15] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0,
];

/// A latency histogram. Buckets are stored apart and summed when written, so `+Inf` and
/// `_count` always agree with the buckets.
#[derive(Debug, Default)]
pub(super) struct Histogram {
    /// Observations per bucket, `BOUNDS` then the overflow.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BOUNDS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, "histogram", help);
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            match BOUNDS.get(i) {
                Some(le) => writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}"),
                None => writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}"),
            }
            .expect("writing to a String");
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        writeln!(out, "{name}_sum {sum}").expect("writing to a String");
        writeln!(out, "{name}_count {cumulative}").expect("writing to a String");
    }
}

/// The routes answers are counted by: bounded, whatever paths clients ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Route {
    Check,
    Events,
    Business,
    Reload,
    Metrics,
    Healthz,
    Openapi,
    /// Anything that matched no route.
    Other,
}

impl Route {
    const ALL: [Route; 8] = [
        Route::Check,
        Route::Events,
        Route::Business,
        Route::Reload,
        Route::Metrics,
        Route::Healthz,
        Route::Openapi,
        Route::Other,
    ];

    /// The route label: the route's pattern.
    fn label(self) -> &'static str {
        match self {
            Route::Check => "/v1/check",
            Route::Events => "/v1/events",
            Route::Business => "/v1/businesses/{id}",
            Route::Reload => "/v1/policy/reload",
            Route::Metrics => "/metrics",
            Route::Healthz => "/healthz",
            Route::Openapi => "/openapi.json",
            Route::Other => "other",
        }
    }

    /// The route of a matched path pattern.
    pub fn of(pattern: &str) -> Route {
        Route::ALL
            .into_iter()
            .find(|r| r.label() == pattern)
            .unwrap_or(Route::Other)
    }
}

/// The status codes the service answers with; any other is counted as `other`.
const CODES: [u16; 9] = [200, 400, 404, 405, 413, 421, 500, 503, 0];

/// The service's counters.
#[derive(Debug, Default)]
pub(super) struct Metrics {
    pub check_seconds: Histogram,
    rejected: AtomicU64,
    reloads: [AtomicU64; 2],
    /// Answers by route and status code.
    answers: [[AtomicU64; CODES.len()]; Route::ALL.len()],
}

impl Metrics {
    /// A `/v1` request refused with 503.
    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reload(&self, ok: bool) {
        self.reloads[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn answered(&self, route: Route, status: StatusCode) {
        let r = Route::ALL.iter().position(|&x| x == route).unwrap_or(7);
        let c = CODES
            .iter()
            .position(|&c| c == status.as_u16())
            .unwrap_or(CODES.len() - 1);
        self.answers[r][c].fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition: every family with its `HELP` and `TYPE`.
    pub fn render(
        &self,
        counts: &FilterCounts,
        in_flight: usize,
        max_in_flight: usize,
        businesses: usize,
        content_signals: bool,
    ) -> String {
        let mut out = String::with_capacity(4096);
        let o = &mut out;
        header(
            o,
            "spamward_events_total",
            "counter",
            "Events applied, by type.",
        );
        for (kind, n) in [
            ("message", counts.messages),
            ("feedback", counts.feedback),
            ("delivery", counts.deliveries),
            ("business", counts.business_records),
        ] {
            line(o, "spamward_events_total", &[("type", kind)], n);
        }
        header(
            o,
            "spamward_verdicts_total",
            "counter",
            "Verdicts given, by action.",
        );
        for (action, n) in [
            ("allow", counts.allowed),
            ("throttle", counts.throttled),
            ("hold", counts.held),
            ("block", counts.blocked),
        ] {
            line(o, "spamward_verdicts_total", &[("action", action)], n);
        }
        self.check_seconds.write(
            o,
            "spamward_check_duration_seconds",
            "Time to answer a POST /v1/check, from its whole body in hand to its answer ready.",
        );
        header(
            o,
            "spamward_in_flight_requests",
            "gauge",
            "/v1 requests being handled now: the depth of the bounded queue of work.",
        );
        line(o, "spamward_in_flight_requests", &[], in_flight as u64);
        header(
            o,
            "spamward_max_in_flight_requests",
            "gauge",
            "The bound on /v1 requests in flight; more at once are refused with 503.",
        );
        line(
            o,
            "spamward_max_in_flight_requests",
            &[],
            max_in_flight as u64,
        );
        header(
            o,
            "spamward_rejected_requests_total",
            "counter",
            "/v1 requests refused with 503 because the in-flight bound was reached.",
        );
        line(
            o,
            "spamward_rejected_requests_total",
            &[],
            self.rejected.load(Ordering::Relaxed),
        );
        header(
            o,
            "spamward_http_requests_total",
            "counter",
            "HTTP requests answered, by route and status code.",
        );
        for (route, by_code) in Route::ALL.iter().zip(&self.answers) {
            for (code, n) in CODES.iter().zip(by_code) {
                let n = n.load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let code = if *code == 0 {
                    "other".to_owned()
                } else {
                    code.to_string()
                };
                line(
                    o,
                    "spamward_http_requests_total",
                    &[("route", route.label()), ("code", &code)],
                    n,
                );
            }
        }
        header(
            o,
            "spamward_policy_reloads_total",
            "counter",
            "Policy reloads, by result (a failed one leaves the old policy in force).",
        );
        for (result, n) in ["ok", "error"].iter().zip(&self.reloads) {
            line(
                o,
                "spamward_policy_reloads_total",
                &[("result", result)],
                n.load(Ordering::Relaxed),
            );
        }
        header(
            o,
            "spamward_businesses",
            "gauge",
            "Businesses with state in the filter.",
        );
        line(o, "spamward_businesses", &[], businesses as u64);
        header(
            o,
            "spamward_content_signals",
            "gauge",
            "1 if message content is analysed (the content signals are on), 0 if not (--no-content).",
        );
        line(
            o,
            "spamward_content_signals",
            &[],
            u64::from(content_signals),
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}").expect("writing to a String");
}

/// One sample. Label values here are fixed strings of ours: nothing to escape.
fn line(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write!(out, "{k}=\"{v}\"").expect("writing to a String");
        }
        out.push('}');
    }
    writeln!(out, " {value}").expect("writing to a String");
}
