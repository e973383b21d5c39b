//! Every signal at its edges: window boundaries, late events, empty and tiny samples.

use super::*;
use crate::engine::Engine;
use crate::event::{BusinessInfo, Delivery, Event, Feedback, Message};
use crate::signal::Signal;
use crate::time::SECOND;
use crate::verdict::Trigger;

const T0: Timestamp = Timestamp::from_millis(1_793_577_600_000); // a Monday, 00:00 UTC
const MIN: Millis = MINUTE;
/// A millisecond.
const MS: Millis = Millis::from_millis(1);

/// An engine without content signals: these tests are about what a business's traffic and its
/// recipients say, whatever its texts.
fn engine(policy: Policy) -> Engine {
    Engine::with_content(policy, None)
}

fn msg(id: usize, ts: Timestamp, recipient: &str, category: Category) -> Event {
    Event::Message(Message {
        id: format!("m-{id}"),
        ts,
        business: "b-1".into(),
        recipient: recipient.into(),
        category,
        template: None,
        text: "hello".into(),
    })
}

fn fb(ts: Timestamp, recipient: &str, kind: FeedbackKind) -> Event {
    Event::Feedback(Feedback {
        ts,
        business: "b-1".into(),
        recipient: recipient.into(),
        kind,
        message: None,
    })
}

fn delivery(ts: Timestamp, recipient: &str, failed: Option<&str>) -> Event {
    Event::Delivery(Delivery {
        ts,
        business: "b-1".into(),
        recipient: recipient.into(),
        message: "m".into(),
        status: if failed.is_some() {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Delivered
        },
        error: failed.map(str::to_owned),
    })
}

fn established(ts: Timestamp, tier: Tier, verified: bool) -> Event {
    Event::Business(BusinessInfo {
        ts,
        business: "b-1".into(),
        tier,
        verified,
        created: T0 - 400 * 24 * HOUR,
    })
}

/// A policy without the new-business ramp, so volume tests isolate what they test.
fn no_ramp() -> Policy {
    Policy::from_toml_overlay("[signals.new_business_ramp_1h]\nper_hour = 1000000\n").unwrap()
}

/// Sends `n` utility messages to distinct recipients `r-{offset + i}`, spread over `span`
/// from `start`, and returns the verdicts.
fn send(
    e: &mut Engine,
    start: Timestamp,
    span: Millis,
    n: usize,
    offset: usize,
    category: Category,
) -> Vec<Verdict> {
    (0..n)
        .filter_map(|i| {
            let ts = start + span * i as u64 / n.max(1) as u64;
            e.observe(&msg(offset + i, ts, &format!("r-{}", offset + i), category))
        })
        .collect()
}

fn standing(e: &Engine) -> Standing {
    e.standing("b-1").expect("business known")
}

fn signals(v: &Verdict) -> Vec<Signal> {
    v.reasons.iter().map(|h| h.signal).collect()
}

/// Sends `per_hour` utility messages a hour to fresh recipients for `hours` hours from T0, so
/// the business has a steady baseline; returns how many were sent (the next recipient offset).
fn steady(e: &mut Engine, hours: u64, per_hour: usize) -> usize {
    for h in 0..hours {
        send(
            e,
            T0 + h * HOUR,
            HOUR,
            per_hour,
            h as usize * per_hour,
            Category::Utility,
        );
    }
    hours as usize * per_hour
}

/// The business's reading of `signal` now.
fn reading(e: &Engine, signal: Signal) -> Reading {
    e.readings("b-1")
        .unwrap()
        .into_iter()
        .find(|r| r.signal == signal)
        .unwrap()
}

#[test]
fn one_complaint_in_three_does_not_suspend() {
    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, 10 * MIN, 3, 0, Category::Marketing);
    e.observe(&fb(T0 + 20 * MIN, "r-0", FeedbackKind::Block));
    let v = send(&mut e, T0 + 30 * MIN, MIN, 1, 10, Category::Marketing);
    assert_eq!(v[0].action, Action::Allow, "{v:?}");
    assert_eq!(standing(&e).status, Status::Active);
}

#[test]
fn thirty_complaints_in_three_thousand_suspend() {
    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, 6 * HOUR, 3000, 0, Category::Marketing);
    for i in 0..30 {
        let kind = if i % 2 == 0 {
            FeedbackKind::Block
        } else {
            FeedbackKind::Report
        };
        e.observe(&fb(T0 + 6 * HOUR + i * MIN, &format!("r-{i}"), kind));
    }
    let v = send(&mut e, T0 + 7 * HOUR, MIN, 1, 5000, Category::Marketing);
    assert_eq!(v[0].action, Action::Block);
    let s = signals(&v[0]);
    assert!(
        s.contains(&Signal::ComplaintRate24h) && s.contains(&Signal::ComplaintRate7d),
        "{s:?}"
    );
    let hit = v[0]
        .reasons
        .iter()
        .find(|h| h.signal == Signal::ComplaintRate24h)
        .unwrap();
    assert_eq!(hit.threshold, 0.003);
    assert!((hit.value - 0.01).abs() < 1e-4, "{hit:?}");
    let st = standing(&e);
    assert_eq!(st.status, Status::Suspended);
    assert_eq!(st.quality, Quality::Low);
    assert!(st.first_flagged.is_some());
    // Throttled while the evidence was probable, suspended once it was near certain.
    let path: Vec<Status> = st.changes.iter().map(|c| c.to).collect();
    assert_eq!(path, vec![Status::Throttled, Status::Suspended]);
    assert!(
        st.changes
            .iter()
            .all(|c| matches!(c.trigger, Trigger::Feedback { .. })),
        "{:?}",
        st.changes
    );
    let p = st.changes[1].reasons[0].probability.unwrap();
    assert!(p >= 0.99, "{p}");
}

