//! Template quality and pausing: a template that turns red is paused 3 h, then 6 h, then
//! disabled; its messages are blocked meanwhile; the business's other templates flow.

use super::*;
use crate::signals::templates::TemplateQuality;
use crate::time::DAY;

/// The business-level complaint rates acting on nothing and weighing nothing, so that what
/// these tests see is the templates' doing; `more` is laid over that.
fn templates_only_and(more: &str) -> Policy {
    let mut overlay = String::new();
    for rate in ["complaint_rate_24h", "complaint_rate_7d"] {
        overlay += &format!(
            "[signals.{rate}]\naction = \"none\"\nescalate_action = \"none\"\nweight = 0.0\n"
        );
    }
    overlay += "[signals.complaint_warn_7d]\nweight = 0.0\n";
    Policy::from_toml_overlay(&(overlay + more)).unwrap()
}

fn templates_only() -> Policy {
    templates_only_and("")
}

fn with_template(id: usize, ts: Timestamp, recipient: &str, template: &str) -> Event {
    let Event::Message(mut m) = msg(id, ts, recipient, Category::Marketing) else {
        unreachable!()
    };
    m.template = Some(template.into());
    Event::Message(m)
}

/// Sends `n` messages with `template` to `r-{offset + i}`, one a second from `start`.
fn send_with(
    e: &mut Engine,
    start: Timestamp,
    n: usize,
    offset: usize,
    template: &str,
) -> Vec<Verdict> {
    (0..n)
        .filter_map(|i| {
            let id = offset + i;
            e.observe(&with_template(
                id,
                start + i as u64 * SECOND,
                &format!("r-{id}"),
                template,
            ))
        })
        .collect()
}

/// Reports from `r-{offset}` .. `r-{offset + n - 1}` at `ts`.
fn reports(e: &mut Engine, ts: Timestamp, n: usize, offset: usize) {
    for i in 0..n {
        e.observe(&fb(ts, &format!("r-{}", offset + i), FeedbackKind::Report));
    }
}

fn template(e: &Engine, id: &str) -> crate::signals::templates::TemplateStanding {
    standing(e)
        .templates
        .into_iter()
        .find(|t| t.template == id)
        .unwrap()
}

/// One message of `template` to a fresh recipient at `ts`.
fn one(e: &mut Engine, ts: Timestamp, id: usize, template: &str) -> Verdict {
    e.observe(&with_template(id, ts, &format!("r-{id}"), template))
        .unwrap()
}

#[test]
fn a_red_template_is_paused_then_paused_longer_then_disabled() {
    let mut e = engine(templates_only());
    e.observe(&established(T0, Tier::T100k, true));
    send_with(&mut e, T0, 300, 0, "bad");
    send_with(&mut e, T0, 300, 1000, "good");
    // 20 of the 300 recipients of `bad` report it: far above 1%.
    let t1 = T0 + HOUR;
    reports(&mut e, t1, 20, 0);
    let bad = template(&e, "bad");
    assert_eq!((bad.state, bad.pauses), ("paused", 1), "{bad:?}");
    assert_eq!(bad.paused_until, Some(t1 + 3 * HOUR));
    assert_eq!(template(&e, "good").state, "active");

    // During the pause: `bad` is blocked with its reason, `good` flows.
    let v = one(&mut e, t1 + 3 * HOUR - MS, 5000, "bad");
    assert_eq!(v.action, Action::Block);
    let paused = v
        .reasons
        .iter()
        .find(|h| h.signal == Signal::TemplatePaused);
    assert_eq!(
        paused.and_then(|h| h.detail.as_deref()),
        Some("bad"),
        "{v:?}"
    );
    assert_eq!(
        one(&mut e, t1 + 2 * HOUR, 5001, "good").action,
        Action::Allow
    );
    // At its end exactly, it is open again, judged afresh.
    assert_eq!(
        one(&mut e, t1 + 3 * HOUR, 5002, "bad").action,
        Action::Allow
    );
    let bad = template(&e, "bad");
    assert_eq!((bad.state, bad.complaints_7d), ("active", 0));
    assert_eq!(bad.quality, TemplateQuality::Green);

    // Red again: 6 h.
    let t2 = t1 + 4 * HOUR;
    send_with(&mut e, t2, 300, 2000, "bad");
    reports(&mut e, t2 + HOUR, 20, 2000);
    let bad = template(&e, "bad");
    assert_eq!(bad.pauses, 2);
    assert_eq!(bad.paused_until, Some(t2 + HOUR + 6 * HOUR));

    // And a third time: disabled for good.
    let t3 = t2 + 8 * HOUR;
    send_with(&mut e, t3, 300, 3000, "bad");
    reports(&mut e, t3 + HOUR, 20, 3000);
    let bad = template(&e, "bad");
    assert_eq!((bad.state, bad.disabled_at), ("disabled", Some(t3 + HOUR)));
    let v = one(&mut e, t3 + 30 * DAY, 5003, "bad");
    assert!(signals(&v).contains(&Signal::TemplateDisabled), "{v:?}");
    assert_eq!(v.action, Action::Block);
    assert_eq!(
        one(&mut e, t3 + 30 * DAY, 5004, "good").action,
        Action::Allow
    );
    assert_eq!(standing(&e).status, Status::Active);
}

