//! The streaming filter as an HTTP/JSON service (feature `server`), on tokio and axum.
//!
//! A [`Server`] wraps one shared [`Filter`] and answers:
//!
//! | route | answers |
//! |---|---|
//! | `POST /v1/check` | one message event, or an array of them, in; its verdict, or their verdicts in the same order, out: byte for byte the records `replay --verdicts` writes |
//! | `POST /v1/events` | feedback, delivery and business events (one or an array); `{"accepted":N}` |
//! | `GET /v1/businesses/{id}` | the business's [`Standing`] with its id; 404 if the filter has never seen it |
//! | `POST /v1/policy/reload` | loads the policy again from where it came from; 400 with the policy's error, old policy kept, if it does not load |
//! | `GET /metrics` | Prometheus text: events, verdicts, the `/v1/check` latency histogram, requests in flight, 503s |
//! | `GET /healthz` | `{"status":"ok"}` |
//! | `GET /openapi.json` | [`OPENAPI_JSON`], the OpenAPI 3.1 document of all of the above |
//!
//! Every error is JSON, `{"error": "...", "field": "...", "index": N}`, with `field` and `index`
//! present when they are known.
//!
//! # Shape
//!
//! A request body is decoded whole before anything is applied: a batch with one bad event is
//! refused with 400 naming the event's index and field, and none of its events reaches the
//! filter. Then the events are applied one after the other, in order, by one task. So a client
//! that sends its events one request after another gets, per business, exactly the ordering
//! guarantee of [`Filter`] — and a log posted in log order gets replay's verdicts. Requests that
//! overlap are applied in some interleaving, as overlapping calls to the filter are.
//!
//! The work of a request (decoding, scoring, encoding) is CPU work with no await inside and no
//! lock held across an await. Small bodies run on the async worker that read them; bodies of at
//! least [`ServerConfig::blocking_body_bytes`] go to tokio's blocking pool, so a large batch does
//! not stall the other connections of its worker.
//!
//! Work is bounded: at most [`ServerConfig::max_in_flight`] `/v1` requests are handled at once
//! (counted from before their body is read); one more is answered 503 with `Retry-After: 1` at
//! once, never queued, and with `Connection: close`, as is a body refused unread (413, or cut
//! off): the connection cannot carry another request after a body left unread. `/healthz`,
//! `/metrics` and `/openapi.json` are not counted, so an overloaded service can still be watched. Bodies over [`ServerConfig::max_body_bytes`] and
//! batches over [`ServerConfig::max_batch`] are refused with 413. A panic in a handler is caught
//! and answered 500; the filter keeps going (see [`Filter`] on poisoned state).
//!
//! A filter that owns one partition of the businesses ([`crate::FilterBuilder::partition`])
//! refuses events and standings of the others with 421 (Misdirected Request), naming the
//! business and the partition that owns it, and applies nothing of such a request.
//!
//! [`Server::serve`] stops on its shutdown future: it stops accepting, lets requests in flight
//! finish (up to [`ServerConfig::shutdown_grace`]) and returns.
//!
//! # Durable state
//!
//! With a [`Durable`] attached ([`Server::attach_durable`]), every event of a request is
//! appended to the journal before it is applied, and the journal is committed (one
//! `fdatasync`) before the answer goes out: an answered request's events are on disk,
//! *acknowledged means durable*. Requests then take turns on the journal, one at a time, so a
//! restart replays them in the order they were answered. A snapshot is written when one is
//! due, between two requests, and by [`Server::snapshot`] at shutdown.
//!
//! If the state directory fails (disk full, read-only, I/O error), the failing request is
//! answered 503 and the service *fails closed*: every later `/v1/check` and `/v1/events` is
//! answered 503 naming the failure, and `/healthz` answers 503, until an operator restarts it.
//! No verdict is ever given for an event that is not durable. The events of the failing request
//! may or may not be in the journal; the client was not answered and should send them again to
//! the restarted service, which applies any it already has a second time (at least once).

mod decode;
mod metrics;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use serde::Serialize;
use spamward_core::{Policy, Standing};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;

use crate::Filter;
use crate::durable::{Durable, DurableError};
use decode::Kind;
use metrics::{Metrics, Route};

/// The OpenAPI 3.1 document of the service (`data/openapi.json`), served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../../data/openapi.json");

