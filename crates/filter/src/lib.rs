//! spamward's streaming filter: a verdict for every message on its way to delivery.
//!
//! Batch replay ([`spamward_core::Engine`]) sees a whole log at once; the filter sees one event
//! at a time, from many delivery workers at once. A [`Filter`] is shared by reference (it is
//! `Send + Sync`): workers call [`Filter::check`] with each outgoing message and get its
//! [`Verdict`], and hand it what comes back from the platform (feedback, delivery receipts,
//! business records) through [`Filter::observe`]. Both go through [`spamward_core::apply`], the one
//! per-event path replay uses too, so a filter fed a log in log order gives replay's verdicts
//! exactly.
//!
//! # State and locking
//!
//! State is keyed by business: a concurrent map from business id to that business's own
//! [`BusinessState`] behind its own mutex. A call takes the business's handle out of the map
//! under a short map guard, lets the guard go, and only then locks the business and runs the
//! scoring core — no map guard is ever held while business logic runs, so workers on different
//! businesses do not wait for each other. The one cross-business input, how much marketing a
//! recipient already got from everybody in 24 h, is a second concurrent map keyed by
//! [`recipient_key`], updated under its entry's guard alone (a few comparisons), before the
//! business is locked.
//!
//! # Ordering
//!
//! Per business, events are applied in the order callers hand them in: a call that returns
//! before another starts is applied first. Calls for the same business that overlap are applied
//! one after the other in some order; a caller that needs a particular order makes its calls one
//! after the other (for example, one worker per business, or per partition of businesses).
//! Across businesses no order is needed — no business reads another's state — except that a
//! recipient's fatigue count follows the order marketing messages reach [`Filter::check`] (or
//! [`Filter::observe`]).
//!
//! # Time and eviction
//!
//! Like the core, the filter reads no clock: its "now" is the latest event time it has seen.
//! Once per day of event time, recipients whose latest marketing message is more than 24 h
//! behind that clock are dropped from the fatigue map — exactly the batch engine's rule, so the
//! two agree even on logs with late events. A recipient's count looks back 24 h only, so this
//! never changes a verdict while messages arrive in time order. When workers' event times may
//! drift apart, or messages may be late, [`FilterBuilder::allowed_lateness`] keeps entries that
//! much longer, so that a message up to that far behind the clock still counts every send of its
//! recipient's last 24 h.
//!
//! Business states are never evicted: a business's state is its history, and forgetting it would
//! change its verdicts. Each state sweeps its own idle recipients (see [`BusinessState`]).
//!
//! A panic inside the core while a business's mutex is held poisons only that mutex; the filter
//! goes on using the state as it was left rather than failing every later call for the business.
//!
//! # Front-ends
//!
//! [`pipe`] drives a filter from a stream of JSON Lines events and writes a verdict line per
//! message (`spamward filter`); [`durable`] keeps its state in a journal and snapshots. With the
//! `server` feature, the `server` module serves the filter over HTTP (tokio and axum).
#![deny(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use dashmap::DashMap;
use serde::Serialize;
use spamward_content::ContentEngine;
use spamward_core::cross::{Sweep, context};

use crate::cross::SharedCross;
use spamward_core::{
    Action, BusinessState, ContentFacts, Event, Message, MessageContext, Millis, Policy, Standing,
    Timestamp, Verdict, apply,
};

/// One business's state, shared between the map and the calls working on it.
type SharedState = Arc<Mutex<BusinessState>>;

/// What a filter has seen: events by type and verdicts by action. A snapshot of counters that
/// concurrent calls keep moving, so its fields may be a few events apart from each other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FilterCounts {
    /// All events.
    pub events: u64,
    /// Messages (each got a verdict).
    pub messages: u64,
    /// Feedback events.
    pub feedback: u64,
    /// Delivery receipts.
    pub deliveries: u64,
    /// Business records.
    pub business_records: u64,
    /// Verdicts: allow.
    pub allowed: u64,
    /// Verdicts: throttle.
    pub throttled: u64,
    /// Verdicts: hold.
    pub held: u64,
    /// Verdicts: block.
    pub blocked: u64,
}

/// The counters behind [`FilterCounts`].
#[derive(Debug, Default)]
struct Counters {
    events: AtomicU64,
    messages: AtomicU64,
    feedback: AtomicU64,
    deliveries: AtomicU64,
    business_records: AtomicU64,
    /// Verdicts: allow, throttle, hold, block.
    actions: [AtomicU64; 4],
}

impl Counters {
    fn event(&self, ev: &Event) {
        let by_type = match ev {
            Event::Message(_) => &self.messages,
            Event::Feedback(_) => &self.feedback,
            Event::Delivery(_) => &self.deliveries,
            Event::Business(_) => &self.business_records,
        };
        self.events.fetch_add(1, Ordering::Relaxed);
        by_type.fetch_add(1, Ordering::Relaxed);
    }

