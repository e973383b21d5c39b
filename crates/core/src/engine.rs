//! The engine: routes events to per-business state, in parallel, with the same verdicts as one
//! event at a time.
//!
//! A batch of events is handled in three passes. First every message's content is analysed, in
//! parallel (the costly part: normalisation, rules, links, classifier, fingerprint; a message's
//! analysis depends on its text alone). Then, in log order and on one thread, the cross-business
//! context each message needs (how much marketing its recipient already got from everybody, how
//! many businesses sent a near-identical text) — cheap, and the only state that crosses
//! businesses. Then the batch is split by
//! business and each business's events run through its own state on the rayon pool, in log order
//! within the business. Verdicts are put back in log order. Since no business reads another's
//! state, the result is the same for any thread count and any batch size, and equal to
//! [`Engine::observe`] called event by event — the property the streaming filter relies on.
//!
//! The first pass needs no state, so an [`Analyzer`] can run it apart from the engine: replay
//! analyses the next batch while [`Engine::process_analyzed`] applies this one, keeping both cores
//! busy through the sequential second pass. The second pass touches only the cross-business state
//! and the third only the businesses', so [`Engine::split`] hands them out as two halves: replay
//! reading kept analyses runs the next batch's second pass beside this batch's third.

use rustc_hash::FxHashMap;

use rayon::prelude::*;

use spamward_content::ContentEngine;

use crate::business::{BusinessState, MessageContext, Standing, recipient_key};
use crate::content::ContentFacts;
use crate::cross::{CrossState, context};
use crate::event::{Event, Message, Timestamp};
use crate::policy::Policy;
use crate::signals::Reading;
use crate::verdict::Verdict;

/// Counts of what an engine has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineCounts {
    /// All events.
    pub events: u64,
    /// Messages.
    pub messages: u64,
    /// Feedback events.
    pub feedback: u64,
    /// Delivery receipts.
    pub deliveries: u64,
    /// Business records.
    pub business_records: u64,
}

/// The scoring engine over many businesses.
#[derive(Debug)]
pub struct Engine {
    policy: Policy,
    content: Option<ContentEngine>,
    businesses: FxHashMap<String, BusinessState>,
    cross: Crossing,
}

/// The state that crosses businesses, which pass 2 reads and writes (and pass 3 never does), and
/// the engine's counts.
#[derive(Debug, Default)]
struct Crossing {
    store: CrossState,
    counts: EngineCounts,
}

impl Crossing {
    fn tick(&mut self, ev: &Event) {
        self.counts.events += 1;
        match ev {
            Event::Message(_) => self.counts.messages += 1,
            Event::Feedback(_) => self.counts.feedback += 1,
            Event::Delivery(_) => self.counts.deliveries += 1,
            Event::Business(_) => self.counts.business_records += 1,
        }
        self.store.tick(ev.ts());
    }
}

/// Pass 2 of one batch, done ahead of pass 3 by a [`CrossPass`]: each message's cross-business
/// context, and the batch's events grouped by business (indices, in log order).
#[derive(Debug)]
pub struct Prepared {
    ctx: Vec<MessageContext>,
    groups: Vec<Vec<u32>>,
}

/// The cross-business half of an engine (pass 2), from [`Engine::split`].
#[derive(Debug)]
pub struct CrossPass<'a> {
    policy: &'a Policy,
    cross: &'a mut Crossing,
}

/// The per-business half of an engine (pass 3), from [`Engine::split`].
#[derive(Debug)]
pub struct BusinessPass<'a> {
    policy: &'a Policy,
    businesses: &'a mut FxHashMap<String, BusinessState>,
}

impl CrossPass<'_> {
    /// Pass 2 of a batch whose content an [`Analyzer`] gave. Batches must be prepared in log
    /// order, each once, and applied in the same order.
    ///
    /// # Panics
    ///
    /// If `content` is not the analysis of `events` (it has another length): a caller's bug.
    pub fn prepare(&mut self, events: &[Event], content: &Analyzed) -> Prepared {
        assert_eq!(
            content.facts.len(),
            events.len(),
            "the analysis is of another batch"
        );
        prepare(self.cross, self.policy, events, &content.facts)
    }
}