#[test]
fn complaints_leave_the_day_window_at_its_edge_but_not_the_week() {
    let policy = Policy::from_toml_overlay(
        "[signals.complaint_rate_7d]\naction = \"none\"\nescalate_action = \"none\"\n[status]\nsuspend_hours = 0\n",
    )
    .unwrap();
    let mut e = engine(policy);
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, HOUR, 1000, 0, Category::Marketing);
    for i in 0..20 {
        e.observe(&fb(T0 + HOUR, &format!("r-{i}"), FeedbackKind::Report));
    }
    assert_eq!(standing(&e).status, Status::Suspended);
    let bucket = Span::Day.bucket_millis();
    // 59 buckets after the complaints' bucket they are still inside the 24-h window.
    let edge = (T0 + HOUR).floor(bucket) + 59 * bucket;
    e.observe(&delivery(edge, "r-1", None));
    let s = standing(&e);
    assert_eq!(s.ratios.complaint_rate_24h.count, 20);
    // One bucket more: out of the day, still in the week; the suspension is lifted.
    e.observe(&delivery(edge + bucket, "r-1", None));
    let s = standing(&e);
    assert_eq!(s.ratios.complaint_rate_24h.count, 0);
    assert_eq!(s.ratios.complaint_rate_7d.count, 20);
    assert_eq!(s.status, Status::Active);
    assert!(
        s.reasons
            .iter()
            .any(|h| h.signal == Signal::ComplaintRate7d)
    );
}

/// An established business that sent 1,000 marketing messages in its first hour and got 20
/// reports at its end: suspended at T0 + 1 h for its 24-h complaint rate.
fn suspended_by_reports() -> Engine {
    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, HOUR, 1000, 0, Category::Marketing);
    for i in 0..20 {
        e.observe(&fb(T0 + HOUR, &format!("r-{i}"), FeedbackKind::Report));
    }
    e
}

#[test]
fn suspension_stands_for_its_minimum_time() {
    let mut e = suspended_by_reports();
    // Two days later the complaints are out of the 24-h window but the suspension stands, with
    // the reasons it was given for.
    let v = send(&mut e, T0 + 50 * HOUR, MIN, 1, 9000, Category::Marketing);
    assert_eq!(v[0].action, Action::Block);
    assert!(signals(&v[0]).contains(&Signal::ComplaintRate24h));
    assert_eq!(standing(&e).status, Status::Suspended);
}

#[test]
fn late_feedback_within_the_window_counts() {
    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, HOUR, 100, 0, Category::Marketing);
    e.observe(&delivery(T0 + 2 * HOUR, "r-1", None));
    // Ten minutes late, and (past the window) three days late: both counted.
    e.observe(&fb(T0 + 2 * HOUR - 10 * MIN, "r-1", FeedbackKind::Block));
    e.observe(&fb(T0 - 72 * HOUR, "r-2", FeedbackKind::Block));
    let s = standing(&e);
    assert_eq!(s.ratios.complaint_rate_24h.count, 2);
    assert_eq!(s.totals.blocks, 2);
    assert_eq!(
        s.last_seen,
        T0 + 2 * HOUR,
        "a late event does not move the clock back"
    );
}

#[test]
fn feedback_without_messages_is_no_evidence() {
    let mut e = engine(Policy::default());
    for i in 0..10 {
        e.observe(&fb(T0 + i * MS, &format!("r-{i}"), FeedbackKind::Report));
    }
    let s = standing(&e);
    assert_eq!(s.status, Status::Active);
    assert!(s.reasons.is_empty(), "{:?}", s.reasons);
}

#[test]
fn opted_out_recipients_get_no_marketing_until_they_reply() {
    let mut e = engine(no_ramp());
    e.observe(&established(T0, Tier::T10k, true));
    e.observe(&msg(1, T0, "r-1", Category::Marketing));
    e.observe(&fb(T0 + MIN, "r-1", FeedbackKind::OptOut));
    let v = e
        .observe(&msg(2, T0 + 2 * MIN, "r-1", Category::Marketing))
        .unwrap();
    assert_eq!(v.action, Action::Block);
    assert_eq!(signals(&v), vec![Signal::OptedOut]);
    // Utility is not marketing: it still goes.
    let v = e
        .observe(&msg(3, T0 + 3 * MIN, "r-1", Category::Utility))
        .unwrap();
    assert_eq!(v.action, Action::Allow);
    // Another recipient is unaffected.
    let v = e
        .observe(&msg(4, T0 + 3 * MIN, "r-2", Category::Marketing))
        .unwrap();
    assert_eq!(v.action, Action::Allow);
    e.observe(&fb(T0 + 4 * MIN, "r-1", FeedbackKind::Reply));
    let v = e
        .observe(&msg(5, T0 + 5 * MIN, "r-1", Category::Marketing))
        .unwrap();
    assert_eq!(v.action, Action::Allow, "a reply restores consent");
}

#[test]
fn tier_limit_counts_unique_business_initiated_recipients() {
    let mut e = engine(no_ramp());
    // New business: tier 250.
    let v = send(&mut e, T0, HOUR, 250, 0, Category::Utility);
    assert!(v.iter().all(|v| v.action == Action::Allow));
    // The 251st unique recipient is over the limit: throttled, not blocked.
    let v = e
        .observe(&msg(251, T0 + HOUR, "r-new", Category::Utility))
        .unwrap();
    assert_eq!(v.action, Action::Throttle);
    let hit = &v.reasons[0];
    assert_eq!(
        (hit.signal, hit.value, hit.threshold),
        (Signal::TierLimit24h, 250.0, 250.0)
    );
    // A recipient already counted is still allowed.
    let v = e
        .observe(&msg(252, T0 + HOUR, "r-7", Category::Utility))
        .unwrap();
    assert_eq!(v.action, Action::Allow);
    // Inside the customer-service window (the recipient replied) a message does not count.
    e.observe(&fb(T0 + HOUR, "r-talks", FeedbackKind::Reply));
    let v = e
        .observe(&msg(253, T0 + HOUR + MIN, "r-talks", Category::Service))
        .unwrap();
    assert_eq!(v.action, Action::Allow);
    // ... but outside it (a day later, window closed) it would.
    let v = e
        .observe(&msg(
            254,
            T0 + 25 * HOUR + 2 * MIN,
            "r-talks",
            Category::Service,
        ))
        .unwrap();
    assert_eq!(
        v.action,
        Action::Allow,
        "the first day's recipients have left the moving 24 h"
    );
    assert_eq!(standing(&e).volume.tier_recipients_24h, 1);
}

