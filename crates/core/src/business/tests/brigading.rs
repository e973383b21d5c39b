//! Report brigading: complaints count toward a rate only from recipients the business messaged
//! within that rate's window before the complaint; the others are counted apart.

use super::*;
use crate::time::{DAY, WEEK};

/// An established business that sent 1,000 marketing messages to `r-0` .. `r-999` in T0's hour.
fn sender() -> Engine {
    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, HOUR, 1000, 0, Category::Marketing);
    e
}

fn report(ts: Timestamp, who: &str) -> Event {
    fb(ts, who, FeedbackKind::Report)
}

#[test]
fn a_brigade_of_strangers_moves_no_rate_and_no_status() {
    let mut e = sender();
    // 300 accounts that never heard from the business report it within ten minutes: far more
    // than the 20 reports from its own recipients that suspend it (`suspended_by_reports`).
    for i in 0..300 {
        let kind = if i % 3 == 0 {
            FeedbackKind::Block
        } else {
            FeedbackKind::Report
        };
        e.observe(&fb(T0 + HOUR + i * 2 * SECOND, &format!("x-{i}"), kind));
    }
    let v = send(&mut e, T0 + 2 * HOUR, MIN, 1, 5000, Category::Marketing);
    assert_eq!(v[0].action, Action::Allow, "{v:?}");
    let s = standing(&e);
    assert_eq!(s.status, Status::Active);
    assert_eq!(s.quality, Quality::High);
    assert!(s.changes.is_empty(), "{:?}", s.changes);
    assert_eq!(s.ratios.complaint_rate_24h.count, 0);
    assert_eq!(s.ratios.complaint_rate_7d.count, 0);
    assert_eq!((s.totals.blocks, s.totals.reports), (100, 200));
    assert_eq!(s.totals.unverified_complaints, 300);
    let hour = s.history.iter().find(|h| h.hour == T0 + HOUR).unwrap();
    assert_eq!((hour.complaints, hour.unverified), (0, 300));
    // The same number of complaints from its own recipients suspends it.
    let mut own = sender();
    for i in 0..300 {
        own.observe(&report(T0 + HOUR + i * 2 * SECOND, &format!("r-{i}")));
    }
    let s = standing(&own);
    assert_eq!(s.status, Status::Suspended);
    assert_eq!(s.ratios.complaint_rate_24h.count, 300);
    assert_eq!(s.totals.unverified_complaints, 0);
}

#[test]
fn a_complaint_counts_in_the_windows_its_message_is_inside() {
    let mut e = sender();
    let sent = T0 + HOUR - HOUR / 1000; // when `r-999` got its message
    // Just inside the day after the message: counted by the day and the week.
    e.observe(&report(sent + DAY - MS, "r-999"));
    let s = standing(&e);
    assert_eq!(s.ratios.complaint_rate_24h.count, 1);
    assert_eq!(s.ratios.complaint_rate_7d.count, 1);
    // A day after the message exactly: the week's rate only; the hour shows it apart.
    e.observe(&report(sent + DAY, "r-999"));
    let s = standing(&e);
    assert_eq!(s.ratios.complaint_rate_24h.count, 1);
    assert_eq!(s.ratios.complaint_rate_7d.count, 2);
    assert_eq!(s.totals.unverified_complaints, 0);
    let hour = s.history.last().unwrap();
    assert_eq!((hour.complaints, hour.unverified), (1, 1));
    // A week after it: no rate; counted apart.
    e.observe(&report(sent + WEEK, "r-999"));
    let s = standing(&e);
    assert_eq!(
        s.ratios.complaint_rate_7d.count, 2,
        "the third counts in no window"
    );
    assert_eq!(s.totals.unverified_complaints, 1);
    assert_eq!(s.totals.reports, 3);
}

#[test]
fn a_message_seen_before_a_complaint_stamped_earlier_verifies_it() {
    let mut e = sender();
    // The log carries a complaint a minute before the message it follows (clocks disagree):
    // the recipient is one the business chose to message, so it counts.
    e.observe(&report(T0 - MIN, "r-0"));
    let s = standing(&e);
    assert_eq!(s.ratios.complaint_rate_24h.count, 1);
    assert_eq!(s.totals.unverified_complaints, 0);
}

#[test]
fn opt_outs_and_reads_from_anyone_still_count() {
    let mut e = sender();
    e.observe(&fb(T0 + HOUR, "x-1", FeedbackKind::OptOut));
    e.observe(&fb(T0 + HOUR, "x-2", FeedbackKind::Read));
    let s = standing(&e);
    assert_eq!(s.ratios.opt_out_rate_24h.count, 1);
    assert_eq!(s.totals.unverified_complaints, 0);
    // And the opt-out is honoured: no marketing to x-1.
    let v = e
        .observe(&msg(9000, T0 + 2 * HOUR, "x-1", Category::Marketing))
        .unwrap();
    assert!(signals(&v).contains(&Signal::OptedOut), "{v:?}");
}
