//! spamward's pipelined driver for the commands that replay logs (replay, diff, explain): read
//! the logs in batches, analyse each batch's message content, score it with the engines, and hand
//! each batch's results to the command's sink.
//!
//! [`run`] drives four stages, each batch through them in log order:
//!
//! - **reading** ([`Reader`]): the logs streamed on their own thread, two batches ahead;
//! - **analysis** ([`Analysis`]): every message's content facts, computed or read from a file;
//! - **scoring** ([`Scoring`]): the engines' cross-business pass, then their per-business pass;
//! - **the sink** ([`Sink`]): what the command does with a batch's events and results.
//!
//! Three batches are in the driver at once: while the engines apply batch `k` (on the rayon
//! pool), batch `k - 1`'s results go to the sink and batch `k + 1` is analysed, so neither the
//! engines' sequential cross-business pass nor the sink's writing leaves a core idle. When the
//! analysis is quick (content off, or facts read from a file), batch `k + 1`'s cross-business
//! pass runs on that side too, beside batch `k`'s per-business pass; when it is not, analysing is
//! the longer side, and each batch's cross-business pass runs just before its per-business pass
//! instead. Batches are prepared and applied in log order, each once, and the sink takes them in
//! log order, so the results are those of the engines run over the log batch after batch,
//! whatever the number of threads.

#![deny(missing_docs)]

mod read;
mod score;

use spamward_core::{Analyzed, Event};

pub use read::{BATCH, ReadOutcome, Reader, ReaderPanicked, Spent, Watch};
pub use score::{Explain, Explained, One, Pair, Pass, Scoring, Target};

/// The analysis stage: every message's content facts of a batch.
pub trait Analysis: Send {
    /// Why a batch could not be analysed; also the driver's error.
    type Error: Send + From<ReaderPanicked>;

    /// Whether a batch's facts are quick to get (content off, or facts read from a file), so that
    /// the next batch's cross-business pass is better run beside the analysis than beside the
    /// per-business pass. Asked once, before the first batch.
    fn quick(&self) -> bool;

    /// The content facts of `events`, one per event in order, as [`spamward_core::Analyzer`]
    /// gives them. Called once per batch, in log order.
    fn analyze(&mut self, events: &[Event]) -> Result<Analyzed, Self::Error>;
}

/// What a command does with each batch once it is scored: `S` is the batch's results
/// ([`Scoring::Scored`]). Called once per batch, in log order, beside the next batch's work.
pub trait Sink<S>: Send {
    /// Why a batch's results could not be taken; it stops the run.
    type Error;

    /// Takes a batch's events and what scoring them gave.
    fn take(&mut self, events: &[Event], scored: S) -> Result<(), Self::Error>;
}

/// A batch analysed, waiting to be applied.
struct Ready<P> {
    events: Vec<Event>,
    facts: Analyzed,
    /// Its cross-business pass, when that ran ahead.
    prepared: Option<P>,
    /// Claimed by the scoring: scored whole.
    whole: bool,
}

/// Runs every batch of `reader` through `analysis`, `scoring` and `sink`, pipelined (see the
/// crate's documentation), and returns how the reading went. An error of the analysis or the
/// sink stops the run: the batches after it are not scored.
pub fn run<A, S, K>(
    reader: Reader,
    analysis: &mut A,
    scoring: &mut S,
    sink: &mut K,
) -> Result<ReadOutcome, A::Error>
where
    A: Analysis,
    S: Scoring,
    K: Sink<S::Scored, Error = A::Error>,
{
    let ahead = analysis.quick();
    let mut applying: Option<Ready<S::Prepared>> = None;
    // The batch applied last and its results, for the sink beside the next batch's work.
    let mut scored: Option<(Vec<Event>, S::Scored)> = None;
    loop {
        let next = reader.batches.recv().ok().map(|events| {
            let whole = scoring.claims(&events);
            (events, whole)
        });
        if next.is_none() && applying.is_none() {
            break;
        }
        let done = scored.take();
        let spent = &reader.spent;
        let (ready, now) = match applying.take() {
            Some(batch) if batch.whole => rayon::join(
                || beside::<A, S, K>(analysis, sink, spent, done, next, None),
                || {
                    let results = scoring.whole(&batch.events, &batch.facts);
                    Some((batch.events, results))
                },
            ),
            batch => {
                let (mut cross, mut businesses) = scoring.split();
                let mut pass = Some(&mut cross);
                let next_ahead = ahead && next.as_ref().is_some_and(|(_, whole)| !whole);
                let cross_left = if next_ahead { pass.take() } else { None };
                let cross_right = pass;
                rayon::join(
                    || beside::<A, S, K>(analysis, sink, spent, done, next, cross_left),
                    || {
                        let batch = batch?;
                        let pass = match (batch.prepared, cross_right) {
                            (Some(p), _) => score::Pass::Ahead(p),
                            (None, Some(c)) => score::Pass::Here(c),
                            (None, None) => unreachable!("a batch is prepared ahead or here"),
                        };
                        let results = S::apply(&mut businesses, pass, &batch.events, &batch.facts);
                        Some((batch.events, results))
                    },
                )
            }
        };
        scored = now;
        applying = ready?;
        // A batch that could not be prepared ahead, because the batch applied beside it was
        // scored whole (which takes the engines whole), is prepared now: the next step then
        // prepares the batch after it ahead again.
        if ahead
            && let Some(batch) = applying.as_mut()
            && batch.prepared.is_none()
            && !batch.whole
        {
            let (mut cross, _) = scoring.split();
            batch.prepared = Some(S::prepare(&mut cross, &batch.events, &batch.facts));
        }
    }
    hand_on(sink, &reader.spent, scored)?;
    Ok(reader.finish()?)
}

/// The work beside a batch's scoring: the batch before it to the sink, then the batch after it
/// analysed and, given the cross-business half, prepared.
fn beside<A, S, K>(
    analysis: &mut A,
    sink: &mut K,
    spent: &Spent,
    done: Option<(Vec<Event>, S::Scored)>,
    next: Option<(Vec<Event>, bool)>,
    cross: Option<&mut S::Cross<'_>>,
) -> Result<Option<Ready<S::Prepared>>, A::Error>
where
    A: Analysis,
    S: Scoring,
    K: Sink<S::Scored, Error = A::Error>,
{
    hand_on(sink, spent, done)?;
    let Some((events, whole)) = next else {
        return Ok(None);
    };
    let facts = analysis.analyze(&events)?;
    let prepared = cross.map(|c| S::prepare(c, &events, &facts));
    Ok(Some(Ready {
        events,
        facts,
        prepared,
        whole,
    }))
}

/// A scored batch to the sink, then its events back to the reader to refill.
fn hand_on<S, K: Sink<S>>(
    sink: &mut K,
    spent: &Spent,
    scored: Option<(Vec<Event>, S)>,
) -> Result<(), K::Error> {
    if let Some((events, results)) = scored {
        sink.take(&events, results)?;
        spent.give_back(events);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