#[test]
fn new_businesses_ramp_established_ones_do_not() {
    let ramp = Policy::default().signals.new_business_ramp_1h.per_hour as usize;
    let mut e = engine(Policy::default());
    let v = send(&mut e, T0, 30 * MIN, ramp + 1, 0, Category::Utility);
    assert!(v[..ramp].iter().all(|v| v.action == Action::Allow));
    assert_eq!(v[ramp].action, Action::Throttle);
    assert_eq!(signals(&v[ramp]), vec![Signal::NewBusinessRamp1h]);

    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T10k, true));
    let v = send(&mut e, T0, 30 * MIN, ramp + 1, 0, Category::Utility);
    assert!(v.iter().all(|v| v.action == Action::Allow));
}

#[test]
fn recipient_fatigue_is_counted_across_businesses() {
    let cap = Policy::default().signals.recipient_fatigue_24h.cap as usize;
    let mut e = engine(Policy::default());
    let mut last = None;
    for i in 0..=cap {
        let b = format!("b-{i}");
        e.observe(&Event::Business(BusinessInfo {
            ts: T0,
            business: b.clone(),
            tier: Tier::T10k,
            verified: true,
            created: T0 - 1000 * HOUR,
        }));
        last = e.observe(&Event::Message(Message {
            id: format!("m-{i}"),
            ts: T0 + i as u64 * MIN,
            business: b,
            recipient: "r-tired".into(),
            category: Category::Marketing,
            template: None,
            text: "offer".into(),
        }));
        if i < cap {
            assert_eq!(last.as_ref().unwrap().action, Action::Allow, "message {i}");
        }
    }
    let v = last.unwrap();
    assert_eq!(v.action, Action::Throttle);
    assert_eq!(signals(&v), vec![Signal::RecipientFatigue24h]);
}

#[test]
fn a_burst_against_the_baseline_is_reported_but_does_not_act_alone() {
    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T100k, true));
    // Two days at ten an hour, then 300 in one hour.
    let n = steady(&mut e, 48, 10);
    let v = send(
        &mut e,
        T0 + 48 * HOUR,
        50 * MIN,
        300,
        n,
        Category::Marketing,
    );
    let last = v.last().unwrap();
    assert!(signals(last).contains(&Signal::VolumeBurst1h), "{last:?}");
    assert_eq!(last.action, Action::Allow);
    assert_eq!(standing(&e).status, Status::Active);
    assert!(
        v[0].reasons.is_empty(),
        "the first messages of the hour are no burst yet"
    );
    // The baseline is 10 an hour (the EWMA of constant hours; half the peak is less), so the
    // line is 4 × 10 = 40; the hour's count must also reach `min_count` = 100, and the Poisson
    // tail of 100 at 10 is far below `p_value`. The standing is re-evaluated every
    // max(8, recipients in 24 h / 32) messages, so the first burst reason comes at the first
    // evaluation from 100 on, fewer than 20 messages later.
    let first = v
        .iter()
        .position(|v| signals(v).contains(&Signal::VolumeBurst1h))
        .unwrap();
    let hit = &v[first].reasons[0];
    assert_eq!(hit.threshold, 40.0, "{hit:?}");
    assert!((100.0..120.0).contains(&hit.value), "{hit:?}");
    assert_eq!(standing(&e).volume.baseline_1h, Some(10.0));
}

#[test]
fn a_burst_needs_its_ratio_to_the_baseline_as_well_as_its_count() {
    // With `min_count` at 10 the ratio decides: the line is 4 × a baseline of 10 = 40, so no
    // burst before the hour's count reaches 40 (and the first comes at the next evaluation).
    let policy = Policy::from_toml_overlay("[signals.volume_burst_1h]\nmin_count = 10\n").unwrap();
    let mut e = engine(policy);
    e.observe(&established(T0, Tier::T100k, true));
    let n = steady(&mut e, 48, 10);
    let v = send(&mut e, T0 + 48 * HOUR, 50 * MIN, 100, n, Category::Utility);
    let first = v
        .iter()
        .position(|v| signals(v).contains(&Signal::VolumeBurst1h))
        .unwrap();
    let hit = &v[first].reasons[0];
    assert_eq!(hit.threshold, 40.0, "{hit:?}");
    assert!((40.0..60.0).contains(&hit.value), "{hit:?}");
}

#[test]
fn a_burst_past_its_lines_still_needs_its_tail_below_p_value() {
    // The count and the ratio are past their lines, but a tail of about 1e-20 is not below a
    // p_value of 1e-30: no burst.
    let policy =
        Policy::from_toml_overlay("[signals.volume_burst_1h]\nmin_count = 10\np_value = 1e-30\n")
            .unwrap();
    let mut e = engine(policy);
    e.observe(&established(T0, Tier::T100k, true));
    let n = steady(&mut e, 48, 10);
    let v = send(&mut e, T0 + 48 * HOUR, 10 * MIN, 45, n, Category::Utility);
    assert!(v.iter().all(|v| v.reasons.is_empty()), "{:?}", v.last());
    let r = reading(&e, Signal::VolumeBurst1h);
    assert!(r.value >= 45.0 && r.threshold == 40.0, "{r:?}");
    assert!(!r.fired && r.p_value.unwrap() > 1e-30, "{r:?}");
}

#[test]
fn a_few_marketing_messages_to_the_same_people_are_no_flood() {
    // Three messages to each of two recipients: 3 a recipient reaches the threshold, but 6
    // messages are far under `min_count` (100).
    let mut e = engine(no_ramp());
    e.observe(&established(T0, Tier::T100k, true));
    let mut last = None;
    for i in 0..6 {
        last = e.observe(&msg(
            i,
            T0 + i as u64 * MIN,
            &format!("r-{}", i % 2),
            Category::Marketing,
        ));
    }
    assert!(last.unwrap().reasons.is_empty());
    let r = reading(&e, Signal::RecipientFrequency24h);
    assert_eq!((r.value, r.fired), (3.0, false));
    assert_eq!(r.note, Some("too few events to judge yet (min_count)"));
}