/// The limits of a [`Server`]. Every field has a default ([`ServerConfig::default`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// `/v1` requests handled at once, from before their body is read until their answer is
    /// ready; one more is answered 503 with `Retry-After: 1` (default 256; at least 1).
    pub max_in_flight: usize,
    /// The largest request body, in bytes; a larger one is answered 413 (default 1 MiB).
    pub max_body_bytes: usize,
    /// The most events in one request; more are answered 413 (default 1000; at least 1).
    pub max_batch: usize,
    /// Bodies of at least this many bytes are decoded and applied on tokio's blocking pool;
    /// smaller ones on the async worker that read them (default 256 KiB, more than a batch of
    /// 1000 typical messages). Measured over loopback on 2 cores, release build, the load
    /// generator on the same cores: on the worker, batches of 100 messages (19 KB) go 5-25%
    /// faster than through the pool (1 connection: 205k against 167k messages/s; 4: 367-401k
    /// against 356-370k) with the same p99 latency, and batches of 1000 go 8% faster; the pool's
    /// thread hop costs more than it saves. The pool is kept for larger bodies, whose
    /// many milliseconds of work would hold up the other connections of a worker.
    pub blocking_body_bytes: usize,
    /// How long [`Server::serve`] waits, once told to stop, for requests in flight (default
    /// 30 s). Past it, it returns an error without them.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::DEFAULT
    }
}

impl ServerConfig {
    /// The defaults, as a constant.
    pub const DEFAULT: ServerConfig = ServerConfig {
        max_in_flight: 256,
        max_body_bytes: 1 << 20,
        max_batch: 1000,
        blocking_body_bytes: 256 << 10,
        shutdown_grace: Duration::from_secs(30),
    };

    /// Checks every knob's range; the error names the knob.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let at_least_one = |key, n: usize| {
            if n == 0 {
                Err(ConfigError {
                    key,
                    message: "must be at least 1",
                })
            } else {
                Ok(())
            }
        };
        at_least_one("max_in_flight", self.max_in_flight)?;
        at_least_one("max_batch", self.max_batch)?;
        at_least_one("max_body_bytes", self.max_body_bytes)?;
        // Far above any sensible bound, but a larger one would panic the semaphore.
        if self.max_in_flight > Semaphore::MAX_PERMITS {
            return Err(ConfigError {
                key: "max_in_flight",
                message: "is larger than the semaphore allows",
            });
        }
        Ok(())
    }
}

/// A [`ServerConfig`] knob out of range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    key: &'static str,
    message: &'static str,
}