impl BusinessPass<'_> {
    /// Pass 3 of a batch prepared by the [`CrossPass`] of the same engine: the verdicts of its
    /// messages in log order, those of [`Engine::process_analyzed`].
    ///
    /// # Panics
    ///
    /// If `content` or `prepared` is not of `events` (another length): a caller's bug.
    pub fn apply(
        &mut self,
        events: &[Event],
        content: &Analyzed,
        prepared: Prepared,
    ) -> Vec<Verdict> {
        assert_eq!(
            content.facts.len(),
            events.len(),
            "the analysis is of another batch"
        );
        assert_eq!(
            prepared.ctx.len(),
            events.len(),
            "prepared for another batch"
        );
        apply_prepared(
            self.businesses,
            self.policy,
            events,
            &content.facts,
            prepared,
        )
    }
}

impl Engine {
    /// An engine with no state, with the shipped content heuristics.
    pub fn new(policy: Policy) -> Self {
        Engine::with_content(policy, Some(ContentEngine::default()))
    }

    /// An engine with no state and the given content heuristics. With `None` it analyses nothing
    /// itself ([`Engine::process`] and [`Engine::observe`] then give no content signals); the
    /// `_analyzed` paths take each message's facts as handed in, from an [`Analyzer`].
    pub fn with_content(policy: Policy, content: Option<ContentEngine>) -> Self {
        Engine {
            policy,
            content,
            businesses: FxHashMap::default(),
            cross: Crossing::default(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The latest event time seen.
    pub fn clock(&self) -> Timestamp {
        self.cross.store.clock()
    }

    /// What the engine has seen.
    pub fn counts(&self) -> EngineCounts {
        self.cross.counts
    }

    /// Businesses with state.
    pub fn businesses(&self) -> usize {
        self.businesses.len()
    }

    /// Recipients held across all businesses' states and the fatigue tracker.
    pub fn recipients_held(&self) -> (usize, usize) {
        (
            self.businesses
                .values()
                .map(BusinessState::recipients_held)
                .sum(),
            self.cross.store.held().0,
        )
    }

    fn analyze(&self, m: &Message) -> Option<ContentFacts> {
        self.content
            .as_ref()
            .map(|c| ContentFacts::analyze(c, &m.text))
    }

    /// The engine as its two halves, to run pass 2 of the next batch while pass 3 applies this
    /// one: replay prepares batch `k + 1` beside applying batch `k`. Pass 2 reads and writes only
    /// the cross-business state, pass 3 only the businesses', so the verdicts are those of
    /// [`Engine::process_analyzed`] batch after batch.
    pub fn split(&mut self) -> (CrossPass<'_>, BusinessPass<'_>) {
        (
            CrossPass {
                policy: &self.policy,
                cross: &mut self.cross,
            },
            BusinessPass {
                policy: &self.policy,
                businesses: &mut self.businesses,
            },
        )
    }

    /// Applies one event; a message gets its verdict.
    pub fn observe(&mut self, ev: &Event) -> Option<Verdict> {
        let content = self.facts_of(ev);
        self.observe_analyzed(ev, content.as_ref(), false)
            .map(|(v, _)| v)
    }

    /// Applies one event like [`Engine::observe`]; a message also gets every signal's reading at
    /// that moment, fired or not.
    pub fn observe_explained(&mut self, ev: &Event) -> Option<(Verdict, Vec<Reading>)> {
        let content = self.facts_of(ev);
        self.observe_analyzed(ev, content.as_ref(), true)
    }

    /// [`Engine::observe`] of an event whose content facts an [`Analyzer`] of this engine (or of
    /// one with the same heuristics) gave, `None` for an event that is not a message; with
    /// `explain`, also every signal's reading, as [`Engine::observe_explained`].
    pub fn observe_analyzed(
        &mut self,
        ev: &Event,
        content: Option<&ContentFacts>,
        explain: bool,
    ) -> Option<(Verdict, Vec<Reading>)> {
        self.cross.tick(ev);
        let ctx = match ev {
            Event::Message(m) => context(&mut self.cross.store, m, content, &self.policy),
            _ => MessageContext::default(),
        };
        let state = self
            .businesses
            .entry(ev.business().to_owned())
            .or_insert_with(|| BusinessState::new(ev.ts()));
        match ev {
            Event::Message(m) if explain => Some(state.on_message_explained(
                m,
                recipient_key(&m.recipient),
                ctx,
                content,
                &self.policy,
            )),
            _ => apply(state, ev, ctx, content, &self.policy).map(|v| (v, Vec::new())),
        }
    }

    /// The content facts of an event: a message's analysis, `None` otherwise.
    fn facts_of(&self, ev: &Event) -> Option<ContentFacts> {
        match ev {
            Event::Message(m) => self.analyze(m),
            _ => None,
        }
    }

    /// The engine's content analysis, detached from its state: it can analyse the next batch while
    /// the engine applies this one (see [`Engine::process_analyzed`]).
    pub fn analyzer(&self) -> Analyzer {
        Analyzer::new(self.content.clone())
    }

    /// Applies a batch of events in log order, businesses in parallel on the current rayon pool;
    /// returns the verdicts of its messages in log order.
    pub fn process(&mut self, events: &[Event]) -> Vec<Verdict> {
        // Pass 1, in parallel: every message's content.
        let content = analyze_batch(self.content.as_ref(), events);
        self.apply_batch(events, &content)
    }

    /// [`Engine::process`] with pass 1 done beforehand by an [`Analyzer`] of this engine (or of an
    /// engine with the same content heuristics). The verdicts are the same as `process`'s.
    ///
    /// # Panics
    ///
    /// If `content` is not the analysis of `events` (it has another length): a caller's bug.
    pub fn process_analyzed(&mut self, events: &[Event], content: &Analyzed) -> Vec<Verdict> {
        assert_eq!(
            content.facts.len(),
            events.len(),
            "the analysis is of another batch"
        );
        self.apply_batch(events, &content.facts)
    }

    /// Passes 2 and 3 of [`Engine::process`].
    fn apply_batch(&mut self, events: &[Event], content: &[Option<ContentFacts>]) -> Vec<Verdict> {
        let prepared = prepare(&mut self.cross, &self.policy, events, content);
        apply_prepared(
            &mut self.businesses,
            &self.policy,
            events,
            content,
            prepared,
        )
    }

    /// Brings every business to the engine's clock and returns their standings, by business id.
    pub fn finish(&mut self) -> Vec<(String, Standing)> {
        let clock = self.cross.store.clock();
        let policy = &self.policy;
        let mut out: Vec<(String, Standing)> = self
            .businesses
            .par_iter_mut()
            .map(|(b, state)| {
                state.settle(clock, policy);
                (b.clone(), state.standing(policy))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every business-level reading of one business at its own clock, if known.
    pub fn readings(&self, business: &str) -> Option<Vec<Reading>> {
        self.businesses
            .get(business)
            .map(|s| s.business_readings(&self.policy, true))
    }

    /// One business's standing at its own clock, if known.
    pub fn standing(&self, business: &str) -> Option<Standing> {
        self.businesses
            .get(business)
            .map(|s| s.standing(&self.policy))
    }
}

/// Pass 2 of a batch, in log order: each message's cross-business context, and the grouping by
/// business.
fn prepare(
    cross: &mut Crossing,
    policy: &Policy,
    events: &[Event],
    content: &[Option<ContentFacts>],
) -> Prepared {
    let mut ctx = vec![MessageContext::default(); events.len()];
    let mut slot_of: FxHashMap<&str, usize> = FxHashMap::default();
    let mut groups: Vec<Vec<u32>> = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        cross.tick(ev);
        if let Event::Message(m) = ev {
            ctx[i] = context(&mut cross.store, m, content[i].as_ref(), policy);
        }
        let g = *slot_of.entry(ev.business()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i as u32);
    }
    Prepared { ctx, groups }
}

/// Pass 3 of a prepared batch: each business's events through its own state, businesses in
/// parallel on the current rayon pool; the verdicts in log order.
fn apply_prepared(
    businesses: &mut FxHashMap<String, BusinessState>,
    policy: &Policy,
    events: &[Event],
    content: &[Option<ContentFacts>],
    prepared: Prepared,
) -> Vec<Verdict> {
    let Prepared { ctx, groups } = prepared;
    let mut work: Vec<(String, BusinessState, Vec<u32>)> = groups
        .into_iter()
        .map(|idx| {
            let first = &events[idx[0] as usize];
            let b = first.business();
            let state = businesses
                .remove(b)
                .unwrap_or_else(|| BusinessState::new(first.ts()));
            (b.to_owned(), state, idx)
        })
        .collect();
    let found: Vec<Vec<(u32, Verdict)>> = work
        .par_iter_mut()
        .map(|(_, state, idx)| {
            idx.iter()
                .filter_map(|&i| {
                    let i = i as usize;
                    apply(state, &events[i], ctx[i], content[i].as_ref(), policy)
                        .map(|v| (i as u32, v))
                })
                .collect()
        })
        .collect();
    for (b, state, _) in work {
        businesses.insert(b, state);
    }
    // Back into log order.
    let mut slots: Vec<Option<Verdict>> = vec![None; events.len()];
    for (i, v) in found.into_iter().flatten() {
        slots[i as usize] = Some(v);
    }
    slots.into_iter().flatten().collect()
}

/// Every message's content facts, in parallel; `None` for other events and without heuristics.
fn analyze_batch(content: Option<&ContentEngine>, events: &[Event]) -> Vec<Option<ContentFacts>> {
    match content {
        Some(c) => events
            .par_iter()
            .with_min_len(256)
            .map(|ev| match ev {
                Event::Message(m) => Some(ContentFacts::analyze(c, &m.text)),
                _ => None,
            })
            .collect(),
        None => vec![None; events.len()],
    }
}

/// An engine's content analysis without its state: pure, so it runs beside the engine. Replay
/// analyses batch `k + 1` while the engine applies batch `k`, which keeps both cores busy through
/// the engine's sequential pass; `diff` analyses each batch once for its two engines.
#[derive(Clone, Debug)]
pub struct Analyzer {
    content: Option<ContentEngine>,
}

impl Analyzer {
    /// An analyzer of these heuristics (`None`: no content facts), as [`Engine::analyzer`] gives
    /// for an engine built with them: for a driver that builds the heuristics only when a batch
    /// needs analysing and hands the facts to engines built without them.
    pub fn new(content: Option<ContentEngine>) -> Analyzer {
        Analyzer { content }
    }

    /// Analyses every message of `events` in parallel on the current rayon pool.
    pub fn analyze(&self, events: &[Event]) -> Analyzed {
        Analyzed {
            facts: analyze_batch(self.content.as_ref(), events),
        }
    }
}

/// The content facts of one batch, from [`Analyzer::analyze`], for [`Engine::process_analyzed`].
#[derive(Clone, Debug)]
pub struct Analyzed {
    facts: Vec<Option<ContentFacts>>,
}

impl Analyzed {
    /// Facts computed before, one per event of a batch in order (`None` for an event that is not
    /// a message): a replay reading the analyses it kept of the same log. They must be what
    /// [`Analyzer::analyze`] gives for that batch, or the verdicts are not the engine's.
    pub fn from_facts(facts: Vec<Option<ContentFacts>>) -> Analyzed {
        Analyzed { facts }
    }

    /// The facts, one per event of the batch.
    pub fn facts(&self) -> &[Option<ContentFacts>] {
        &self.facts
    }
}

/// Applies one event to its business's state; a message gets its verdict. The single path every
/// driver (the engine here, the streaming filter) goes through, so they cannot disagree.
pub fn apply(
    state: &mut BusinessState,
    ev: &Event,
    ctx: MessageContext,
    content: Option<&ContentFacts>,
    policy: &Policy,
) -> Option<Verdict> {
    match ev {
        Event::Message(m) => {
            Some(state.on_message(m, recipient_key(&m.recipient), ctx, content, policy))
        }
        Event::Feedback(f) => {
            state.on_feedback(f, recipient_key(&f.recipient), policy);
            None
        }
        Event::Delivery(d) => {
            state.on_delivery(d, recipient_key(&d.recipient), policy);
            None
        }
        Event::Business(b) => {
            state.on_business(b, policy);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Tier;
    use crate::event::{BusinessInfo, Category, Delivery, DeliveryStatus, Feedback, FeedbackKind};
    use crate::time::{DAY, MINUTE};

    const T0: Timestamp = Timestamp::from_millis(1_793_577_600_000);

    fn message(i: u64, ts: Timestamp, business: &str, recipient: &str, text: &str) -> Event {
        Event::Message(Message {
            id: format!("m-{i}"),
            ts,
            business: business.into(),
            recipient: recipient.into(),
            category: if i.is_multiple_of(3) {
                Category::Utility
            } else {
                Category::Marketing
            },
            template: None,
            text: text.into(),
        })
    }

    /// Three days of a bank, a shop and four fresh accounts sending one lure: phishing, the same
    /// text from several businesses, marketing to shared recipients, feedback and receipts.
    fn log() -> Vec<Event> {
        let lure = "WINNER!! You have won a guaranteed cash prize. Claim it now at \
                    http://claim-prize.top/win or call 09061701461";
        let mut events = vec![Event::Business(BusinessInfo {
            ts: T0,
            business: "b-bank".into(),
            tier: Tier::T100k,
            verified: true,
            created: T0 - 400 * DAY,
        })];
        for i in 0..600u64 {
            let ts = T0 + i * 7 * MINUTE;
            let r = format!("r-{}", i % 12);
            events.push(match i % 10 {
                0 => message(i, ts, "b-bank", &r, "Your statement is ready in the app."),
                1 => message(
                    i,
                    ts,
                    "b-bank",
                    &r,
                    "Your account is locked. Verify now at paypa1-secure.com/login",
                ),
                2 | 3 => message(i, ts, &format!("b-new-{}", i % 4), &r, lure),
                4 => Event::Feedback(Feedback {
                    ts,
                    business: "b-shop".into(),
                    recipient: r,
                    kind: FeedbackKind::Report,
                    message: None,
                }),
                5 => Event::Delivery(Delivery {
                    ts,
                    business: "b-shop".into(),
                    recipient: r,
                    message: format!("m-{}", i - 1),
                    status: DeliveryStatus::Delivered,
                    error: None,
                }),
                _ => message(i, ts, "b-shop", &r, "Our autumn sale ends on Sunday."),
            });
        }
        events
    }

    fn one_by_one(events: &[Event]) -> Vec<Verdict> {
        let mut e = Engine::new(Policy::default());
        events.iter().filter_map(|ev| e.observe(ev)).collect()
    }

    #[test]
    fn the_log_exercises_content_and_cross_business_signals() {
        let verdicts = one_by_one(&log());
        let fired = |s: crate::signal::Signal| {
            verdicts
                .iter()
                .any(|v| v.reasons.iter().any(|h| h.signal == s))
        };
        use crate::signal::Signal;
        assert!(fired(Signal::PhishingLink));
        assert!(fired(Signal::Campaign24h));
        assert!(fired(Signal::RecipientFatigue24h));
    }

    #[test]
    fn the_two_halves_and_analysed_batches_give_the_engine_s_verdicts() {
        let events = log();
        let want = one_by_one(&events);
        let analyzer = Analyzer::new(Some(ContentEngine::default()));
        for size in [1, 64, 1000] {
            // Pipelined as replay runs it: batch k + 1 prepared before batch k is applied.
            let mut e = Engine::with_content(Policy::default(), None);
            let (mut cross, mut businesses) = e.split();
            let mut got = Vec::new();
            let mut ahead: Option<(&[Event], Analyzed, Prepared)> = None;
            for batch in events.chunks(size) {
                let facts = analyzer.analyze(batch);
                assert_eq!(facts.facts().len(), batch.len());
                let prepared = cross.prepare(batch, &facts);
                if let Some((b, f, p)) = ahead.replace((batch, facts, prepared)) {
                    got.extend(businesses.apply(b, &f, p));
                }
            }
            let (b, f, p) = ahead.unwrap();
            got.extend(businesses.apply(b, &f, p));
            assert_eq!(got, want, "batch {size}");

            // Facts kept from before, handed back.
            let mut e = Engine::with_content(Policy::default(), None);
            let got: Vec<Verdict> = events
                .chunks(size)
                .flat_map(|batch| {
                    let kept = Analyzed::from_facts(analyzer.analyze(batch).facts().to_vec());
                    e.process_analyzed(batch, &kept)
                })
                .collect();
            assert_eq!(got, want, "batch {size}");
        }
    }

    #[test]
    fn the_engine_counts_what_it_saw_and_reports_every_business() {
        let events = log();
        let mut e = Engine::new(Policy::default());
        e.process(&events);
        let messages = events
            .iter()
            .filter(|ev| matches!(ev, Event::Message(_)))
            .count() as u64;
        let last = events.iter().map(Event::ts).max().unwrap();
        assert_eq!(
            e.counts(),
            EngineCounts {
                events: events.len() as u64,
                messages,
                feedback: 60,
                deliveries: 60,
                business_records: 1,
            }
        );
        assert_eq!(e.clock(), last);
        assert_eq!(e.businesses(), 6);
        // The recipients that get marketing (r-k, k not a multiple of 3: message i goes to
        // r-(i % 12) and is marketing unless i % 3 == 0) had some in the last day; the others
        // are not in the cross-business map at all.
        assert_eq!(e.recipients_held().1, 8);
        let standings = e.finish();
        let ids: Vec<&str> = standings.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(
            ids,
            [
                "b-bank", "b-new-0", "b-new-1", "b-new-2", "b-new-3", "b-shop"
            ],
            "every business, by id"
        );
    }

    #[test]
    fn only_an_explained_message_brings_its_readings() {
        let events = log();
        let mut e = Engine::new(Policy::default());
        let content = e.analyzer().analyze(&events[1..2]);
        let facts = content.facts()[0].as_ref();
        let (_, quiet) = e.observe_analyzed(&events[1], facts, false).unwrap();
        assert!(quiet.is_empty());
        let (_, readings) = e.observe_analyzed(&events[1], facts, true).unwrap();
        assert!(readings.len() >= crate::signal::Signal::ALL.len() / 2);
        assert!(e.observe_analyzed(&events[0], None, true).is_none());
    }

    #[test]
    fn the_engine_applies_the_policy_it_was_given() {
        let policy =
            Policy::from_toml_overlay("[signals.recipient_fatigue_24h]\ncap = 2\n").unwrap();
        let e = Engine::new(policy.clone());
        assert_eq!(e.policy().signals.recipient_fatigue_24h.cap, 2);
        assert_eq!(
            e.policy().signals.recipient_fatigue_24h.cap,
            policy.signals.recipient_fatigue_24h.cap
        );
    }
}