#[test]
fn a_new_business_has_no_baseline() {
    let mut e = engine(no_ramp());
    let v = send(&mut e, T0, HOUR, 240, 0, Category::Utility);
    assert!(
        v.iter()
            .all(|v| !signals(v).contains(&Signal::VolumeBurst1h))
    );
    assert_eq!(standing(&e).volume.baseline_1h, None);
}

#[test]
fn invalid_numbers_mark_a_bought_list() {
    let mut e = engine(no_ramp());
    send(&mut e, T0, HOUR, 200, 0, Category::Marketing);
    for i in 0..200 {
        let err = (i % 5 == 0).then_some("invalid_number");
        e.observe(&delivery(T0 + HOUR + i * MS, &format!("r-{i}"), err));
    }
    let s = standing(&e);
    assert_eq!(s.status, Status::Suspended);
    assert!(
        s.reasons
            .iter()
            .any(|h| h.signal == Signal::InvalidNumberRate24h),
        "{:?}",
        s.reasons
    );
    assert_eq!(s.ratios.invalid_number_rate_24h.count, 40);
}

#[test]
fn a_few_failures_are_not_a_bought_list() {
    let mut e = engine(no_ramp());
    send(&mut e, T0, HOUR, 200, 0, Category::Marketing);
    for i in 0..200 {
        let err = (i % 50 == 0).then_some("invalid_number");
        e.observe(&delivery(T0 + HOUR + i * MS, &format!("r-{i}"), err));
    }
    assert_eq!(standing(&e).status, Status::Active);
}

#[test]
fn flooding_the_same_recipients_throttles() {
    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T10k, true));
    let mut id = 0;
    for round in 0..4 {
        for r in 0..40 {
            id += 1;
            e.observe(&msg(
                id,
                T0 + round * 2 * HOUR + r * MS,
                &format!("r-{r}"),
                Category::Marketing,
            ));
        }
    }
    let s = standing(&e);
    assert_eq!(s.status, Status::Throttled);
    // Standing is re-evaluated every few messages: the hit saw at least three rounds of four.
    let hit = s
        .reasons
        .iter()
        .find(|h| h.signal == Signal::RecipientFrequency24h)
        .unwrap();
    assert!((3.0..=4.0).contains(&hit.value), "{hit:?}");
}

#[test]
fn low_reads_lower_quality_only() {
    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, HOUR, 400, 0, Category::Marketing);
    for i in 0..400 {
        e.observe(&delivery(T0 + HOUR + i * MS, &format!("r-{i}"), None));
        if i % 40 == 0 {
            e.observe(&fb(
                T0 + HOUR + i * MS,
                &format!("r-{i}"),
                FeedbackKind::Read,
            ));
        }
    }
    e.observe(&fb(T0 + 2 * HOUR, "r-1", FeedbackKind::Reply)); // forces an evaluation
    let s = standing(&e);
    assert_eq!(s.quality, Quality::Medium);
    assert_eq!(s.status, Status::Active);
    assert!(s.reasons.iter().any(|h| h.signal == Signal::LowReadRate7d));
}

#[test]
fn verified_businesses_climb_the_ladder_unverified_new_ones_do_not() {
    for (verified, want) in [(true, Tier::T2k), (false, Tier::T250)] {
        let mut e = engine(no_ramp());
        e.observe(&Event::Business(BusinessInfo {
            ts: T0,
            business: "b-1".into(),
            tier: Tier::T250,
            verified,
            created: T0 - 1000 * HOUR,
        }));
        send(&mut e, T0, 20 * HOUR, 200, 0, Category::Utility);
        send(&mut e, T0 + 25 * HOUR, HOUR, 10, 1000, Category::Utility);
        assert_eq!(standing(&e).tier, want, "verified: {verified}");
    }
}

#[test]
fn batches_equal_one_event_at_a_time_for_any_thread_count() {
    // A small mixed log over several businesses with complaints, opt-outs and shared recipients.
    let mut events = Vec::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..20_000u64 {
        let ts = T0 + i * 20 * SECOND;
        let b = format!("b-{}", next() % 12);
        let r = format!("r-{}", next() % 400);
        let ev = match next() % 20 {
            0 => Event::Feedback(Feedback {
                ts,
                business: b,
                recipient: r,
                kind: FeedbackKind::Report,
                message: None,
            }),
            1 => Event::Feedback(Feedback {
                ts,
                business: b,
                recipient: r,
                kind: FeedbackKind::OptOut,
                message: None,
            }),
            2 => Event::Feedback(Feedback {
                ts,
                business: b,
                recipient: r,
                kind: FeedbackKind::Reply,
                message: None,
            }),
            3..=5 => Event::Delivery(Delivery {
                ts,
                business: b,
                recipient: r,
                message: "m".into(),
                status: DeliveryStatus::Failed,
                error: Some("invalid_number".into()),
            }),
            _ => Event::Message(Message {
                id: format!("m-{i}"),
                ts,
                business: b,
                recipient: r,
                category: if next() % 2 == 0 {
                    Category::Marketing
                } else {
                    Category::Utility
                },
                template: None,
                text: String::new(),
            }),
        };
        events.push(ev);
    }
    let one_by_one: Vec<Verdict> = {
        let mut e = engine(Policy::default());
        events.iter().filter_map(|ev| e.observe(ev)).collect()
    };
    assert!(
        one_by_one.iter().any(|v| v.action != Action::Allow),
        "the log exercises some signals"
    );
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for batch in [1, 777, 20_000] {
            let got: Vec<Verdict> = pool.install(|| {
                let mut e = engine(Policy::default());
                events.chunks(batch).flat_map(|c| e.process(c)).collect()
            });
            assert_eq!(got, one_by_one, "threads {threads}, batch {batch}");
        }
    }
}

