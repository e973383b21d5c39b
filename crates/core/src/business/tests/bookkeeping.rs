//! What a business's state keeps, and when it looks again: totals and hours by action, the
//! length of its hour history, the daily sweep, the evaluation cadence, the tier ladder's clocks,
//! the suspension's minimum, the first flag, youth, and settling at a later clock.

use super::*;
use crate::time::{DAY, SECOND, WEEK};

fn info(ts: Timestamp, tier: Tier, verified: bool, created: Timestamp) -> BusinessInfo {
    BusinessInfo {
        ts,
        business: "b-1".into(),
        tier,
        verified,
        created,
    }
}

/// A business the platform has known for over a year.
fn known(ts: Timestamp, tier: Tier, policy: &Policy) -> BusinessState {
    let mut st = BusinessState::new(ts);
    st.on_business(&info(ts, tier, true, ts - 400 * DAY), policy);
    st
}

fn message(id: usize, ts: Timestamp, recipient: &str) -> Message {
    Message {
        id: format!("m-{id}"),
        ts,
        business: "b-1".into(),
        recipient: recipient.into(),
        category: Category::Utility,
        template: None,
        text: "hello".into(),
    }
}

fn send_one(st: &mut BusinessState, id: usize, ts: Timestamp, policy: &Policy) -> Verdict {
    let r = format!("r-{id}");
    let m = message(id, ts, &r);
    st.on_message(
        &m,
        recipient_key(&r),
        MessageContext::default(),
        None,
        policy,
    )
}

/// `n` deliveries at `ts`, the last `failed` of them failed with `error`.
fn deliveries(st: &mut BusinessState, ts: Timestamp, n: usize, failed: usize, error: &str) {
    let policy = Policy::default();
    for i in 0..n {
        let failing = i >= n - failed;
        st.on_delivery(
            &Delivery {
                ts,
                business: "b-1".into(),
                recipient: format!("r-{i}"),
                message: format!("m-{i}"),
                status: if failing {
                    DeliveryStatus::Failed
                } else {
                    DeliveryStatus::Delivered
                },
                error: failing.then(|| error.to_owned()),
            },
            recipient_key(&format!("r-{i}")),
            &policy,
        );
    }
}

#[test]
fn each_action_is_counted_in_the_totals_and_in_its_hour() {
    use Action::{Allow, Block, Hold, Throttle};
    let mut st = BusinessState::new(T0);
    let actions = [
        Allow, Allow, Throttle, Hold, Allow, Hold, Block, Block, Allow, Block,
    ];
    for (i, &action) in actions.iter().enumerate() {
        st.record(
            &message(i, T0 + i as u64 * MIN, "r"),
            0,
            &Recipient::default(),
            false,
            action,
        );
    }
    let t = st.totals;
    assert_eq!(
        (t.allowed, t.throttled, t.held, t.blocked),
        (4, 1, 2, 3),
        "{t:?}"
    );
    let h = &st.history[0];
    assert_eq!(st.history.len(), 1);
    assert_eq!(
        (h.messages, h.allowed, h.throttled, h.held, h.blocked),
        (10, 4, 1, 2, 3)
    );
    // The first action is the first message not simply allowed, and it stays the first.
    let first = st.first_action.as_ref().unwrap();
    assert_eq!(
        (first.message.as_str(), first.action, first.allowed_before),
        ("m-2", Throttle, 2)
    );
}

#[test]
fn the_hour_history_keeps_five_weeks() {
    let mut st = BusinessState::new(T0);
    let five_weeks = 5 * 7 * 24;
    for h in 0..=five_weeks {
        st.hour_entry(T0 + h * HOUR).messages += 1;
    }
    assert_eq!(st.history.len() as u64, five_weeks);
    assert_eq!(st.history.front().unwrap().hour, T0 + HOUR);
    assert_eq!(st.history.back().unwrap().hour, T0 + five_weeks * HOUR);
    // A late event inside the kept hours lands in its own hour, in order.
    st.hour_entry(T0 + 3 * HOUR + 5 * MIN).messages += 1;
    assert_eq!(st.history.len() as u64, five_weeks);
    assert_eq!(st.history[2].hour, T0 + 3 * HOUR);
    assert_eq!(st.history[2].messages, 2);
}

#[test]
fn the_clock_is_the_latest_event_time() {
    let mut st = BusinessState::new(T0);
    assert_eq!(st.now(), T0);
    deliveries(&mut st, T0 + 5 * SECOND, 1, 0, "");
    assert_eq!(st.now(), T0 + 5 * SECOND);
    deliveries(&mut st, T0 + SECOND, 1, 0, "");
    assert_eq!(st.now(), T0 + 5 * SECOND);
}

#[test]
fn the_sweep_keeps_a_recipient_until_the_week_window_and_its_bucket_have_passed() {
    let policy = Policy::default();
    let edge = WEEK + WEEK / 60;
    let held = |gap: Millis| {
        let mut st = BusinessState::new(T0);
        send_one(&mut st, 0, T0, &policy);
        send_one(&mut st, 1, T0 + gap, &policy);
        st.recipients_held()
    };
    assert_eq!(held(edge), 2);
    assert_eq!(held(edge + MS), 1);
}

