//! Messages held or blocked for abuse feed the business's standing: a campaign sender whose every
//! message is held is throttled, then suspended.

use super::*;

/// Content signals that act on nothing and weigh nothing alone, so what acts is the campaign.
fn campaign_only() -> Policy {
    Policy::from_toml_overlay(
        "[signals.content_classifier]\naction = \"none\"\nweight = 0.0\n\
         [signals.content_rules]\nweight = 0.0\n\
         [signals.obfuscation]\nweight = 0.0\n\
         [signals.flagged_content_rate_24h]\naction = \"none\"\nescalate_action = \"none\"\nweight = 0.0\n",
    )
    .unwrap()
}

fn spam(id: usize, ts: Timestamp, business: &str) -> Event {
    Event::Message(Message {
        id: format!("m-{business}-{id}"),
        ts,
        business: business.into(),
        recipient: format!("r-{business}-{id}"),
        category: Category::Marketing,
        template: None,
        text: format!(
            "URGENT! You have won a 1 week FREE membership in our £100,000 prize jackpot! Txt \
             the word CLAIM to {} now. T&C apply",
            80000 + id
        ),
    })
}

fn abuse_reason(s: &Standing) -> Option<&Hit> {
    s.reasons
        .iter()
        .find(|h| h.signal == Signal::AbuseHoldRate24h)
}

#[test]
fn a_campaign_sender_whose_messages_are_held_gets_a_standing() {
    let mut e = Engine::new(campaign_only());
    // Four fresh businesses start the campaign; the fifth's every message is held for it.
    for b in 0..4 {
        e.observe(&spam(0, T0 + b * MIN, &format!("b-s{b}")));
    }
    let mut statuses = Vec::new();
    for i in 0..60 {
        let v = e
            .observe(&spam(i, T0 + 10 * MIN + i as u64 * MIN, "b-s4"))
            .unwrap();
        assert_ne!(v.action, Action::Allow, "{v:?}");
        let s = e.standing("b-s4").unwrap();
        if statuses.last() != Some(&s.status) {
            statuses.push(s.status);
        }
    }
    // Throttled while it was probable, suspended once near certain.
    assert_eq!(
        statuses,
        [Status::Active, Status::Throttled, Status::Suspended]
    );
    let s = e.standing("b-s4").unwrap();
    assert!(abuse_reason(&s).is_some(), "{:?}", s.reasons);
    // Read now, it counts all 60 (the standing was last evaluated before the 60th was held).
    let now = e
        .readings("b-s4")
        .unwrap()
        .into_iter()
        .find(|r| r.signal == Signal::AbuseHoldRate24h)
        .unwrap();
    assert_eq!((now.count, now.of), (60, 60));
    assert_eq!(now.detail.as_deref(), Some("campaign_24h 60"));
    assert_eq!(s.quality, Quality::Low);
    assert!(
        s.changes.iter().all(|c| c
            .reasons
            .iter()
            .any(|h| h.signal == Signal::AbuseHoldRate24h)),
        "{:?}",
        s.changes
    );
}

#[test]
fn marketing_to_opted_out_recipients_counts_and_a_few_do_not_act() {
    let mut e = engine(Policy::default());
    e.observe(&established(T0, Tier::T10k, true));
    send(&mut e, T0, HOUR, 200, 0, Category::Marketing);
    for i in 0..40 {
        e.observe(&fb(T0 + HOUR, &format!("r-{i}"), FeedbackKind::OptOut));
    }
    // Three blocked messages to opted-out recipients among 200: no standing.
    for i in 0..3 {
        let v = e
            .observe(&msg(
                1000 + i,
                T0 + 2 * HOUR,
                &format!("r-{i}"),
                Category::Marketing,
            ))
            .unwrap();
        assert!(signals(&v).contains(&Signal::OptedOut));
    }
    let s = standing(&e);
    assert!(abuse_reason(&s).is_none(), "{:?}", s.reasons);
    let r = reading(&e, Signal::AbuseHoldRate24h);
    assert_eq!((r.count, r.of, r.fired), (3, 203, false), "not yet: {r:?}");
    assert_eq!(r.detail.as_deref(), Some("opted_out 3"));
    // Marketing to all 40 of them again and again: the business is acted on.
    for round in 0..3 {
        for i in 0..40 {
            e.observe(&msg(
                2000 + round * 40 + i,
                T0 + 3 * HOUR + round as u64 * MIN,
                &format!("r-{i}"),
                Category::Marketing,
            ));
        }
    }
    let s = standing(&e);
    assert!(abuse_reason(&s).is_some(), "{:?}", s.reasons);
    assert_ne!(s.status, Status::Active);
    let r = reading(&e, Signal::AbuseHoldRate24h);
    assert_eq!((r.count, r.fired), (123, true));
    assert_eq!(r.detail.as_deref(), Some("opted_out 123"));
}