#[test]
fn history_and_first_action_record_what_happened() {
    let mut e = engine(Policy::default());
    let ramp = Policy::default().signals.new_business_ramp_1h.per_hour as usize;
    send(&mut e, T0, 30 * MIN, ramp + 5, 0, Category::Utility);
    e.observe(&fb(T0 + HOUR + MIN, "r-1", FeedbackKind::Block));
    // A late message for the first hour lands in that hour.
    e.observe(&msg(9999, T0 + 59 * MIN, "r-late", Category::Utility));
    let s = standing(&e);
    let first = s.first_action.expect("the ramp throttled something");
    assert_eq!(first.allowed_before, ramp as u64);
    assert_eq!(first.action, Action::Throttle);
    assert_eq!(s.history.len(), 2);
    assert_eq!(s.history[0].hour, T0);
    assert_eq!(s.history[0].messages as usize, ramp + 6);
    assert_eq!(s.history[0].allowed as usize, ramp);
    assert_eq!(s.history[0].throttled, 6);
    assert_eq!(s.history[1].complaints, 1);
    assert_eq!(s.history[1].messages, 0);
}

#[test]
fn a_trickle_of_invalid_numbers_over_days_is_a_salted_list() {
    // 150 deliveries a day for five days, 1 in 33 (3%) or 1 in 333 (0.3%) to numbers that do not
    // exist: under the 24-h line every day, but a week tells them apart.
    for (every, flagged) in [(33, true), (333, false)] {
        let mut e = engine(no_ramp());
        e.observe(&established(T0, Tier::T10k, true));
        let mut n = 0usize;
        for day in 0..5u64 {
            for i in 0..150u64 {
                let ts = T0 + day * 24 * HOUR + i * 5 * MIN;
                let r = format!("r-{n}");
                e.observe(&msg(n, ts, &r, Category::Utility));
                let err = n.is_multiple_of(every).then_some("invalid_number");
                e.observe(&delivery(ts + 2 * SECOND, &r, err));
                n += 1;
            }
        }
        let s = standing(&e);
        let hit = s
            .reasons
            .iter()
            .any(|h| h.signal == Signal::InvalidNumberRate7d);
        assert_eq!(
            s.first_flagged.is_some(),
            flagged,
            "1 in {every}: {:?}",
            s.reasons
        );
        assert_eq!(hit, flagged, "1 in {every}");
        assert!(
            !s.reasons
                .iter()
                .any(|h| h.signal == Signal::InvalidNumberRate24h),
            "the day window alone never sees it"
        );
    }
}

#[test]
fn explaining_a_message_changes_nothing_and_names_every_signal() {
    let ramp = Policy::default().signals.new_business_ramp_1h.per_hour as usize;
    let events: Vec<Event> = (0..ramp + 10)
        .map(|i| {
            msg(
                i,
                T0 + i as u64 * 10 * SECOND,
                &format!("r-{}", i % 7),
                Category::Marketing,
            )
        })
        .chain([fb(T0 + 5 * MIN, "r-3", FeedbackKind::OptOut)])
        .collect();
    let mut events = events;
    events.sort_by_key(|e| e.ts());
    let mut plain = engine(Policy::default());
    let mut explained = engine(Policy::default());
    let mut fired_somewhere = false;
    for ev in &events {
        let a = plain.observe(ev);
        let b = explained.observe_explained(ev);
        assert_eq!(a, b.as_ref().map(|(v, _)| v.clone()));
        if let Some((v, readings)) = b {
            let codes: Vec<Signal> = readings.iter().map(|r| r.signal).collect();
            for s in Signal::ALL {
                assert!(codes.contains(&s), "no reading for {s}");
            }
            for r in readings
                .iter()
                .filter(|r| r.signal.scope() == crate::signal::Scope::Message)
            {
                let in_verdict = v.reasons.iter().any(|h| h.signal == r.signal);
                assert_eq!(r.fired, in_verdict, "{r:?} vs {v:?}");
                fired_somewhere |= r.fired;
            }
        }
    }
    assert!(
        fired_somewhere,
        "the scenario exercises the ramp and the opt-out"
    );
}

/// Content signals: what the texts say, with the shipped content heuristics.
mod content {
    use super::*;

    /// A message of `business` with `text`.
    fn text_msg(id: usize, ts: Timestamp, business: &str, text: &str) -> Event {
        Event::Message(Message {
            id: format!("m-{business}-{id}"),
            ts,
            business: business.into(),
            recipient: format!("r-{id}"),
            category: Category::Utility,
            template: None,
            text: text.into(),
        })
    }

    fn established_as(business: &str) -> Event {
        Event::Business(BusinessInfo {
            ts: T0,
            business: business.into(),
            tier: Tier::T100k,
            verified: true,
            created: T0 - 400 * 24 * HOUR,
        })
    }

    fn shipped() -> Engine {
        Engine::new(Policy::default())
    }

    #[test]
    fn a_phishing_link_blocks_the_message_even_for_a_business_in_good_standing() {
        let mut e = shipped();
        e.observe(&established_as("b-bank"));
        let fine = e
            .observe(&text_msg(
                1,
                T0 + MIN,
                "b-bank",
                "Your statement is ready in the app.",
            ))
            .unwrap();
        assert_eq!(fine.action, Action::Allow, "{fine:?}");
        let v = e
            .observe(&text_msg(
                2,
                T0 + 2 * MIN,
                "b-bank",
                "Your account is locked. Verify now at paypa1-secure.com/login",
            ))
            .unwrap();
        assert_eq!(v.action, Action::Block, "{v:?}");
        let hit = v
            .reasons
            .iter()
            .find(|h| h.signal == Signal::PhishingLink)
            .expect("phishing_link");
        assert!(
            hit.detail
                .as_deref()
                .unwrap()
                .contains("lookalike of paypal"),
            "{hit:?}"
        );
        assert_eq!(
            e.standing("b-bank").unwrap().status,
            Status::Active,
            "one message, no suspension"
        );
    }

