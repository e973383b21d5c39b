//! A replay's report against the generator's ground truth: `spamward eval`, and `diff --truth`.
//!
//! A business counts as flagged if it was ever throttled or suspended (`first_flagged` is set):
//! detection is about whether and when it was caught, not about where it stood when the log ended.
//! Message shares are computed from each business's hourly history, counting an abuser's messages
//! from the hour its abuse started (a compromised account's earlier, honest traffic is not abuse).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use spamward_core::time::HOUR;
use spamward_core::{Standing, Timestamp};

/// The generator's truth file, as far as eval needs it.
#[derive(Deserialize)]
pub struct Truth {
    businesses: Vec<TruthBusiness>,
}

#[derive(Deserialize)]
struct TruthBusiness {
    business: String,
    archetype: String,
    abusive: bool,
    abuse_start: Option<Timestamp>,
}

#[derive(Deserialize)]
struct Report {
    businesses: Vec<ReportBusiness>,
}

/// One business of a report, as far as eval needs it.
#[derive(Deserialize)]
pub struct ReportBusiness {
    business: String,
    status: String,
    first_flagged: Option<Timestamp>,
    first_action: Option<FirstAction>,
    history: Vec<Hour>,
}

#[derive(Deserialize)]
struct FirstAction {
    ts: Timestamp,
}

#[derive(Deserialize)]
struct Hour {
    hour: Timestamp,
    messages: u64,
    allowed: u64,
}

/// Per-archetype figures.
#[derive(Default, Serialize)]
struct ArchetypeRow {
    businesses: u64,
    abusive: bool,
    flagged: u64,
    suspended: u64,
    messages: u64,
    allowed: u64,
    through_before_action: Vec<u64>,
}

/// The figures eval prints, also as JSON with `--json`.
#[derive(Serialize)]
pub struct Evaluation {
    pub(crate) businesses: u64,
    pub(crate) abusive: u64,
    pub(crate) true_positives: u64,
    pub(crate) false_positives: u64,
    pub(crate) false_negatives: u64,
    pub(crate) precision: f64,
    pub(crate) recall: f64,
    pub(crate) f1: f64,
    pub(crate) legitimate_suspended: Vec<String>,
    pub(crate) legitimate_flagged: Vec<String>,
    pub(crate) abusive_missed: Vec<String>,
    pub(crate) abusive_messages: u64,
    pub(crate) abusive_messages_allowed: u64,
    pub(crate) legitimate_messages: u64,
    pub(crate) legitimate_messages_not_allowed: u64,
    pub(crate) median_messages_before_action: Option<u64>,
    archetypes: BTreeMap<String, ArchetypeRow>,
}

fn read_json<T: for<'de> Deserialize<'de>>(p: &Path) -> Result<T> {
    let f = std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
    serde_json::from_reader(std::io::BufReader::new(f))
        .with_context(|| format!("{} is not what was expected", p.display()))
}