impl ConfigError {
    /// The knob at fault (`max_in_flight`, ...).
    pub fn key(&self) -> &str {
        self.key
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A policy that did not load on reload; the policy in force stays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloadError {
    message: String,
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReloadError {}

/// Where the policy comes from on reload: reads it again and validates it, or says why not.
type Loader = dyn Fn() -> Result<Policy, String> + Send + Sync;

/// The HTTP service around one [`Filter`]. Cheap to clone: clones share the filter, the limits,
/// the metrics and the in-flight bound.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

/// What every handler sees.
struct Shared {
    filter: Arc<Filter>,
    config: ServerConfig,
    load: Box<Loader>,
    /// One permit per `/v1` request in flight.
    permits: Arc<Semaphore>,
    metrics: Metrics,
    /// The journal and snapshots, if the state is durable; requests take turns on it.
    durable: Mutex<Option<Durable>>,
    /// The state directory's failure, once it has failed: the service is closed.
    failed: Mutex<Option<String>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.shared.config)
            .field("businesses", &self.shared.filter.businesses())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server over `filter`; a reload puts back [`Policy::default`].
    pub fn new(filter: Arc<Filter>, config: ServerConfig) -> Result<Server, ConfigError> {
        Server::with_policy_loader(filter, config, || Ok(Policy::default()))
    }

    /// A server over `filter`; a reload (`POST /v1/policy/reload`, [`Server::reload_policy`])
    /// calls `load` and, if it gives a policy, puts it in force. `load` reads and validates the
    /// policy from wherever it came from at start; its error text is what the client is told.
    pub fn with_policy_loader<F>(
        filter: Arc<Filter>,
        config: ServerConfig,
        load: F,
    ) -> Result<Server, ConfigError>
    where
        F: Fn() -> Result<Policy, String> + Send + Sync + 'static,
    {
        config.validate()?;
        Ok(Server {
            shared: Arc::new(Shared {
                filter,
                permits: Arc::new(Semaphore::new(config.max_in_flight)),
                config,
                load: Box::new(load),
                metrics: Metrics::default(),
                durable: Mutex::new(None),
                failed: Mutex::new(None),
            }),
        })
    }

    /// The filter behind the service.
    pub fn filter(&self) -> &Arc<Filter> {
        &self.shared.filter
    }

    /// The limits in force.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// Loads the policy again and puts it in force; on error the policy in force stays. Blocks
    /// on the loader (a file read): from async code, call it on the blocking pool.
    pub fn reload_policy(&self) -> Result<(), ReloadError> {
        self.shared.reload()
    }

    /// Keeps the filter's state durable from now on: events are journaled in `durable` before
    /// they are applied, and committed before their request is answered. `durable` must be the
    /// one [`Durable::open`] returned with this server's filter, and nothing else may apply
    /// events to the filter. Replaces any journal attached before.
    pub fn attach_durable(&self, durable: Durable) {
        *self
            .shared
            .durable
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(durable);
    }

    /// Writes a snapshot of the filter to the state directory, if one is attached; call once
    /// the requests have stopped (after [`Server::serve`] returns). Returns the events the
    /// snapshot holds.
    pub fn snapshot(&self) -> Result<Option<u64>, DurableError> {
        let mut durable = self
            .shared
            .durable
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match durable.as_mut() {
            Some(d) => {
                d.snapshot(&self.shared.filter)?;
                Ok(Some(d.applied()))
            }
            None => Ok(None),
        }
    }

    /// The state directory's failure, if it has failed (the service then answers 503).
    pub fn failure(&self) -> Option<String> {
        self.shared.failure()
    }

    /// `/v1` requests being handled now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// The routes, ready to serve or to drive in-process (`tower::ServiceExt::oneshot`).
    pub fn router(&self) -> Router {
        let shared = Arc::clone(&self.shared);
        let v1 = Router::new()
            .route("/v1/check", post(check))
            .route("/v1/events", post(events))
            .route("/v1/businesses/{id}", get(business))
            .route("/v1/policy/reload", post(reload));
        #[cfg(test)]
        let v1 = v1.route("/v1/test/panic", post(tests::panic_handler));
        let v1 = v1.route_layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            limit_in_flight,
        ));
        Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .route("/openapi.json", get(openapi))
            .merge(v1)
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(shared.config.max_body_bytes))
            .layer(CatchPanicLayer::custom(panicked))
            .layer(middleware::from_fn_with_state(
                Arc::clone(&shared),
                count_requests,
            ))
            .with_state(shared)
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting, lets the requests
    /// in flight finish and returns `Ok`. If some are still running
    /// [`ServerConfig::shutdown_grace`] after `shutdown`, returns a `TimedOut` error without
    /// them.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let grace = self.shared.config.shutdown_grace;
        let app = self.router();
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            let _ = stopping.send(());
        };
        // Verdicts are small answers a delivery worker waits for: no Nagle delay.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .into_future();
        let deadline = async move {
            if stopped.await.is_err() {
                // The server ended before any shutdown: nothing to time.
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = server => result,
            () = deadline => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{} requests still in flight {grace:?} after shutdown began; stopped without \
                     them",
                    self.in_flight()
                ),
            )),
        }
    }
}

impl Shared {
    fn reload(&self) -> Result<(), ReloadError> {
        match (self.load)() {
            Ok(policy) => {
                self.filter.set_policy(policy);
                self.metrics.reload(true);
                Ok(())
            }
            Err(message) => {
                self.metrics.reload(false);
                Err(ReloadError { message })
            }
        }
    }

    /// 421 for a business another partition owns.
    fn misdirected(&self, business: &str) -> ApiError {
        let error = match self.filter.partition() {
            Some(p) => format!(
                "business {business:?} belongs to partition {}/{}, not to this instance ({p})",
                crate::Partition::of(business, p.count()),
                p.count()
            ),
            None => format!("business {business:?} is not this instance's"),
        };
        ApiError::new(StatusCode::MISDIRECTED_REQUEST, error)
    }

    fn in_flight(&self) -> usize {
        self.config.max_in_flight - self.permits.available_permits()
    }

    fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// 503 for a service whose state directory has failed.
    fn closed(why: &str) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the state directory failed, so no event is accepted until a restart: {why}"),
        )
    }

    /// Decodes `body` whole, then applies its events in order; the answer's JSON.
    async fn run(self: &Arc<Self>, body: Bytes, kind: Kind) -> Result<Vec<u8>, ApiError> {
        if body.len() < self.config.blocking_body_bytes {
            return self.apply(&body, kind);
        }
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || this.apply(&body, kind))
            .await
            .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))?
    }

    fn apply(&self, body: &[u8], kind: Kind) -> Result<Vec<u8>, ApiError> {
        let batch = decode::batch(body, kind, self.config.max_batch)?;
        if let Some((i, ev)) = batch
            .events
            .iter()
            .enumerate()
            .find(|(_, ev)| !self.filter.owns(ev.business()))
        {
            return Err(self
                .misdirected(ev.business())
                .field(Some("business"))
                .index(batch.array.then_some(i)));
        }
        let mut guard = self.durable.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(durable) = guard.as_mut() else {
            // Not durable: requests apply side by side, with no lock of the service's.
            drop(guard);
            return self
                .answer(&batch, kind, None)
                .map_err(|e| ApiError::internal(e.to_string()));
        };
        if let Some(why) = self.failure() {
            return Err(Shared::closed(&why));
        }
        let durable_answer = self
            .answer(&batch, kind, Some(&mut *durable))
            .and_then(|out| {
                durable.commit()?;
                if durable.snapshot_due() {
                    durable.snapshot(&self.filter)?;
                }
                Ok(out)
            });
        durable_answer.map_err(|e| {
            let why = e.to_string();
            *self.failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(why.clone());
            Shared::closed(&why)
        })
    }

    /// Applies the events of `batch` in order, journaling each first if `journal` is given;
    /// the answer's JSON.
    fn answer(
        &self,
        batch: &decode::Batch,
        kind: Kind,
        mut journal: Option<&mut Durable>,
    ) -> Result<Vec<u8>, DurableError> {
        let mut observe = |ev: &spamward_core::Event| match journal.as_deref_mut() {
            Some(d) => d.observe(&self.filter, ev),
            None => Ok(self.filter.observe(ev)),
        };
        let mut out = Vec::new();
        match kind {
            Kind::Check => {
                out.reserve(batch.events.len() * 160 + 2);
                if batch.array {
                    out.push(b'[');
                }
                for (i, ev) in batch.events.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let verdict = observe(ev)?.expect(
                        "decoding lets only messages into a check, and each gets a verdict",
                    );
                    verdict.write_json(&mut out);
                }
                if batch.array {
                    out.push(b']');
                }
            }
            Kind::Events => {
                for ev in &batch.events {
                    observe(ev)?;
                }
                out = format!("{{\"accepted\":{}}}", batch.events.len()).into_bytes();
            }
        }
        Ok(out)
    }
}

/// Decodes and checks a request body exactly as `POST /v1/check` (`check` true) or
/// `POST /v1/events` does before applying anything, with batches of at most `max_batch` events:
/// the events in body order, or the status and JSON error body the route answers. Applies
/// nothing; for tests and fuzzing of the one function every such request goes through.
pub fn decode_body(
    body: &[u8],
    check: bool,
    max_batch: usize,
) -> Result<Vec<spamward_core::Event>, (u16, String)> {
    let kind = if check { Kind::Check } else { Kind::Events };
    decode::batch(body, kind, max_batch)
        .map(|b| b.events)
        .map_err(|e| {
            let body = serde_json::to_string(&e.body).expect("an error serialises");
            (e.status.as_u16(), body)
        })
}

/// A JSON error answer: `{"error": ..., "field": ..., "index": ...}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
}

impl ApiError {
    fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                field: None,
                index: None,
            },
        }
    }

    pub(crate) fn bad_request(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error)
    }

    pub(crate) fn too_large(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, error)
    }

    fn internal(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error)
    }

    pub(crate) fn field(mut self, field: Option<&str>) -> ApiError {
        self.body.field = field.map(str::to_owned);
        self
    }

    pub(crate) fn index(mut self, index: Option<usize>) -> ApiError {
        self.body.index = index;
        self
    }

    /// The answer to a body that could not be read: too large (413) or cut off (400). The body
    /// is left unread, so the answer closes the connection.
    fn body(e: BytesRejection, limit: usize) -> Response {
        let error = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!(
                "the request body is larger than the limit of {limit} bytes"
            ))
        } else {
            ApiError::new(
                e.status(),
                format!("cannot read the request body: {}", e.body_text()),
            )
        };
        closing(error.into_response())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body).expect("an error serialises");
        json(self.status, body)
    }
}

