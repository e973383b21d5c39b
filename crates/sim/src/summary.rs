//! Per-archetype rates of a generated log, to check that a world behaves as its table says.
//!
//! Feed every event to [`Summary::observe`], then read [`Summary::by_archetype`]. Rates are the
//! ones the archetype table uses: complaints are blocks + reports over unique recipients of the
//! business's messages; reads, failures and opt-outs are over messages. This keeps one set of
//! recipients per business, so it is meant for checks and reports, not for 100M-event runs.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use spamward_core::{Category, DeliveryStatus, Event, FeedbackKind};

use crate::{Archetype, Truth};

/// Counts for one business or one archetype.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Rates {
    /// Businesses counted.
    pub businesses: u64,
    /// Messages sent.
    pub messages: u64,
    /// Of which marketing.
    pub marketing: u64,
    /// Of which service replies.
    pub service: u64,
    /// Unique (business, recipient) pairs.
    pub unique_recipients: u64,
    /// Failed deliveries.
    pub failed: u64,
    /// Failed with `invalid_number`.
    pub invalid_number: u64,
    /// Reads.
    pub reads: u64,
    /// Replies.
    pub replies: u64,
    /// Blocks.
    pub blocks: u64,
    /// Reports.
    pub reports: u64,
    /// Opt-outs.
    pub opt_outs: u64,
}

impl Rates {
    /// Blocks + reports over unique recipients.
    pub fn complaint_rate(&self) -> f64 {
        ratio(self.blocks + self.reports, self.unique_recipients)
    }

    /// Failed deliveries over messages.
    pub fn failure_rate(&self) -> f64 {
        ratio(self.failed, self.messages)
    }

    /// Reads over messages.
    pub fn read_rate(&self) -> f64 {
        ratio(self.reads, self.messages)
    }

    /// Opt-outs over marketing messages.
    pub fn opt_out_rate(&self) -> f64 {
        ratio(self.opt_outs, self.marketing)
    }

    fn add(&mut self, o: &Rates) {
        self.businesses += o.businesses;
        self.messages += o.messages;
        self.marketing += o.marketing;
        self.service += o.service;
        self.unique_recipients += o.unique_recipients;
        self.failed += o.failed;
        self.invalid_number += o.invalid_number;
        self.reads += o.reads;
        self.replies += o.replies;
        self.blocks += o.blocks;
        self.reports += o.reports;
        self.opt_outs += o.opt_outs;
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Accumulates per-business counts over a log.
#[derive(Default)]
pub struct Summary {
    per: HashMap<String, (Rates, HashSet<String>)>,
}

impl Summary {
    /// A summary with nothing observed.
    pub fn new() -> Summary {
        Summary::default()
    }

    /// Counts one event.
    pub fn observe(&mut self, e: &Event) {
        let (r, seen) = self.per.entry(e.business().to_owned()).or_default();
        match e {
            Event::Message(m) => {
                r.messages += 1;
                match m.category {
                    Category::Marketing => r.marketing += 1,
                    Category::Service => r.service += 1,
                    _ => {}
                }
                if !seen.contains(&m.recipient) {
                    seen.insert(m.recipient.clone());
                    r.unique_recipients += 1;
                }
            }
            Event::Delivery(d) if d.status == DeliveryStatus::Failed => {
                r.failed += 1;
                if d.error.as_deref() == Some("invalid_number") {
                    r.invalid_number += 1;
                }
            }
            Event::Feedback(f) => match f.kind {
                FeedbackKind::Read => r.reads += 1,
                FeedbackKind::Reply => r.replies += 1,
                FeedbackKind::Block => r.blocks += 1,
                FeedbackKind::Report => r.reports += 1,
                FeedbackKind::OptOut => r.opt_outs += 1,
            },
            _ => {}
        }
    }

    /// Counts of one business.
    pub fn business(&self, id: &str) -> Option<&Rates> {
        self.per.get(id).map(|(r, _)| r)
    }

    /// Counts summed per archetype, in [`Archetype::ALL`] order (archetypes with no business
    /// left out).
    pub fn by_archetype(&self, truth: &Truth) -> Vec<(Archetype, Rates)> {
        Archetype::ALL
            .iter()
            .filter_map(|&a| {
                let mut sum = Rates::default();
                for b in truth.businesses.iter().filter(|b| b.archetype == a) {
                    sum.businesses += 1;
                    if let Some((r, _)) = self.per.get(&b.business) {
                        sum.add(r);
                    }
                }
                (sum.businesses > 0).then_some((a, sum))
            })
            .collect()
    }
}
