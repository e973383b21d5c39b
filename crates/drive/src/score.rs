//! The scoring stage: the engines a command runs over each batch, in the engine's two passes.
//!
//! An engine applies a batch in two passes after its analysis: the cross-business pass (in log
//! order, on one thread) and the per-business pass (businesses in parallel). [`Engine::split`]
//! hands them out as two halves, so the driver can run the next batch's cross-business pass
//! beside this batch's per-business pass. A [`Scoring`] is one or more engines seen that way:
//! [`One`] (replay), [`Pair`] (diff: two engines over the same facts) and [`Explain`] (one
//! engine, with one message judged with every signal's reading).

use spamward_core::{Analyzed, BusinessPass, CrossPass, Engine, Event, Prepared, Reading, Verdict};

/// A batch's cross-business pass: done ahead, or to be run here with the cross-business half.
pub enum Pass<'c, P, C> {
    /// Done ahead, beside the previous batch's per-business pass.
    Ahead(P),
    /// Not done yet: the cross-business half to run it with, before the per-business pass.
    Here(&'c mut C),
}

/// The scoring stage of the driver: engines that score a batch in two passes, the
/// cross-business one ([`Scoring::prepare`]) and the per-business one ([`Scoring::apply`]).
/// Batches are prepared in log order, each once, and applied in the same order; the results are
/// then those of [`Engine::process_analyzed`] batch after batch.
pub trait Scoring: Send {
    /// What scoring a batch gives the sink.
    type Scored: Send;
    /// A batch's cross-business pass, done ahead of its per-business pass.
    type Prepared: Send;
    /// The cross-business half of the engines.
    type Cross<'a>: Send
    where
        Self: 'a;
    /// The per-business half of the engines.
    type Businesses<'a>: Send
    where
        Self: 'a;

    /// The engines as their two halves, for one step of the driver.
    fn split(&mut self) -> (Self::Cross<'_>, Self::Businesses<'_>);

    /// The cross-business pass of a batch.
    fn prepare(cross: &mut Self::Cross<'_>, events: &[Event], facts: &Analyzed) -> Self::Prepared;

    /// The per-business pass of a batch, after its cross-business pass (`pass`, done ahead or
    /// run here first).
    fn apply(
        businesses: &mut Self::Businesses<'_>,
        pass: Pass<'_, Self::Prepared, Self::Cross<'_>>,
        events: &[Event],
        facts: &Analyzed,
    ) -> Self::Scored;

    /// Whether `events` must be scored whole, by [`Scoring::whole`], rather than in two passes
    /// (then its cross-business pass is not run ahead). Asked once of every batch, in log order,
    /// as it is read. None by default.
    fn claims(&mut self, events: &[Event]) -> bool {
        let _ = events;
        false
    }

    /// Scores a batch [`Scoring::claims`] claimed, with the engines whole. By default the two
    /// passes, one after the other.
    fn whole(&mut self, events: &[Event], facts: &Analyzed) -> Self::Scored {
        let (mut cross, mut businesses) = self.split();
        Self::apply(&mut businesses, Pass::Here(&mut cross), events, facts)
    }
}

/// One engine: a batch's verdicts, those of its messages in log order (replay).
pub struct One<'e>(pub &'e mut Engine);

impl Scoring for One<'_> {
    type Scored = Vec<Verdict>;
    type Prepared = Prepared;
    type Cross<'a>
        = CrossPass<'a>
    where
        Self: 'a;
    type Businesses<'a>
        = BusinessPass<'a>
    where
        Self: 'a;

    fn split(&mut self) -> (CrossPass<'_>, BusinessPass<'_>) {
        self.0.split()
    }

    fn prepare(cross: &mut CrossPass<'_>, events: &[Event], facts: &Analyzed) -> Prepared {
        cross.prepare(events, facts)
    }

    fn apply(
        businesses: &mut BusinessPass<'_>,
        pass: Pass<'_, Prepared, CrossPass<'_>>,
        events: &[Event],
        facts: &Analyzed,
    ) -> Vec<Verdict> {
        let prepared = match pass {
            Pass::Ahead(p) => p,
            Pass::Here(cross) => cross.prepare(events, facts),
        };
        businesses.apply(events, facts, prepared)
    }
}

/// Two engines over the same facts, side by side on the pool: a batch's verdicts under each,
/// `(first, second)` (diff: the policy in force and the candidate).
pub struct Pair<'e>(pub &'e mut Engine, pub &'e mut Engine);

/// Both engines' halves: the cross-business ones, then the per-business ones.
type Halves<'a> = (
    (CrossPass<'a>, CrossPass<'a>),
    (BusinessPass<'a>, BusinessPass<'a>),
);