    #[test]
    fn rules_name_the_ids_that_fired_and_plain_notices_fire_nothing() {
        let mut e = shipped();
        e.observe(&established_as("b-1"));
        let plain = [
            "Your code is 482913. Do not share it with anyone.",
            "Flight BA117 now departs at 18:40 from gate B32. We are sorry for the delay.",
            "Your order #44120 has shipped and will arrive on Thursday.",
        ];
        for (i, t) in plain.iter().enumerate() {
            let v = e
                .observe(&text_msg(i, T0 + i as u64 * MIN, "b-1", t))
                .unwrap();
            assert!(
                v.reasons
                    .iter()
                    .all(|h| h.signal.family() != crate::signal::Family::Content),
                "{t}: {v:?}"
            );
        }
        let v = e
            .observe(&text_msg(
                9,
                T0 + 9 * MIN,
                "b-1",
                "WINNER!! You have won a guaranteed £1000 cash prize. To claim call 09061701461 now. Claim code KL341. Valid 12 hours only.",
            ))
            .unwrap();
        let rules = v
            .reasons
            .iter()
            .find(|h| h.signal == Signal::ContentRules)
            .expect("content_rules");
        assert!(
            rules.detail.as_deref().is_some_and(|d| !d.is_empty()),
            "{rules:?}"
        );
        assert!(
            v.reasons
                .iter()
                .any(|h| h.signal == Signal::ContentClassifier),
            "{v:?}"
        );
        assert_ne!(v.action, Action::Allow);
    }

    #[test]
    fn one_spam_text_from_several_fresh_businesses_is_a_campaign() {
        let mut e = shipped();
        let text = |n: usize| {
            format!(
                "URGENT! You have won a 1 week FREE membership in our £100,000 prize jackpot! Txt the word CLAIM to {n} now. T&C apply"
            )
        };
        let mut last = None;
        for b in 0..5 {
            last = e.observe(&text_msg(
                b,
                T0 + b as u64 * MIN,
                &format!("b-s{b}"),
                &text(80000 + b),
            ));
        }
        let v = last.unwrap();
        let hit = v
            .reasons
            .iter()
            .find(|h| h.signal == Signal::Campaign24h)
            .unwrap_or_else(|| panic!("campaign_24h: {v:?}"));
        assert_eq!(hit.value, 5.0, "five businesses sent it");
        // An established business sending the same words is not judged by campaigns: businesses
        // of a kind share template wording.
        e.observe(&established_as("b-old"));
        let (v, readings) = e
            .observe_explained(&text_msg(9, T0 + 9 * MIN, "b-old", &text(80009)))
            .unwrap();
        assert!(!signals(&v).contains(&Signal::Campaign24h), "{v:?}");
        // Its explanation says so, with the count it did not act on.
        let r = readings
            .iter()
            .find(|r| r.signal == Signal::Campaign24h)
            .unwrap();
        assert_eq!((r.value, r.fired), (6.0, false));
        assert_eq!(
            r.note,
            Some("an established business: campaigns judge young ones only")
        );
    }

    #[test]
    fn a_link_history_counts_once_it_has_both_its_messages_and_its_hours() {
        let policy = Policy::from_toml_overlay(
            "[signals.new_link_domain]\nmin_linked_messages = 5\nmin_hours = 1\n",
        )
        .unwrap();
        let mut e = Engine::new(policy);
        e.observe(&established_as("b-1"));
        let link = |i: usize, at: Timestamp, domain: &str| {
            text_msg(
                i,
                at,
                "b-1",
                &format!("Your order {i} has shipped. Track it at https://{domain}/t/{i}"),
            )
        };
        // Six linked messages in six minutes: enough messages, too few hours.
        for i in 0..6 {
            e.observe(&link(i, T0 + i as u64 * MIN, "shop.example"));
        }
        let v = e.observe(&link(6, T0 + 10 * MIN, "other.example")).unwrap();
        assert!(!signals(&v).contains(&Signal::NewLinkDomain), "{v:?}");
        // An hour after the first linked message, exactly: the history counts.
        let v = e.observe(&link(7, T0 + HOUR, "deals.example")).unwrap();
        assert!(signals(&v).contains(&Signal::NewLinkDomain), "{v:?}");
    }

    #[test]
    fn the_classifier_alone_or_a_phishing_link_alone_flags_the_message() {
        // Rules that cannot reach their line, and a classifier line only certainty reaches
        // (the second business): each message below is flagged by one signal only.
        let policy = |classifier: &str| {
            Policy::from_toml_overlay(&format!(
                "[signals.content_rules]\nthreshold = 0.999999\n\
                 [signals.content_classifier]\nmin_probability = {classifier}\n"
            ))
            .unwrap()
        };
        let flagged = |e: &Engine, b: &str| e.standing(b).unwrap().totals.flagged_content;
        let mut e = Engine::new(policy("0.95"));
        e.observe(&established_as("b-shop"));
        let v = e
            .observe(&text_msg(
                1,
                T0 + MIN,
                "b-shop",
                "URGENT! You have won a 1 week FREE membership in our £100,000 prize jackpot! Txt the word CLAIM to 81010 now",
            ))
            .unwrap();
        assert_eq!(signals(&v), [Signal::ContentClassifier]);
        assert_eq!(flagged(&e, "b-shop"), 1);
        let mut e = Engine::new(policy("1.0"));
        e.observe(&established_as("b-bank"));
        let v = e
            .observe(&text_msg(
                2,
                T0 + 2 * MIN,
                "b-bank",
                "Your account is locked. Verify now at paypa1-secure.com/login",
            ))
            .unwrap();
        assert_eq!(signals(&v), [Signal::PhishingLink]);
        assert_eq!(flagged(&e, "b-bank"), 1);
    }

    #[test]
    fn a_young_business_that_keeps_sending_spam_is_suspended_an_established_one_throttled() {
        let mut e = shipped();
        e.observe(&established_as("b-old"));
        for b in ["b-old", "b-new"] {
            for i in 0..40 {
                e.observe(&text_msg(
                    i,
                    T0 + i as u64 * MIN,
                    b,
                    "Congratulations! You've been selected to receive a £2000 award. To claim call 09050003091 now. Box 95QU",
                ));
            }
        }
        let young = e.standing("b-new").unwrap();
        assert_eq!(young.status, Status::Suspended, "{:?}", young.reasons);
        let old = e.standing("b-old").unwrap();
        assert_eq!(
            old.status,
            Status::Throttled,
            "content alone: {:?}",
            old.reasons
        );
        for s in [young, old] {
            assert!(
                s.reasons
                    .iter()
                    .any(|h| h.signal == Signal::FlaggedContentRate24h)
            );
        }
        // Unless the policy lets content suspend established businesses too.
        let policy =
            Policy::from_toml_overlay("[trust]\ncontent_suspends_established = true\n").unwrap();
        let mut e = Engine::new(policy);
        e.observe(&established_as("b-old"));
        for i in 0..40 {
            e.observe(&text_msg(
                i,
                T0 + i as u64 * MIN,
                "b-old",
                "Congratulations! You've been selected to receive a £2000 award. To claim call 09050003091 now. Box 95QU",
            ));
        }
        assert_eq!(e.standing("b-old").unwrap().status, Status::Suspended);
    }