    fn verdict(&self, action: Action) {
        let i = match action {
            Action::Allow => 0,
            Action::Throttle => 1,
            Action::Hold => 2,
            Action::Block => 3,
        };
        self.actions[i].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> FilterCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FilterCounts {
            events: get(&self.events),
            messages: get(&self.messages),
            feedback: get(&self.feedback),
            deliveries: get(&self.deliveries),
            business_records: get(&self.business_records),
            allowed: get(&self.actions[0]),
            throttled: get(&self.actions[1]),
            held: get(&self.actions[2]),
            blocked: get(&self.actions[3]),
        }
    }
}

/// Builds a [`Filter`].
///
/// ```
/// use spamward_core::Policy;
/// use spamward_core::time::MINUTE;
/// use spamward_filter::Filter;
///
/// let filter = Filter::builder()
///     .policy(Policy::default())
///     .allowed_lateness(5 * MINUTE)
///     .build();
/// assert_eq!(filter.businesses(), 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct FilterBuilder {
    policy: Option<Policy>,
    /// `None`: the shipped content heuristics.
    content: Option<Option<ContentEngine>>,
    lateness: Millis,
    partition: Option<Partition>,
}

/// One instance's share of the businesses, for running several instances side by side: the
/// businesses whose id hashes to `index` of `count`. The hash is 64-bit FNV-1a of the id, fixed
/// forever, so every instance, every shell and every machine agrees on who owns a business.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    index: u32,
    count: u32,
}

impl Partition {
    /// Partition `index` of `count` (0-based).
    pub fn new(index: u32, count: u32) -> Result<Partition, String> {
        if count == 0 || index >= count {
            return Err(format!("partition {index}/{count}: needs 0 <= I < N"));
        }
        Ok(Partition { index, count })
    }

    /// The partition of `count` that owns `business`.
    pub fn of(business: &str, count: u32) -> u32 {
        (spamward_core::corpus::fnv1a64(business.as_bytes()) % u64::from(count)) as u32
    }

    /// Whether this partition owns `business`.
    pub fn owns(&self, business: &str) -> bool {
        Partition::of(business, self.count) == self.index
    }

    /// This partition's index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many partitions there are.
    pub fn count(&self) -> u32 {
        self.count
    }
}

impl std::str::FromStr for Partition {
    type Err = String;

    /// `I/N`, e.g. `0/4`.
    fn from_str(s: &str) -> Result<Partition, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected I/N, e.g. 0/4"))?;
        let parse = |x: &str| x.trim().parse::<u32>().map_err(|e| format!("{s:?}: {e}"));
        Partition::new(parse(i)?, parse(n)?)
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FilterBuilder {
    /// The policy to start with (default: [`Policy::default`]). It can be replaced later with
    /// [`Filter::set_policy`].
    pub fn policy(&mut self, policy: Policy) -> &mut Self {
        self.policy = Some(policy);
        self
    }

    /// How far behind the latest event time seen a message may arrive and still count every
    /// marketing send of its recipient's last 24 h (default 0: the batch engine's rule).
    /// Fatigue entries are kept that much longer.
    pub fn allowed_lateness(&mut self, lateness: Millis) -> &mut Self {
        self.lateness = lateness;
        self
    }

    /// The content heuristics (default: the shipped ones); `None` turns content signals off.
    pub fn content(&mut self, content: Option<ContentEngine>) -> &mut Self {
        self.content = Some(content);
        self
    }

    /// Own only this partition's businesses (default: all). Shells refuse events of others.
    pub fn partition(&mut self, partition: Partition) -> &mut Self {
        self.partition = Some(partition);
        self
    }

    /// The filter, with no state.
    pub fn build(&self) -> Filter {
        Filter {
            partition: self.partition,
            policy: RwLock::new(Arc::new(self.policy.clone().unwrap_or_default())),
            content: RwLock::new(
                self.content
                    .clone()
                    .unwrap_or_else(|| Some(ContentEngine::default()))
                    .map(Arc::new),
            ),
            businesses: DashMap::new(),
            cross: SharedCross::new(Sweep {
                lateness: self.lateness,
            }),
            counters: Counters::default(),
        }
    }
}

/// The streaming filter: per-business state behind per-business locks, shared by any number of
/// threads through `&self`. See the crate documentation for its ordering guarantee.
#[derive(Debug)]
pub struct Filter {
    partition: Option<Partition>,
    policy: RwLock<Arc<Policy>>,
    content: RwLock<Option<Arc<ContentEngine>>>,
    businesses: DashMap<String, SharedState>,
    /// Recipient fatigue and the campaign index.
    cross: SharedCross,
    counters: Counters,
}

/// Many delivery workers share one filter.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Filter>();
};