fn median(v: &mut [u64]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

impl ReportBusiness {
    /// The figures eval needs from a standing computed in this process.
    pub fn from_standing(business: &str, s: &Standing) -> ReportBusiness {
        ReportBusiness {
            business: business.to_owned(),
            status: s.status.as_str().to_owned(),
            first_flagged: s.first_flagged,
            first_action: s.first_action.as_ref().map(|f| FirstAction { ts: f.ts }),
            history: s
                .history
                .iter()
                .map(|h| Hour {
                    hour: h.hour,
                    messages: u64::from(h.messages),
                    allowed: u64::from(h.allowed),
                })
                .collect(),
        }
    }
}

/// Reads a truth file.
pub fn load_truth(path: &Path) -> Result<Truth> {
    read_json(path)
}

/// Computes the evaluation of a report file.
pub fn evaluate(truth: &Path, report: &Path) -> Result<Evaluation> {
    let truth: Truth = read_json(truth)?;
    let report: Report = read_json(report)?;
    evaluate_records(&truth, &report.businesses)
}

/// Computes the evaluation of report records.
pub fn evaluate_records(truth: &Truth, report: &[ReportBusiness]) -> Result<Evaluation> {
    let by_id: BTreeMap<&str, &ReportBusiness> =
        report.iter().map(|b| (b.business.as_str(), b)).collect();
    let mut e = Evaluation {
        businesses: 0,
        abusive: 0,
        true_positives: 0,
        false_positives: 0,
        false_negatives: 0,
        precision: 0.0,
        recall: 0.0,
        f1: 0.0,
        legitimate_suspended: vec![],
        legitimate_flagged: vec![],
        abusive_missed: vec![],
        abusive_messages: 0,
        abusive_messages_allowed: 0,
        legitimate_messages: 0,
        legitimate_messages_not_allowed: 0,
        median_messages_before_action: None,
        archetypes: BTreeMap::new(),
    };
    let mut through_all = Vec::new();
    for t in &truth.businesses {
        // A business the log never mentioned was never judged: it counts as not flagged.
        let r = by_id.get(t.business.as_str());
        let flagged = r.is_some_and(|r| r.first_flagged.is_some());
        let suspended = r.is_some_and(|r| r.status == "suspended");
        e.businesses += 1;
        let row = e.archetypes.entry(t.archetype.clone()).or_default();
        row.businesses += 1;
        row.abusive = t.abusive;
        row.flagged += u64::from(flagged);
        row.suspended += u64::from(suspended);
        let from = if t.abusive {
            t.abuse_start.unwrap_or(Timestamp::EPOCH).floor(HOUR)
        } else {
            Timestamp::EPOCH
        };
        let (mut messages, mut allowed) = (0, 0);
        if let Some(r) = r {
            for h in r.history.iter().filter(|h| h.hour >= from) {
                messages += h.messages;
                allowed += h.allowed;
            }
        }
        row.messages += messages;
        row.allowed += allowed;
        if t.abusive {
            e.abusive += 1;
            e.abusive_messages += messages;
            e.abusive_messages_allowed += allowed;
            if flagged {
                e.true_positives += 1;
            } else {
                e.false_negatives += 1;
                e.abusive_missed.push(t.business.clone());
            }
            // Allowed messages from the abuse's start until the first message not allowed (or
            // all of them, if none ever was).
            let stop = r.and_then(|r| r.first_action.as_ref()).map(|f| f.ts);
            let through: u64 = r.map_or(0, |r| {
                r.history
                    .iter()
                    .filter(|h| h.hour >= from && stop.is_none_or(|stop| h.hour <= stop))
                    .map(|h| h.allowed)
                    .sum()
            });
            row.through_before_action.push(through);
            through_all.push(through);
        } else {
            e.legitimate_messages += messages;
            e.legitimate_messages_not_allowed += messages - allowed;
            if flagged {
                e.false_positives += 1;
                e.legitimate_flagged.push(t.business.clone());
            }
            if suspended {
                e.legitimate_suspended.push(t.business.clone());
            }
        }
    }
    if e.businesses == 0 {
        bail!("the truth file lists no businesses");
    }
    let tp = e.true_positives as f64;
    e.precision = if tp + e.false_positives as f64 > 0.0 {
        tp / (tp + e.false_positives as f64)
    } else {
        0.0
    };
    e.recall = if e.abusive > 0 {
        tp / e.abusive as f64
    } else {
        0.0
    };
    e.f1 = if e.precision + e.recall > 0.0 {
        2.0 * e.precision * e.recall / (e.precision + e.recall)
    } else {
        0.0
    };
    e.median_messages_before_action = median(&mut through_all);
    Ok(e)
}

fn share(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.2}%", 100.0 * n as f64 / of as f64)
    }
}

/// Prints the evaluation; the last line is `business F1: X`.
pub fn print(e: &mut Evaluation, json: bool) -> Result<()> {
    let mut o = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut o, e)?;
        writeln!(o)?;
    } else {
        writeln!(
            o,
            "businesses {} ({} abusive, {} legitimate)",
            e.businesses,
            e.abusive,
            e.businesses - e.abusive
        )?;
        writeln!(
            o,
            "flagged (ever throttled or suspended): {} true, {} false; {} abusive missed",
            e.true_positives, e.false_positives, e.false_negatives
        )?;
        writeln!(
            o,
            "precision {:.4}  recall {:.4}  F1 {:.4}",
            e.precision, e.recall, e.f1
        )?;
        writeln!(
            o,
            "legitimate businesses suspended: {} {:?}",
            e.legitimate_suspended.len(),
            e.legitimate_suspended
        )?;
        writeln!(
            o,
            "legitimate businesses flagged: {:?}",
            e.legitimate_flagged
        )?;
        writeln!(o, "abusive businesses missed: {:?}", e.abusive_missed)?;
        writeln!(
            o,
            "abusive messages allowed: {} ({} of {}, from each abuser's start)",
            share(e.abusive_messages_allowed, e.abusive_messages),
            e.abusive_messages_allowed,
            e.abusive_messages
        )?;
        writeln!(
            o,
            "legitimate messages not allowed: {} ({} of {})",
            share(e.legitimate_messages_not_allowed, e.legitimate_messages),
            e.legitimate_messages_not_allowed,
            e.legitimate_messages
        )?;
        writeln!(
            o,
            "median messages an abuser got through before its first non-allow verdict: {}",
            e.median_messages_before_action
                .map_or("-".into(), |m| m.to_string())
        )?;
        writeln!(
            o,
            "\n  {:<22} {:>5} {:>8} {:>9} {:>10} {:>9} {:>15}",
            "archetype", "n", "flagged", "suspended", "messages", "allowed", "median through"
        )?;
        for (name, r) in e.archetypes.iter_mut() {
            let through =
                median(&mut r.through_before_action).map_or("-".into(), |m| m.to_string());
            writeln!(
                o,
                "  {:<22} {:>5} {:>8} {:>9} {:>10} {:>9} {:>15}",
                format!("{name}{}", if r.abusive { " *" } else { "" }),
                r.businesses,
                r.flagged,
                r.suspended,
                r.messages,
                share(r.allowed, r.messages),
                through
            )?;
        }
        writeln!(o, "  (* abusive)")?;
    }
    writeln!(o, "business F1: {:.4}", e.f1)?;
    Ok(())
}