    #[test]
    fn a_new_domain_counts_once_the_business_has_a_link_history() {
        let policy = Policy::from_toml_overlay(
            "[signals.new_link_domain]\nmin_linked_messages = 5\nmin_hours = 1\n",
        )
        .unwrap();
        let mut e = Engine::new(policy);
        e.observe(&established_as("b-1"));
        let link = |i: usize, domain: &str| {
            text_msg(
                i,
                T0 + i as u64 * 20 * MIN,
                "b-1",
                &format!("Your order {i} has shipped. Track it at https://{domain}/t/{i}"),
            )
        };
        // A new domain before the history is long enough: nothing.
        for i in 0..6 {
            let v = e
                .observe(&link(
                    i,
                    if i == 1 {
                        "other.example"
                    } else {
                        "shop.example"
                    },
                ))
                .unwrap();
            assert!(!signals(&v).contains(&Signal::NewLinkDomain), "{i}: {v:?}");
        }
        let v = e.observe(&link(7, "shop.example")).unwrap();
        assert!(
            !signals(&v).contains(&Signal::NewLinkDomain),
            "known: {v:?}"
        );
        let v = e.observe(&link(8, "deals-now.example")).unwrap();
        let hit = v
            .reasons
            .iter()
            .find(|h| h.signal == Signal::NewLinkDomain)
            .expect("new domain");
        assert_eq!(hit.detail.as_deref(), Some("deals-now.example"));
        assert_eq!(hit.value, 2.0, "two domains linked before");
    }
}

/// A business record whose account was created `age` ms before `ts`.
fn created(ts: Timestamp, age: Millis) -> Event {
    Event::Business(BusinessInfo {
        ts,
        business: "b-1".into(),
        tier: Tier::T10k,
        verified: true,
        created: ts - age,
    })
}

#[test]
fn the_ramp_ends_exactly_its_hours_after_the_account_was_created() {
    // The account was created 72 h (the ramp's hours) before T0. 60 messages in the half hour
    // before: within the ramp.
    let mut e = engine(Policy::default());
    e.observe(&created(T0 - HOUR, 71 * HOUR));
    let v = send(&mut e, T0 - 30 * MIN, 29 * MIN, 60, 0, Category::Utility);
    assert!(v.iter().all(|v| v.reasons.is_empty()), "{:?}", v[59]);
    // The 61st a millisecond before the end of the ramp is over it ...
    let v = e
        .observe(&msg(60, T0 - MS, "r-60", Category::Utility))
        .unwrap();
    assert_eq!(signals(&v), [Signal::NewBusinessRamp1h]);
    assert_eq!((v.reasons[0].value, v.reasons[0].threshold), (61.0, 60.0));
    // ... and the 62nd, at its end, is not: the business is no longer new.
    let v = e.observe(&msg(61, T0, "r-61", Category::Utility)).unwrap();
    assert!(v.reasons.is_empty(), "{v:?}");
    // Its explanation says why.
    let (_, readings) = e
        .observe_explained(&msg(62, T0 + MS, "r-62", Category::Utility))
        .unwrap();
    let ramp = readings
        .iter()
        .find(|r| r.signal == Signal::NewBusinessRamp1h)
        .unwrap();
    assert_eq!(ramp.note, Some("not a new business"));
}

/// The tier reading of a message to `recipient` at `ts`.
fn tier_reading(e: &mut Engine, id: usize, ts: Timestamp, recipient: &str) -> Reading {
    let (_, readings) = e
        .observe_explained(&msg(id, ts, recipient, Category::Utility))
        .unwrap();
    readings
        .into_iter()
        .find(|r| r.signal == Signal::TierLimit24h)
        .unwrap()
}

#[test]
fn the_service_window_is_open_for_exactly_its_hours_after_a_reply() {
    let mut e = engine(no_ramp());
    e.observe(&established(T0, Tier::T250, false));
    e.observe(&fb(T0, "r-1", FeedbackKind::Reply));
    let window = Policy::default().tiers.service_window_hours * HOUR;
    let inside = tier_reading(&mut e, 1, T0 + window - MS, "r-1");
    assert_eq!(
        inside.note,
        Some("inside the customer-service window: not counted")
    );
    // At the window's end the business starts the conversation, and the recipient is counted.
    let outside = tier_reading(&mut e, 2, T0 + window, "r-1");
    assert_eq!((outside.note, outside.value), (None, 0.0));
    let again = tier_reading(&mut e, 3, T0 + window + MS, "r-1");
    assert_eq!(
        (again.note, again.value),
        (Some("recipient already counted in the moving 24 h"), 1.0)
    );
}

#[test]
fn a_recipient_counted_more_than_a_day_ago_is_counted_again() {
    let mut e = engine(no_ramp());
    e.observe(&established(T0, Tier::T250, false));
    send(&mut e, T0 + HOUR, MIN, 1, 0, Category::Utility); // r-0, counted at T0 + 1 h
    // A day later the tier is full with 250 others; r-0's count has left the moving 24 h.
    let v = send(&mut e, T0 + 26 * HOUR, HOUR, 250, 1, Category::Utility);
    assert!(v.iter().all(|v| v.action == Action::Allow));
    let r = tier_reading(&mut e, 999, T0 + 27 * HOUR, "r-0");
    assert_eq!((r.fired, r.value, r.note), (true, 250.0, None));
}