impl Filter {
    /// A filter with no state, applying `policy`, evicting by the batch engine's rule.
    pub fn new(policy: Policy) -> Filter {
        Filter::builder().policy(policy).build()
    }

    /// A builder, for the knobs [`Filter::new`] leaves at their defaults.
    pub fn builder() -> FilterBuilder {
        FilterBuilder::default()
    }

    /// The verdict on one outgoing message; the message joins its business's state.
    ///
    /// The core takes events, so the message is copied into one; a caller that already holds an
    /// [`Event`] saves the copy with [`Filter::observe`].
    pub fn check(&self, message: &Message) -> Verdict {
        self.observe(&Event::Message(message.clone()))
            .expect("a message always gets a verdict")
    }

    /// Applies one event of any type: feedback, delivery receipts and business records update
    /// their business and return `None`; a message is checked and returns its verdict.
    pub fn observe(&self, ev: &Event) -> Option<Verdict> {
        // The content analysis needs nothing but the text: done before any shared state.
        let content = match ev {
            Event::Message(m) => self
                .content()
                .map(|engine| ContentFacts::analyze(&engine, &m.text)),
            _ => None,
        };
        self.observe_analyzed(ev, content)
    }

    /// [`Filter::observe`] with the message's content already analysed by the filter's content
    /// heuristics ([`Filter::content`]; `None` for other events or without heuristics), so that a
    /// caller holding many events can analyse them in parallel and then apply them in order. The
    /// verdict is `observe`'s when `content` is what `observe` would have computed.
    pub fn observe_analyzed(&self, ev: &Event, content: Option<ContentFacts>) -> Option<Verdict> {
        let policy = self.policy();
        self.tick(ev);
        let ctx = match ev {
            Event::Message(m) => context(&mut &self.cross, m, content.as_ref(), &policy),
            _ => MessageContext::default(),
        };
        let shared = self.state(ev.business(), ev.ts());
        let verdict = apply(&mut lock(&shared), ev, ctx, content.as_ref(), &policy);
        if let Some(v) = &verdict {
            self.counters.verdict(v.action);
        }
        verdict
    }

    /// A business's standing at its own clock (its latest event), as of its latest evaluation;
    /// `None` if the filter has seen no event of it. Asking changes nothing, so it never changes
    /// a verdict.
    pub fn standing(&self, business: &str) -> Option<Standing> {
        let shared = self.businesses.get(business).map(|s| Arc::clone(&s))?;
        let policy = self.policy();
        let standing = lock(&shared).standing(&policy);
        Some(standing)
    }

    /// Whether this instance owns `business` (always, without a partition).
    pub fn owns(&self, business: &str) -> bool {
        self.partition.is_none_or(|p| p.owns(business))
    }

    /// The partition this instance owns, if it owns one.
    pub fn partition(&self) -> Option<Partition> {
        self.partition
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the policy. Calls already running finish under the old one; state is kept, and
    /// later events are judged by the new one.
    pub fn set_policy(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(policy);
    }

    /// The content heuristics in force, if content signals are on.
    pub fn content(&self) -> Option<Arc<ContentEngine>> {
        self.content
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the content heuristics (new rule packs, say); `None` turns content signals off.
    /// Calls already running finish with the old ones.
    pub fn set_content(&self, content: Option<ContentEngine>) {
        *self.content.write().unwrap_or_else(PoisonError::into_inner) = content.map(Arc::new);
    }

    /// What the filter has seen so far.
    pub fn counts(&self) -> FilterCounts {
        self.counters.snapshot()
    }

    /// Businesses with state.
    pub fn businesses(&self) -> usize {
        self.businesses.len()
    }

    /// Recipients in the cross-business fatigue map.
    pub fn fatigue_entries(&self) -> usize {
        self.cross.fatigue.len()
    }

    /// The latest event time seen ([`Timestamp::EPOCH`] before the first event).
    pub fn clock(&self) -> Timestamp {
        self.cross.clock()
    }

    /// Counts the event, moves the clock, and sweeps the cross-business maps when due.
    fn tick(&self, ev: &Event) {
        self.counters.event(ev);
        self.cross.tick(ev.ts());
    }

    /// The business's state, created at `ts` if new. The map guard is dropped on return: the
    /// caller locks the business, never the map.
    fn state(&self, business: &str, ts: Timestamp) -> SharedState {
        if let Some(s) = self.businesses.get(business) {
            return Arc::clone(&s);
        }
        let entry = self
            .businesses
            .entry(business.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(BusinessState::new(ts))));
        Arc::clone(&entry)
    }
}

/// Locks a business's state; a panic that poisoned it earlier does not stop the business.
fn lock(state: &Mutex<BusinessState>) -> MutexGuard<'_, BusinessState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

mod cross;
pub mod durable;
pub mod pipe;
#[cfg(feature = "server")]
pub mod server;

#[cfg(test)]
mod tests;