impl Scoring for Pair<'_> {
    type Scored = (Vec<Verdict>, Vec<Verdict>);
    type Prepared = (Prepared, Prepared);
    type Cross<'a>
        = (CrossPass<'a>, CrossPass<'a>)
    where
        Self: 'a;
    type Businesses<'a>
        = (BusinessPass<'a>, BusinessPass<'a>)
    where
        Self: 'a;

    fn split(&mut self) -> Halves<'_> {
        let (ca, ba) = self.0.split();
        let (cb, bb) = self.1.split();
        ((ca, cb), (ba, bb))
    }

    fn prepare(
        (a, b): &mut (CrossPass<'_>, CrossPass<'_>),
        events: &[Event],
        facts: &Analyzed,
    ) -> (Prepared, Prepared) {
        rayon::join(|| a.prepare(events, facts), || b.prepare(events, facts))
    }

    fn apply(
        (ba, bb): &mut (BusinessPass<'_>, BusinessPass<'_>),
        pass: Pass<'_, (Prepared, Prepared), (CrossPass<'_>, CrossPass<'_>)>,
        events: &[Event],
        facts: &Analyzed,
    ) -> (Vec<Verdict>, Vec<Verdict>) {
        match pass {
            Pass::Ahead((pa, pb)) => rayon::join(
                || ba.apply(events, facts, pa),
                || bb.apply(events, facts, pb),
            ),
            // Each engine's two passes in turn, the engines side by side.
            Pass::Here((ca, cb)) => rayon::join(
                || ba.apply(events, facts, ca.prepare(events, facts)),
                || bb.apply(events, facts, cb.prepare(events, facts)),
            ),
        }
    }
}

/// One engine, and one message of one business explained: judged with every signal's reading,
/// fired or not (explain). The batch holding it is scored one event at a time, the message
/// with [`Engine::observe_analyzed`]'s `explain`; every other batch as [`One`] does.
pub struct Explain<'e> {
    engine: &'e mut Engine,
    business: String,
    message: Option<String>,
    /// Whether a batch holding the message was claimed: only the first is scored whole.
    claimed: bool,
}

impl<'e> Explain<'e> {
    /// Scores with `engine`, explaining message `message` of business `business` (none: the
    /// verdicts alone, as [`One`]).
    pub fn new(engine: &'e mut Engine, business: &str, message: Option<&str>) -> Explain<'e> {
        Explain {
            engine,
            business: business.to_owned(),
            message: message.map(str::to_owned),
            claimed: false,
        }
    }

    fn is_target(&self, ev: &Event) -> bool {
        matches!(ev, Event::Message(m)
            if Some(m.id.as_str()) == self.message.as_deref() && m.business == self.business)
    }
}

/// A batch's results under [`Explain`].
pub struct Explained {
    /// The verdicts of the batch's messages, in log order.
    pub verdicts: Vec<Verdict>,
    /// The message explained, when the batch holds it.
    pub target: Option<Target>,
}

/// The message explained: where it is in its batch, its verdict and every signal's reading.
pub struct Target {
    /// Its index among the batch's events.
    pub event: usize,
    /// Its verdict, also among the batch's verdicts.
    pub verdict: Verdict,
    /// Every signal's reading at that moment, fired or not.
    pub readings: Vec<Reading>,
}

impl Scoring for Explain<'_> {
    type Scored = Explained;
    type Prepared = Prepared;
    type Cross<'a>
        = CrossPass<'a>
    where
        Self: 'a;
    type Businesses<'a>
        = BusinessPass<'a>
    where
        Self: 'a;

    fn split(&mut self) -> (CrossPass<'_>, BusinessPass<'_>) {
        self.engine.split()
    }

    fn prepare(cross: &mut CrossPass<'_>, events: &[Event], facts: &Analyzed) -> Prepared {
        cross.prepare(events, facts)
    }

    fn apply(
        businesses: &mut BusinessPass<'_>,
        pass: Pass<'_, Prepared, CrossPass<'_>>,
        events: &[Event],
        facts: &Analyzed,
    ) -> Explained {
        Explained {
            verdicts: One::apply(businesses, pass, events, facts),
            target: None,
        }
    }

    fn claims(&mut self, events: &[Event]) -> bool {
        if self.claimed || self.message.is_none() || !events.iter().any(|e| self.is_target(e)) {
            return false;
        }
        self.claimed = true;
        true
    }

    /// The claimed batch one event at a time; a message explained each time it appears in it
    /// (the last one is kept).
    fn whole(&mut self, events: &[Event], facts: &Analyzed) -> Explained {
        let mut verdicts = Vec::new();
        let mut target = None;
        for (i, (ev, facts)) in events.iter().zip(facts.facts()).enumerate() {
            if self.is_target(ev) {
                let (verdict, readings) = self
                    .engine
                    .observe_analyzed(ev, facts.as_ref(), true)
                    .expect("a message gets a verdict");
                verdicts.push(verdict.clone());
                target = Some(Target {
                    event: i,
                    verdict,
                    readings,
                });
            } else {
                verdicts.extend(
                    self.engine
                        .observe_analyzed(ev, facts.as_ref(), false)
                        .map(|(v, _)| v),
                );
            }
        }
        Explained { verdicts, target }
    }
}