#[test]
fn feedback_and_receipts_are_counted_one_by_one() {
    let mut e = engine(no_ramp());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, MIN, 4, 0, Category::Marketing);
    for (i, kind) in [
        FeedbackKind::Block,
        FeedbackKind::Block,
        FeedbackKind::Report,
        FeedbackKind::OptOut,
        FeedbackKind::Read,
        FeedbackKind::Read,
        FeedbackKind::Reply,
    ]
    .into_iter()
    .enumerate()
    {
        e.observe(&fb(T0 + 2 * MIN + i as u64 * MS, &format!("r-{i}"), kind));
    }
    e.observe(&delivery(T0 + 3 * MIN, "r-0", None));
    e.observe(&delivery(T0 + 3 * MIN, "r-1", Some("expired")));
    e.observe(&delivery(T0 + 3 * MIN, "r-2", Some("invalid_number")));
    e.observe(&delivery(T0 + 3 * MIN, "r-3", Some("invalid_number")));
    let t = standing(&e).totals;
    assert_eq!(
        (t.messages, t.marketing, t.blocks, t.reports, t.opt_outs),
        (4, 4, 2, 1, 1)
    );
    assert_eq!((t.reads, t.replies), (2, 1));
    assert_eq!((t.delivered, t.failed, t.invalid_numbers), (1, 3, 2));
    assert_eq!((t.allowed, t.throttled, t.held, t.blocked), (4, 0, 0, 0));
    let r = standing(&e).ratios;
    // Only a failure named invalid_number is an invalid number.
    assert_eq!(
        (
            r.invalid_number_rate_24h.count,
            r.invalid_number_rate_24h.of
        ),
        (2, 4)
    );
    assert_eq!(
        (r.failed_delivery_rate_24h.count, r.complaint_rate_24h.count),
        (3, 3)
    );
}

#[test]
fn readings_say_what_they_measured_and_why_they_cannot_judge() {
    let mut e = engine(no_ramp());
    e.observe(&established(T0, Tier::T10k, true));
    // Nothing sent yet: every rate's window is empty.
    let r = reading(&e, Signal::ComplaintRate24h);
    assert_eq!((r.value, r.note), (0.0, Some("nothing in the window yet")));
    send(&mut e, T0, MIN, 4, 0, Category::Utility);
    e.observe(&fb(T0 + 5 * MIN, "r-0", FeedbackKind::Block));
    // One complaint among four recipients: a value, but too few to judge.
    let r = reading(&e, Signal::ComplaintRate24h);
    assert_eq!((r.value, r.count, r.of), (0.25, 1, 4));
    assert_eq!(r.note, Some("too few events to judge yet (min_count)"));
    // Reads over delivered: three reads of four deliveries.
    for i in 0..4 {
        e.observe(&delivery(T0 + 6 * MIN, &format!("r-{i}"), None));
    }
    for i in 0..3 {
        e.observe(&fb(T0 + 7 * MIN, &format!("r-{i}"), FeedbackKind::Read));
    }
    let r = reading(&e, Signal::LowReadRate7d);
    assert_eq!((r.value, r.count, r.of), (0.75, 3, 4));
    // A utility message is not judged by the marketing signals, and its explanation says so.
    let (_, readings) = e
        .observe_explained(&msg(9, T0 + 8 * MIN, "r-9", Category::Utility))
        .unwrap();
    let note = |s: Signal| readings.iter().find(|r| r.signal == s).unwrap().note;
    assert_eq!(note(Signal::OptedOut), Some("not marketing"));
    assert_eq!(note(Signal::RecipientFatigue24h), Some("not marketing"));
    let (_, readings) = e
        .observe_explained(&msg(10, T0 + 9 * MIN, "r-10", Category::Marketing))
        .unwrap();
    let note = |s: Signal| readings.iter().find(|r| r.signal == s).unwrap().note;
    assert_eq!(note(Signal::OptedOut), None);
    assert_eq!(note(Signal::RecipientFatigue24h), None);
}

#[test]
fn the_daily_sweep_forgets_quiet_recipients_but_not_opt_outs() {
    let mut e = engine(no_ramp());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, MIN, 2, 1, Category::Marketing); // r-1, r-2
    e.observe(&fb(T0 + MIN, "r-2", FeedbackKind::OptOut));
    send(&mut e, T0 + 6 * 24 * HOUR, MIN, 1, 3, Category::Marketing); // r-3
    assert_eq!(e.recipients_held().0, 3);
    // Eight days on, the sweep forgets r-1 (nothing in the week window) and keeps r-2, whose
    // opt-out still holds, and r-3.
    let v = send(&mut e, T0 + 8 * 24 * HOUR, MIN, 1, 4, Category::Marketing); // r-4
    assert!(v[0].reasons.is_empty());
    assert_eq!(e.recipients_held().0, 3);
    let v = e
        .observe(&msg(
            9,
            T0 + 8 * 24 * HOUR + MIN,
            "r-2",
            Category::Marketing,
        ))
        .unwrap();
    assert_eq!(signals(&v), [Signal::OptedOut]);
}

#[test]
fn a_status_change_names_the_feedback_that_tipped_it() {
    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, 6 * HOUR, 3000, 0, Category::Marketing);
    for i in 0..30 {
        e.observe(&fb(
            T0 + 6 * HOUR + i * MIN,
            &format!("r-{i}"),
            FeedbackKind::Report,
        ));
    }
    let s = standing(&e);
    let first = &s.changes[0];
    assert_eq!(first.from, Status::Active);
    let tipped = match &first.trigger {
        Trigger::Feedback {
            kind: FeedbackKind::Report,
            from,
        } => from.strip_prefix("r-"),
        _ => None,
    };
    assert!(
        tipped.is_some_and(|n| n.parse::<u32>().is_ok()),
        "{}",
        first.trigger
    );
}

#[test]
fn history_keeps_hours_in_order_when_an_event_arrives_late() {
    let mut e = engine(no_ramp());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, MIN, 1, 0, Category::Utility);
    send(&mut e, T0 + 2 * HOUR, MIN, 1, 1, Category::Utility);
    // Late: an hour between the two.
    send(&mut e, T0 + HOUR + 5 * MIN, MIN, 2, 2, Category::Utility);
    let hours: Vec<_> = standing(&e)
        .history
        .iter()
        .map(|h| (h.hour.saturating_since(T0), h.messages))
        .collect();
    assert_eq!(hours, [(Millis::ZERO, 1), (HOUR, 2), (2 * HOUR, 1)]);
}

mod abuse;
mod bookkeeping;
mod brigading;
mod templates;
