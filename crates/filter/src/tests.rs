//! The filter against the batch engine, one thread against many, and its eviction.

use std::collections::HashMap;

use spamward_core::{Engine, Status};
use spamward_sim::{World, WorldConfig};

use super::*;
use spamward_core::Category;
use spamward_core::time::{DAY, HOUR, MINUTE};

const T0: Timestamp = Timestamp::from_millis(1_793_577_600_000);

/// A generated world's log: every archetype, a few days, several fatigue sweeps.
fn world(seed: u64) -> Vec<Event> {
    world_of(40, 20_000, 3, seed)
}

/// The log of a generated world of this size, for the tests of every module.
pub(crate) fn world_of(businesses: usize, recipients: usize, days: u32, seed: u64) -> Vec<Event> {
    let config = WorldConfig {
        businesses,
        recipients,
        days,
        seed,
        ..WorldConfig::default()
    };
    World::new(config).expect("valid world").events()
}

/// The verdicts of a filter fed `events` one by one, in order.
fn sequential(filter: &Filter, events: &[Event]) -> Vec<Verdict> {
    events.iter().filter_map(|ev| filter.observe(ev)).collect()
}

fn by_business(verdicts: Vec<Verdict>) -> HashMap<String, Vec<Verdict>> {
    let mut out: HashMap<String, Vec<Verdict>> = HashMap::new();
    for v in verdicts {
        out.entry(v.business.clone()).or_default().push(v);
    }
    out
}

fn marketing(id: &str, ts: Timestamp, business: &str, recipient: &str) -> Message {
    Message {
        id: id.to_owned(),
        ts,
        business: business.to_owned(),
        recipient: recipient.to_owned(),
        category: Category::Marketing,
        template: None,
        text: "Flash sale! 50% off today only".to_owned(),
    }
}

#[test]
fn a_filter_fed_in_log_order_gives_the_engines_verdicts() {
    let events = world(5);
    let mut engine = Engine::new(Policy::default());
    let expected: Vec<Verdict> = events
        .chunks(4096)
        .flat_map(|batch| engine.process(batch))
        .collect();
    let filter = Filter::new(Policy::default());
    assert_eq!(sequential(&filter, &events), expected);

    let (c, e) = (filter.counts(), engine.counts());
    assert_eq!(
        (
            c.events,
            c.messages,
            c.feedback,
            c.deliveries,
            c.business_records
        ),
        (
            e.events,
            e.messages,
            e.feedback,
            e.deliveries,
            e.business_records
        )
    );
    assert_eq!(c.allowed + c.throttled + c.held + c.blocked, c.messages);
    for (action, n) in [
        (Action::Allow, c.allowed),
        (Action::Throttle, c.throttled),
        (Action::Hold, c.held),
        (Action::Block, c.blocked),
    ] {
        let want = expected.iter().filter(|v| v.action == action).count() as u64;
        assert_eq!(n, want, "{action:?}");
    }
    // The same eviction rule leaves the same recipients behind.
    assert_eq!(filter.fatigue_entries(), engine.recipients_held().1);
    assert_eq!(filter.clock(), engine.clock());
    assert_eq!(filter.businesses(), engine.businesses());
}