/// An answer given without reading the request's body: the server closes the connection after
/// it (the unread body would be taken for the next request), so the answer says so, and a client
/// opens a new connection instead of sending its next request down one about to be closed.
fn closing(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// A JSON answer.
fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn check(State(s): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => return ApiError::body(e, s.config.max_body_bytes),
    };
    let started = Instant::now();
    let answer = s.run(body, Kind::Check).await;
    s.metrics.check_seconds.observe(started.elapsed());
    match answer {
        Ok(verdicts) => json(StatusCode::OK, verdicts),
        Err(e) => e.into_response(),
    }
}

async fn events(State(s): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => return ApiError::body(e, s.config.max_body_bytes),
    };
    match s.run(body, Kind::Events).await {
        Ok(accepted) => json(StatusCode::OK, accepted),
        Err(e) => e.into_response(),
    }
}

/// A business's standing as the service shows it: its id, then the [`Standing`]'s fields.
#[derive(Serialize)]
struct BusinessView<'a> {
    business: &'a str,
    #[serde(flatten)]
    standing: Standing,
}

async fn business(
    State(s): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Path(id) = match id {
        Ok(id) => id,
        Err(e) => {
            return ApiError::bad_request(format!("bad business id: {}", e.body_text()))
                .field(Some("id"))
                .into_response();
        }
    };
    if !s.filter.owns(&id) {
        return s.misdirected(&id).field(Some("id")).into_response();
    }
    match s.filter.standing(&id) {
        Some(standing) => {
            let view = BusinessView {
                business: &id,
                standing,
            };
            json(
                StatusCode::OK,
                serde_json::to_vec(&view).expect("a standing serialises"),
            )
        }
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no event of business {id:?} has been seen"),
        )
        .field(Some("id"))
        .into_response(),
    }
}

async fn reload(State(s): State<Arc<Shared>>) -> Response {
    let shared = Arc::clone(&s);
    match tokio::task::spawn_blocking(move || shared.reload()).await {
        Ok(Ok(())) => json(StatusCode::OK, r#"{"status":"reloaded"}"#),
        Ok(Err(e)) => ApiError::bad_request(format!("policy not reloaded, the old one stays: {e}"))
            .into_response(),
        Err(e) => ApiError::internal(format!("the reload failed: {e}")).into_response(),
    }
}

async fn healthz(State(s): State<Arc<Shared>>) -> Response {
    match s.failure() {
        None => json(StatusCode::OK, r#"{"status":"ok"}"#),
        Some(why) => {
            let body = serde_json::json!({"status": "failed", "error": why});
            json(StatusCode::SERVICE_UNAVAILABLE, body.to_string())
        }
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let text = s.metrics.render(
        &s.filter.counts(),
        s.in_flight(),
        s.config.max_in_flight,
        s.filter.businesses(),
        s.filter.content().is_some(),
    );
    let mut resp = Response::new(Body::from(text));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

async fn openapi() -> Response {
    json(StatusCode::OK, OPENAPI_JSON)
}

async fn not_found(method: Method, uri: Uri) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
    .into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
    .into_response()
}

/// Takes one of the `/v1` permits for the request's whole handling, or answers 503 at once.
async fn limit_in_flight(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let Ok(permit) = Arc::clone(&s.permits).try_acquire_owned() else {
        s.metrics.rejected();
        let mut resp = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} requests are already in flight; retry shortly",
                s.config.max_in_flight
            ),
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return closing(resp);
    };
    let resp = next.run(req).await;
    drop(permit);
    resp
}

/// Counts every answer by route and status.
async fn count_requests(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(Route::Other, |p| Route::of(p.as_str()));
    let resp = next.run(req).await;
    s.metrics.answered(route, resp.status());
    resp
}

/// A handler panicked: 500, JSON like every other error.
fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned());
    ApiError::internal(format!("internal error: {what}")).into_response()
}
