//! The decision: a message's verdict from its business's standing and the message's own
//! readings.
//!
//! The score is the noisy-or of the weights of every signal behind the verdict: the business-level
//! hits standing now, the reasons a suspension stands on, and the message-level readings that
//! fired. The action is the most severe of the business's status, each fired message signal's own
//! action, and the score's lines (`score.hold`, `score.block`).

use crate::policy::Policy;
use crate::signal::{Hit, round_sig};
use crate::signals::Reading;
use crate::verdict::{Action, Status};

/// What the business stands on when one of its messages is judged.
pub(crate) struct Standing<'a> {
    /// Its status.
    pub(crate) status: Status,
    /// The business-level hits standing now.
    pub(crate) hits: &'a [Hit],
    /// The reasons its current status was taken for (they keep acting while it is suspended).
    pub(crate) status_reasons: &'a [Hit],
}

/// A message's verdict, before it is addressed.
pub(crate) struct Decision {
    /// What is done with it.
    pub(crate) action: Action,
    /// The noisy-or of the weights, rounded.
    pub(crate) score: f64,
    /// Every hit behind it, in signal order.
    pub(crate) reasons: Vec<Hit>,
}

/// Combines the business's standing with the message's readings (those that did not fire are
/// passed over). The weights are multiplied in the order given: standing, then suspension
/// reasons, then `readings`.
pub(crate) fn decide<'r>(
    policy: &Policy,
    standing: &Standing<'_>,
    readings: impl IntoIterator<Item = &'r Reading>,
) -> Decision {
    let mut action = standing.status.action();
    let mut reasons: Vec<Hit> = Vec::with_capacity(standing.hits.len() + 4);
    let mut keep = 1.0;
    for h in standing.hits {
        keep *= 1.0 - policy.signals.rule(h.signal).weight();
        reasons.push(h.clone());
    }
    if standing.status == Status::Suspended {
        for h in standing.status_reasons {
            if !reasons.iter().any(|r| r.signal == h.signal) {
                keep *= 1.0 - policy.signals.rule(h.signal).weight();
                reasons.push(h.clone());
            }
        }
    }
    for r in readings.into_iter().filter(|r| r.fired) {
        let rule = policy.signals.rule(r.signal);
        keep *= 1.0 - rule.weight();
        action = action.max(rule.message_action().action());
        reasons.push(r.hit());
    }
    reasons.sort_by_key(|h| h.signal);
    let score = round_sig(1.0 - keep);
    if score >= policy.score.block {
        action = action.max(Action::Block);
    } else if score >= policy.score.hold {
        action = action.max(Action::Hold);
    }
    Decision {
        action,
        score,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Signal;

    /// Weights and actions fixed here, so the figures below are computed by hand.
    fn policy() -> Policy {
        Policy::from_toml_overlay(
            "[score]\nhold = 0.7\nblock = 0.95\n\
             [signals.complaint_rate_24h]\nweight = 0.5\n\
             [signals.complaint_rate_7d]\nweight = 0.2\n\
             [signals.content_classifier]\nweight = 0.3\naction = \"none\"\n\
             [signals.obfuscation]\nweight = 0.4\naction = \"none\"\n\
             [signals.phishing_link]\nweight = 0.1\naction = \"block\"\n",
        )
        .unwrap()
    }

    fn hit(signal: Signal) -> Hit {
        Hit::new(signal, 0.01, 0.003)
    }

    fn reading(signal: Signal, fired: bool) -> Reading {
        Reading::new(signal, 1.0, 0.5, 0, 0).fired(fired)
    }

    fn codes(d: &Decision) -> Vec<Signal> {
        d.reasons.iter().map(|h| h.signal).collect()
    }

    #[test]
    fn the_score_is_the_noisy_or_of_the_standing_and_the_fired_readings() {
        let policy = policy();
        let hits = [hit(Signal::ComplaintRate24h)];
        let standing = Standing {
            status: Status::Active,
            hits: &hits,
            status_reasons: &[],
        };
        // 1 − (1 − 0.5)(1 − 0.3) = 0.65: under the hold line; the reading that did not fire
        // weighs nothing.
        let readings = [
            reading(Signal::Obfuscation, false),
            reading(Signal::ContentClassifier, true),
        ];
        let d = decide(&policy, &standing, &readings);
        assert_eq!(d.score, 0.65);
        assert_eq!(d.action, Action::Allow);
        assert_eq!(
            codes(&d),
            [Signal::ComplaintRate24h, Signal::ContentClassifier]
        );
        // With obfuscation fired too: 1 − 0.5 × 0.7 × 0.6 = 0.79, past the hold line.
        let readings = [
            reading(Signal::Obfuscation, true),
            reading(Signal::ContentClassifier, true),
        ];
        let d = decide(&policy, &standing, &readings);
        assert_eq!(d.score, 0.79);
        assert_eq!(d.action, Action::Hold);
    }

    #[test]
    fn a_suspension_keeps_its_reasons_once_and_other_statuses_do_not() {
        let policy = policy();
        let hits = [hit(Signal::ComplaintRate24h)];
        let reasons = [hit(Signal::ComplaintRate24h), hit(Signal::ComplaintRate7d)];
        let readings = [reading(Signal::ContentClassifier, true)];
        // Suspended: 24 h counted once, 7 d added: 1 − 0.5 × 0.8 × 0.7 = 0.72; blocked by status.
        let suspended = Standing {
            status: Status::Suspended,
            hits: &hits,
            status_reasons: &reasons,
        };
        let d = decide(&policy, &suspended, &readings);
        assert_eq!(d.score, 0.72);
        assert_eq!(d.action, Action::Block);
        assert_eq!(
            codes(&d),
            [
                Signal::ComplaintRate24h,
                Signal::ComplaintRate7d,
                Signal::ContentClassifier
            ]
        );
        // Throttled for the same reasons: only what stands now counts.
        let throttled = Standing {
            status: Status::Throttled,
            ..suspended
        };
        let d = decide(&policy, &throttled, &readings);
        assert_eq!(d.score, 0.65);
        assert_eq!(d.action, Action::Throttle);
    }

    #[test]
    fn a_message_signals_own_action_and_the_block_line_act_whatever_the_rest() {
        let policy = policy();
        let active = Standing {
            status: Status::Active,
            hits: &[],
            status_reasons: &[],
        };
        // Weight 0.1 alone is far under every line, but the phishing rule blocks.
        let d = decide(&policy, &active, &[reading(Signal::PhishingLink, true)]);
        assert_eq!((d.score, d.action), (0.1, Action::Block));
        // 1 − 0.5 × 0.8 × 0.7 × 0.6 = 0.832 holds; no reading: score 0, allowed.
        let hits = [hit(Signal::ComplaintRate24h), hit(Signal::ComplaintRate7d)];
        let standing = Standing {
            hits: &hits,
            ..active
        };
        let fired = [
            reading(Signal::ContentClassifier, true),
            reading(Signal::Obfuscation, true),
        ];
        let d = decide(&policy, &standing, &fired);
        assert_eq!((d.score, d.action), (0.832, Action::Hold));
        let d = decide(&policy, &active, &[]);
        assert_eq!((d.score, d.action), (0.0, Action::Allow));
        assert!(d.reasons.is_empty());
    }

    #[test]
    fn the_block_line_blocks() {
        let policy = Policy::from_toml_overlay(
            "[signals.complaint_rate_24h]\nweight = 0.9\n[signals.complaint_rate_7d]\nweight = 0.6\n",
        )
        .unwrap();
        let hits = [hit(Signal::ComplaintRate24h), hit(Signal::ComplaintRate7d)];
        let standing = Standing {
            status: Status::Active,
            hits: &hits,
            status_reasons: &[],
        };
        // 1 − 0.1 × 0.4 = 0.96 ≥ 0.95.
        let d = decide(&policy, &standing, &[]);
        assert_eq!((d.score, d.action), (0.96, Action::Block));
    }
}