#[test]
fn the_sweep_runs_once_a_day_of_event_time() {
    let policy = Policy::default();
    let mut st = BusinessState::new(T0);
    send_one(&mut st, 0, T0, &policy);
    // A sweep at 6.5 days keeps r-0 (inside the week).
    send_one(&mut st, 1, T0 + 6 * DAY + 12 * HOUR, &policy);
    // r-0 is past the horizon now, but the last sweep was less than a day ago.
    send_one(&mut st, 2, T0 + WEEK + WEEK / 60 + MS, &policy);
    assert_eq!(st.recipients_held(), 3);
    // A day after the last sweep, the next one forgets r-0.
    send_one(&mut st, 3, T0 + 7 * DAY + 12 * HOUR, &policy);
    assert_eq!(st.recipients_held(), 3);
    assert!(!st.recipients.contains_key(&recipient_key("r-0")));
}

#[test]
fn a_business_record_sets_the_tier_and_restarts_its_clock_only_when_it_changes() {
    let policy = Policy::default();
    let mut st = BusinessState::new(T0);
    assert_eq!(st.tier(), Tier::T250);
    st.on_business(&info(T0, Tier::T10k, true, T0 - 400 * DAY), &policy);
    assert_eq!((st.tier(), st.tier_since), (Tier::T10k, T0));
    st.on_business(&info(T0 + 20 * HOUR, Tier::T10k, true, T0), &policy);
    assert_eq!((st.tier(), st.tier_since), (Tier::T10k, T0));
    st.on_business(&info(T0 + 30 * HOUR, Tier::T2k, true, T0), &policy);
    assert_eq!((st.tier(), st.tier_since), (Tier::T2k, T0 + 30 * HOUR));
}

#[test]
fn the_standing_is_looked_at_again_after_eight_messages_or_a_minute() {
    let policy = Policy::default();
    let mut st = known(T0, Tier::T10k, &policy);
    assert_eq!(st.last_eval, T0);
    for i in 0..7 {
        send_one(&mut st, i, T0 + (i as u64 + 1) * SECOND, &policy);
        assert_eq!(st.last_eval, T0, "message {i}");
    }
    send_one(&mut st, 7, T0 + 8 * SECOND, &policy);
    assert_eq!(st.last_eval, T0 + 8 * SECOND);
    // One message 1 ms short of a minute later: not yet; one a minute after: yes.
    send_one(&mut st, 8, T0 + 68 * SECOND - MS, &policy);
    assert_eq!(st.last_eval, T0 + 8 * SECOND);
    send_one(&mut st, 9, T0 + 68 * SECOND, &policy);
    assert_eq!(st.last_eval, T0 + 68 * SECOND);
}

#[test]
fn a_busy_business_is_looked_at_every_thirty_second_of_its_daily_recipients() {
    // The README's rule: every max(recipients_24h / 32, 8) messages, here all within a minute.
    let policy = Policy::default();
    let mut st = known(T0, Tier::T10k, &policy);
    let mut got = Vec::new();
    for n in 1..=600u64 {
        let ts = T0 + n * 50 * MS;
        send_one(&mut st, n as usize, ts, &policy);
        if st.last_eval == ts {
            got.push(n);
        }
    }
    let mut want = Vec::new();
    let mut since = 0;
    for n in 1..=600u64 {
        since += 1;
        if since >= (n / 32).max(8) {
            want.push(n);
            since = 0;
        }
    }
    assert_eq!(got, want);
    assert_eq!(want.windows(2).last().map(|w| w[1] - w[0]), Some(18));
}

#[test]
fn settling_moves_the_clock_but_not_the_last_event() {
    let policy = Policy::default();
    let mut st = known(T0, Tier::T10k, &policy);
    send_one(&mut st, 0, T0 + MIN, &policy);
    st.settle(T0 + 2 * DAY, &policy);
    assert_eq!((st.now(), st.last_eval), (T0 + 2 * DAY, T0 + 2 * DAY));
    let s = st.standing(&policy);
    assert_eq!(s.last_seen, T0 + MIN);
    assert_eq!((s.volume.messages_24h, s.volume.messages_7d), (0, 1));
    // Settling at an earlier time leaves the clock where it is.
    st.settle(T0 + DAY, &policy);
    assert_eq!(st.now(), T0 + 2 * DAY);
    assert_eq!(st.standing(&policy).volume.messages_7d, 1);
}

#[test]
fn an_account_is_young_until_young_days_after_it_was_created() {
    let policy = Policy::default();
    let young_days = policy.trust.young_days;
    assert_eq!(young_days, 30, "the cases below are worked out for 30 days");
    for (age, young) in [
        (3 * DAY, true),
        (30 * DAY - MS, true),
        (30 * DAY, false),
        (400 * DAY, false),
    ] {
        let mut st = BusinessState::new(T0);
        st.on_business(&info(T0, Tier::T10k, true, T0 - age), &policy);
        assert_eq!(st.standing(&policy).young, young, "age {age:?}");
        let scale = if young {
            policy.trust.young_prior_scale
        } else {
            1.0
        };
        assert_eq!(st.prior_scale(&policy), scale, "age {age:?}");
    }
}