#[test]
fn a_few_complaints_make_a_template_yellow_not_red() {
    let mut e = engine(templates_only());
    e.observe(&established(T0, Tier::T100k, true));
    send_with(&mut e, T0, 2000, 0, "promo");
    // 12 in 2,000 (0.6%): above the yellow line, not credibly above the red one.
    reports(&mut e, T0 + HOUR, 12, 0);
    let t = template(&e, "promo");
    assert_eq!((t.quality, t.state), (TemplateQuality::Yellow, "active"));
    assert_eq!((t.sent_7d, t.complaints_7d), (2000, 12));
    // Four complaints are too few to judge.
    let mut e = engine(templates_only());
    send_with(&mut e, T0, 20, 0, "promo");
    reports(&mut e, T0 + HOUR, 4, 0);
    assert_eq!(template(&e, "promo").quality, TemplateQuality::Green);
}

#[test]
fn a_template_nobody_reads_is_yellow() {
    let mut e = engine(templates_only());
    e.observe(&established(T0, Tier::T100k, true));
    send_with(&mut e, T0, 400, 0, "digest");
    for i in 0..400 {
        e.observe(&delivery(T0 + HOUR, &format!("r-{i}"), None));
    }
    for i in 0..10 {
        e.observe(&fb(T0 + HOUR, &format!("r-{i}"), FeedbackKind::Read));
    }
    let t = template(&e, "digest");
    assert_eq!((t.delivered_7d, t.reads_7d), (400, 10));
    assert_eq!(t.quality, TemplateQuality::Yellow);
    // Read by half its recipients: green.
    for i in 10..200 {
        e.observe(&fb(T0 + HOUR, &format!("r-{i}"), FeedbackKind::Read));
    }
    assert_eq!(template(&e, "digest").quality, TemplateQuality::Green);
}

#[test]
fn feedback_goes_to_the_template_of_the_latest_message_that_went_out() {
    let mut e = engine(templates_only());
    e.observe(&established(T0, Tier::T100k, true));
    send_with(&mut e, T0, 300, 0, "old");
    // The same recipients then get `new`: their complaints are about `new`.
    send_with(&mut e, T0 + HOUR, 300, 0, "new");
    reports(&mut e, T0 + 2 * HOUR, 20, 0);
    assert_eq!(template(&e, "new").pauses, 1);
    let old = template(&e, "old");
    assert_eq!((old.complaints, old.pauses), (0, 0));
    // The reports that came after the pause began are about messages sent before it: counted in
    // the template's lifetime, not in its judgement after the pause.
    assert_eq!(template(&e, "new").complaints_7d, 0);
    // A message of the paused `new` is blocked and does not go out: a complaint after it is
    // still about the one that did.
    one(&mut e, T0 + 2 * HOUR + MIN, 0, "new");
    reports(&mut e, T0 + 2 * HOUR + 2 * MIN, 1, 0);
    let new = template(&e, "new");
    assert_eq!((new.complaints, new.complaints_7d), (21, 0));
    // Complaints from strangers reach no template.
    reports(&mut e, T0 + 2 * HOUR, 50, 90_000);
    assert_eq!(template(&e, "old").complaints, 0);
    assert_eq!(template(&e, "new").complaints, 21);
}

#[test]
fn blocked_messages_of_a_paused_template_do_not_use_the_tier() {
    let mut e = engine(templates_only());
    e.observe(&established(T0, Tier::T2k, true));
    send_with(&mut e, T0, 300, 0, "bad");
    reports(&mut e, T0 + HOUR, 20, 0);
    let used = standing(&e).volume.tier_recipients_24h;
    let v = send_with(&mut e, T0 + HOUR + MIN, 100, 10_000, "bad");
    assert!(v.iter().all(|v| v.action == Action::Block));
    assert_eq!(standing(&e).volume.tier_recipients_24h, used);
}

#[test]
fn templates_unused_for_a_week_are_forgotten_unless_disabled() {
    let mut e = engine(templates_only_and("[templates]\npause_hours = []\n"));
    e.observe(&established(T0, Tier::T100k, true));
    send_with(&mut e, T0, 300, 0, "bad");
    send_with(&mut e, T0, 10, 1000, "once");
    reports(&mut e, T0 + HOUR, 20, 0);
    // No pauses allowed: red disables at once.
    assert_eq!(template(&e, "bad").state, "disabled");
    send_with(&mut e, T0 + 9 * DAY, 1, 2000, "later");
    let ids: Vec<String> = standing(&e)
        .templates
        .into_iter()
        .map(|t| t.template)
        .collect();
    assert_eq!(ids, ["bad", "later"]);
}