/// Workers on different businesses do not change each other's verdicts. Each worker's businesses
/// get recipients of their own and campaigns are not watched, so the cross-business inputs
/// (fatigue, the campaign index) do not depend on how the threads interleave; the lateness
/// allowance covers how far apart in event time the threads drift.
#[test]
fn concurrent_checks_on_different_businesses_match_one_thread() {
    const WORKERS: usize = 4;
    let mut events = world(9);
    let mut worker_of: HashMap<String, usize> = HashMap::new();
    for ev in &mut events {
        let next = worker_of.len() % WORKERS;
        let w = *worker_of.entry(ev.business().to_owned()).or_insert(next);
        let recipient = match ev {
            Event::Message(m) => &mut m.recipient,
            Event::Feedback(f) => &mut f.recipient,
            Event::Delivery(d) => &mut d.recipient,
            Event::Business(_) => continue,
        };
        *recipient = format!("w{w}/{recipient}");
    }
    let policy = Policy::from_toml_overlay("[signals.campaign_24h]\ncategories = []\n").unwrap();
    let expected = by_business(sequential(&Filter::new(policy.clone()), &events));

    let filter = Filter::builder()
        .policy(policy)
        .allowed_lateness(7 * DAY)
        .build();
    let found: Vec<Vec<Verdict>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (filter, events, worker_of) = (&filter, &events, &worker_of);
                s.spawn(move || {
                    let mine = events.iter().filter(|ev| worker_of[ev.business()] == w);
                    mine.filter_map(|ev| match ev {
                        Event::Message(m) => Some(filter.check(m)),
                        other => filter.observe(other),
                    })
                    .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let found = by_business(found.into_iter().flatten().collect());
    assert_eq!(found.len(), expected.len());
    for (business, verdicts) in &expected {
        assert!(found[business] == *verdicts, "{business} differs");
    }
    assert_eq!(filter.counts().events, events.len() as u64);
}

#[test]
fn standing_is_visible_and_asking_for_it_changes_nothing() {
    let events = world(11);
    let quiet = Filter::new(Policy::default());
    let expected = sequential(&quiet, &events);

    let curious = Filter::new(Policy::default());
    let mut verdicts = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        verdicts.extend(curious.observe(ev));
        if i % 7 == 0 {
            let s = curious.standing(ev.business()).expect("just seen");
            assert!(s.last_seen <= curious.clock());
        }
    }
    assert!(
        verdicts == expected,
        "asking for standings changed verdicts"
    );

    assert!(curious.standing("no-such-business").is_none());
    let flagged = expected
        .iter()
        .map(|v| v.business.as_str())
        .filter(|b| {
            let s = curious.standing(b).unwrap();
            assert_eq!(s, quiet.standing(b).unwrap());
            s.status != Status::Active
        })
        .count();
    assert!(flagged > 0, "a world with abusers flags some of them");
}

#[test]
fn idle_recipients_leave_the_fatigue_map_a_day_later() {
    for (lateness, kept_at_25h) in [(Millis::ZERO, 0), (2 * HOUR, 5)] {
        let filter = Filter::builder().allowed_lateness(lateness).build();
        for r in 0..5 {
            filter.check(&marketing(&format!("m{r}"), T0, "b-1", &format!("r-{r}")));
        }
        assert_eq!(filter.fatigue_entries(), 5);
        // Non-marketing traffic moves the clock without adding recipients.
        let later = |ts| {
            let mut m = marketing("late", ts, "b-2", "r-9");
            m.category = Category::Utility;
            filter.check(&m);
        };
        later(T0 + 23 * HOUR);
        assert_eq!(filter.fatigue_entries(), 5, "not idle for a day yet");
        later(T0 + 25 * HOUR);
        assert_eq!(
            filter.fatigue_entries(),
            kept_at_25h,
            "lateness {lateness:?}"
        );
        later(T0 + 49 * HOUR);
        assert_eq!(filter.fatigue_entries(), 0, "lateness {lateness:?}");
    }
}

/// The fatigue count crosses businesses, and the signal fires past the cap.
#[test]
fn fatigue_counts_marketing_from_every_business() {
    let filter = Filter::new(Policy::default());
    let cap = filter.policy().signals.recipient_fatigue_24h.cap;
    let mut last = None;
    for i in 0..=cap {
        let business = format!("b-{i}");
        last = Some(filter.check(&marketing(
            &format!("m{i}"),
            T0 + i * MINUTE,
            &business,
            "r-1",
        )));
    }
    let v = last.unwrap();
    assert!(
        v.reasons
            .iter()
            .any(|h| h.signal == spamward_core::Signal::RecipientFatigue24h),
        "{v:?}"
    );
    assert_eq!(filter.businesses() as u64, cap + 1);
}

#[test]
fn the_policy_can_be_replaced() {
    let filter = Filter::new(Policy::default());
    let stricter = Policy::from_toml_overlay("[score]\nhold = 0.5\n").unwrap();
    assert_ne!(*filter.policy(), stricter);
    filter.set_policy(stricter.clone());
    assert_eq!(*filter.policy(), stricter);
}

#[test]
fn partitions_parse_and_split_ownership_exactly() {
    use crate::Partition;
    assert_eq!(
        "1/4".parse::<Partition>().unwrap(),
        Partition::new(1, 4).unwrap()
    );
    for bad in ["4/4", "1", "a/2", "0/0", "-1/3"] {
        assert!(bad.parse::<Partition>().is_err(), "{bad}");
    }
    let parts: Vec<Partition> = (0..4).map(|i| Partition::new(i, 4).unwrap()).collect();
    let mut per = [0; 4];
    for b in 0..2000 {
        let id = format!("b-{b}");
        let owners: Vec<&Partition> = parts.iter().filter(|p| p.owns(&id)).collect();
        assert_eq!(owners.len(), 1, "{id}");
        per[owners[0].index() as usize] += 1;
    }
    assert!(per.iter().all(|&n| n > 400), "roughly even: {per:?}");
    // The hash is fixed: a changed function would move every business between instances.
    // Literal vectors (64-bit FNV-1a of the id, modulo the count), computed outside this code.
    assert_eq!(spamward_core::corpus::fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(
        spamward_core::corpus::fnv1a64(b"b-17"),
        0x9177_179a_82da_4214
    );
    for (id, owners) in [
        ("b-17", [0, 2, 0, 4]),
        ("b-0", [0, 2, 0, 8]),
        ("airline-42", [0, 2, 2, 2]),
        ("", [1, 2, 1, 5]),
    ] {
        let got = [2, 3, 4, 16].map(|n| Partition::of(id, n));
        assert_eq!(got, owners, "{id:?} among 2, 3, 4 and 16 instances");
    }
    let mine = Filter::builder().partition(parts[2]).build();
    assert_eq!(mine.partition(), Some(parts[2]));
    assert!(Filter::new(Policy::default()).owns("anything"));
}