#[test]
fn a_suspension_stands_exactly_suspend_hours() {
    let policy = Policy::default();
    let hold = policy.status.suspend_hours * HOUR;
    let mut st = BusinessState::new(T0);
    // Suspended at T0 with nothing firing since: only the minimum keeps it.
    st.status = Status::Suspended;
    st.status_since = T0;
    st.settle(T0 + hold - MS, &policy);
    assert_eq!(st.status(), Status::Suspended);
    st.settle(T0 + hold, &policy);
    assert_eq!(st.status(), Status::Active);
    let change = st.changes.last().unwrap();
    assert_eq!((change.ts, change.from), (T0 + hold, Status::Suspended));
}

#[test]
fn the_first_flag_is_the_first_time_it_was_throttled() {
    let policy = Policy::default();
    let mut st = known(T0, Tier::T10k, &policy);
    deliveries(&mut st, T0 + HOUR, 100, 50, "unreachable");
    assert_eq!(st.status(), Status::Throttled);
    st.settle(T0 + 3 * DAY, &policy);
    assert_eq!(st.status(), Status::Active);
    deliveries(&mut st, T0 + 3 * DAY + HOUR, 100, 50, "unreachable");
    let s = st.standing(&policy);
    assert_eq!(s.status, Status::Throttled);
    let stamps: Vec<_> = s
        .changes
        .iter()
        .map(|c| (c.ts.saturating_since(T0), c.to))
        .collect();
    assert_eq!(
        stamps,
        [
            (HOUR, Status::Throttled),
            (3 * DAY, Status::Active),
            (3 * DAY + HOUR, Status::Throttled)
        ]
    );
    assert_eq!(s.first_flagged, Some(T0 + HOUR));
}

#[test]
fn low_quality_moves_the_tier_down_after_downgrade_after_hours() {
    let policy = Policy::from_toml_overlay("[tiers]\ndowngrade_after_hours = 48\n").unwrap();
    let mut st = known(T0, Tier::T10k, &policy);
    let s = T0 + HOUR;
    // 40 invalid numbers in 100 deliveries: low quality from `s` for the week.
    deliveries(&mut st, s, 100, 40, "invalid_number");
    assert_eq!(st.quality, Quality::Low);
    st.settle(s + 48 * HOUR - MS, &policy);
    assert_eq!(st.tier(), Tier::T10k);
    st.settle(s + 48 * HOUR, &policy);
    assert_eq!((st.tier(), st.tier_since), (Tier::T2k, s + 48 * HOUR));
    // The next step down needs another 48 hours at low quality.
    st.settle(s + 48 * HOUR + MS, &policy);
    assert_eq!(st.tier(), Tier::T2k);
}

#[test]
fn the_tier_goes_up_once_half_its_limit_is_used_and_it_has_held_it_a_day() {
    let policy = Policy::default();
    assert_eq!(policy.tiers.min_hours_at_tier, 24);
    let climbed = |recipients: usize, at: Timestamp| {
        let mut st = known(T0, Tier::T250, &policy);
        for i in 0..recipients {
            let v = send_one(&mut st, i, T0 + HOUR + i as u64 * SECOND, &policy);
            assert_eq!(v.action, Action::Allow);
        }
        st.settle(at, &policy);
        st.tier()
    };
    // Half of 250 is 125 unique recipients in 7 days.
    assert_eq!(climbed(125, T0 + 24 * HOUR - MS), Tier::T250);
    assert_eq!(climbed(125, T0 + 24 * HOUR), Tier::T2k);
    assert_eq!(climbed(124, T0 + 30 * HOUR), Tier::T250);
}

#[test]
fn a_suspended_business_reports_what_it_was_suspended_for_once() {
    let mut e = suspended_by_reports();
    let unique = |s: &Standing| {
        let signals: Vec<Signal> = s.reasons.iter().map(|h| h.signal).collect();
        assert!(signals.windows(2).all(|w| w[0] < w[1]), "{signals:?}");
        signals
    };
    let s = standing(&e);
    assert_eq!(s.status, Status::Suspended);
    assert!(unique(&s).contains(&Signal::ComplaintRate24h));
    // Two days on the 24-h rate no longer fires, but the suspension it caused still stands, and
    // the report says why.
    send(&mut e, T0 + 50 * HOUR, MIN, 1, 9000, Category::Marketing);
    let s = standing(&e);
    assert_eq!(s.status, Status::Suspended);
    let now = e.readings("b-1").unwrap();
    assert!(
        now.iter()
            .any(|r| r.signal == Signal::ComplaintRate24h && !r.fired)
    );
    assert!(unique(&s).contains(&Signal::ComplaintRate24h));
}
