//! World-level tests: determinism, order, ids, platform invariants and rates, on small worlds.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::OnceLock;

use spamward_core::corpus::split_key;
use spamward_core::time::{DAY, MINUTE};
use spamward_core::{Category, DeliveryStatus, Event, FeedbackKind, Message};

use super::*;
use crate::summary::Summary;
use crate::text::corpus;

fn small(seed: u64) -> WorldConfig {
    WorldConfig {
        businesses: 30,
        recipients: 20_000,
        days: 3,
        seed,
        ..WorldConfig::default()
    }
}

fn collect(world: &World) -> (Vec<Event>, RunStats) {
    let mut all = Vec::new();
    let stats = world
        .run(|batch| {
            assert!(!batch.is_empty() && batch.len() <= BATCH);
            all.extend_from_slice(batch);
            Ok::<(), ()>(())
        })
        .unwrap();
    (all, stats)
}

/// The 30-business, 3-day world most tests look at, generated once.
fn shared() -> &'static (World, Vec<Event>, RunStats) {
    static W: OnceLock<(World, Vec<Event>, RunStats)> = OnceLock::new();
    W.get_or_init(|| {
        let world = World::new(small(7)).unwrap();
        let (events, stats) = collect(&world);
        (world, events, stats)
    })
}

/// FNV-1a over the canonical JSON of every event, in order.
fn digest(world: &World) -> (u64, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buf = Vec::new();
    let stats = world
        .run(|batch| {
            for e in batch {
                buf.clear();
                e.write_json(&mut buf);
                buf.push(b'\n');
                for &b in &buf {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
            Ok::<(), ()>(())
        })
        .unwrap();
    (h, stats.events)
}

fn messages(events: &[Event]) -> impl Iterator<Item = &Message> {
    events.iter().filter_map(|e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
}

fn number(id: &str, prefix: &str) -> u64 {
    id.strip_prefix(prefix)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{id:?} is not {prefix}<n>"))
}

#[test]
fn same_seed_same_log_whatever_the_threads() {
    let cfg = WorldConfig {
        businesses: 24,
        days: 2,
        ..small(3)
    };
    let world = World::new(cfg.clone()).unwrap();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| digest(&world));
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| digest(&world));
    assert!(one.1 > 10_000, "{} events", one.1);
    assert_eq!(one, two);
    // A fresh world from the same config agrees too.
    assert_eq!(digest(&World::new(cfg.clone()).unwrap()), one);
    let other = World::new(WorldConfig { seed: 4, ..cfg }).unwrap();
    assert_ne!(digest(&other).0, one.0);
    assert_ne!(other.truth(), world.truth());
}

#[test]
fn events_are_time_ordered_inside_the_period() {
    let (world, events, stats) = shared();
    let t = world.truth();
    assert_eq!(stats.events, events.len() as u64);
    let mut last = t.start;
    for e in events {
        assert!(e.ts() >= last, "{e:?} after {last}");
        assert!(e.ts() < t.end, "{e:?}");
        last = e.ts();
    }
}

#[test]
fn every_archetype_appears() {
    for n in [20, 30, 40] {
        let world = World::new(WorldConfig {
            businesses: n,
            ..small(n as u64)
        })
        .unwrap();
        let t = world.truth();
        assert_eq!(t.businesses.len(), n);
        for a in Archetype::ALL {
            assert!(t.businesses.iter().any(|b| b.archetype == a), "{n}: no {a}");
        }
        let abusive = t.businesses.iter().filter(|b| b.abusive).count();
        assert!(abusive * 100 / n <= 50, "{n}: {abusive} abusive");
    }
    // And every one of them sends something.
    let (world, events, _) = shared();
    let senders: HashSet<&str> = messages(events).map(|m| m.business.as_str()).collect();
    for a in Archetype::ALL {
        let sent = world
            .truth()
            .businesses
            .iter()
            .any(|b| b.archetype == a && senders.contains(b.business.as_str()));
        assert!(sent, "no {a} sent a message");
    }
}

#[test]
fn ids_are_well_formed_and_message_ids_unique() {
    let (world, events, _) = shared();
    let t = world.truth();
    let n = t.businesses.len() as u64;
    let recipients = t.config.recipients as u64;
    let mut ids = HashSet::new();
    for (i, b) in t.businesses.iter().enumerate() {
        assert_eq!(b.business, format!("b-{}", i + 1));
    }
    for e in events {
        let b = number(e.business(), "b-");
        assert!((1..=n).contains(&b), "{e:?}");
        if let Event::Message(m) = e {
            assert!(ids.insert(m.id.clone()), "duplicate {}", m.id);
            let (owner, seq) = m.id.strip_prefix("m-").unwrap().split_once('-').unwrap();
            assert_eq!(owner.parse::<u64>().unwrap(), b, "{}", m.id);
            assert!(seq.parse::<u64>().unwrap() >= 1);
            assert!(number(&m.recipient, "r-") >= 1);
            assert!(!m.text.is_empty());
            match (&m.template, m.category) {
                (None, Category::Service) => {}
                (Some(tpl), c) if c != Category::Service => {
                    let (owner, k) = tpl.strip_prefix("t-").unwrap().split_once('-').unwrap();
                    assert_eq!(owner.parse::<u64>().unwrap(), b, "{tpl}");
                    assert!(k.parse::<u64>().unwrap() >= 1);
                }
                _ => panic!("template and category disagree: {m:?}"),
            }
        }
    }
    // Numbers beyond the population are only ever bought ones, and never get through.
    let mut invalid = 0;
    for e in events {
        if let Event::Delivery(d) = e
            && number(&d.recipient, "r-") > recipients
        {
            invalid += 1;
            assert_eq!(d.status, DeliveryStatus::Failed);
            assert_eq!(d.error.as_deref(), Some("invalid_number"));
            let b = &t.businesses[number(&d.business, "b-") as usize - 1];
            assert!(b.abusive, "{d:?}");
        }
    }
    assert!(
        invalid > 100,
        "{invalid} sends to numbers that do not exist"
    );
}

#[test]
fn business_records_precede_established_businesses_only() {
    let (world, events, _) = shared();
    let t = world.truth();
    let mut first: HashMap<&str, &Event> = HashMap::new();
    let mut records = HashMap::new();
    for e in events {
        first.entry(e.business()).or_insert(e);
        if let Event::Business(b) = e {
            *records.entry(b.business.as_str()).or_insert(0) += 1;
            let truth = &t.businesses[number(&b.business, "b-") as usize - 1];
            assert!(truth.established);
            assert_eq!(b.tier, truth.tier);
            assert_eq!(b.verified, truth.verified);
            assert!(b.created < t.start);
        }
    }
    for b in &t.businesses {
        let Some(e) = first.get(b.business.as_str()) else {
            continue;
        };
        if b.established {
            assert!(
                matches!(e, Event::Business(_)),
                "{} starts with {e:?}",
                b.business
            );
            assert_eq!(records[b.business.as_str()], 1);
        } else {
            assert!(!records.contains_key(b.business.as_str()));
            assert_eq!(b.tier, Tier::T250, "{}", b.business);
        }
    }
}

#[test]
fn every_message_has_exactly_one_delivery_after_it() {
    let (_, events, stats) = shared();
    let mut sent: HashMap<&str, Timestamp> = HashMap::new();
    let mut delivered: HashMap<&str, u32> = HashMap::new();
    let mut ok: HashSet<&str> = HashSet::new();
    for e in events {
        match e {
            Event::Message(m) => {
                sent.insert(&m.id, m.ts);
            }
            Event::Delivery(d) => {
                let at = sent
                    .get(d.message.as_str())
                    .expect("delivery for an earlier message");
                assert!(d.ts > *at && d.ts.saturating_since(*at) <= MINUTE, "{d:?}");
                *delivered.entry(&d.message).or_default() += 1;
                if d.status == DeliveryStatus::Delivered {
                    assert!(d.error.is_none());
                    ok.insert(&d.message);
                } else {
                    assert!(d.error.is_some());
                }
            }
            Event::Feedback(f) => {
                if let Some(m) = &f.message {
                    assert!(
                        ok.contains(m.as_str()),
                        "feedback on an undelivered message: {f:?}"
                    );
                }
            }
            Event::Business(_) => {}
        }
    }
    assert_eq!(stats.messages, sent.len() as u64);
    assert_eq!(delivered.len(), sent.len());
    assert!(delivered.values().all(|&c| c == 1));
}

#[test]
fn legit_businesses_stay_within_their_tier() {
    let (world, events, _) = shared();
    let t = world.truth();
    type Window<'a> = (VecDeque<(Timestamp, &'a str)>, HashMap<&'a str, u32>);
    let mut windows: HashMap<&str, Window<'_>> = HashMap::new();
    let mut peak: HashMap<&str, usize> = HashMap::new();
    for m in messages(events).filter(|m| m.category != Category::Service) {
        let b = &t.businesses[number(&m.business, "b-") as usize - 1];
        if b.abusive {
            continue;
        }
        let (queue, counts) = windows.entry(&m.business).or_default();
        while let Some(&(ts, r)) = queue.front() {
            if ts + DAY > m.ts {
                break;
            }
            queue.pop_front();
            let c = counts.get_mut(r).unwrap();
            *c -= 1;
            if *c == 0 {
                counts.remove(r);
            }
        }
        queue.push_back((m.ts, &m.recipient));
        *counts.entry(&m.recipient).or_default() += 1;
        let limit = b.tier.limit().unwrap_or(u64::MAX) as usize;
        assert!(
            counts.len() <= limit,
            "{} at {}: {} > {limit}",
            b.business,
            m.ts,
            counts.len()
        );
        let p = peak.entry(&m.business).or_default();
        *p = (*p).max(counts.len());
    }
    // The limit binds for someone (new shops ramp up to it), so the check is not vacuous.
    assert!(peak.values().any(|&p| p >= 150), "{peak:?}");
}

#[test]
fn legit_businesses_honour_opt_outs_and_blocks_and_answer_replies_in_the_window() {
    let (world, events, _) = shared();
    let t = world.truth();
    let mut stopped: HashMap<(&str, &str), Timestamp> = HashMap::new();
    let mut blocked: HashMap<(&str, &str), Timestamp> = HashMap::new();
    let mut replied: HashMap<(&str, &str), Timestamp> = HashMap::new();
    let mut services = 0;
    for e in events {
        match e {
            Event::Feedback(f) => {
                let k = (f.business.as_str(), f.recipient.as_str());
                match f.kind {
                    FeedbackKind::OptOut => {
                        stopped.entry(k).or_insert(f.ts);
                    }
                    FeedbackKind::Block => {
                        blocked.entry(k).or_insert(f.ts);
                    }
                    FeedbackKind::Reply => {
                        replied.insert(k, f.ts);
                    }
                    _ => {}
                }
            }
            Event::Message(m) => {
                let b = &t.businesses[number(&m.business, "b-") as usize - 1];
                let k = (m.business.as_str(), m.recipient.as_str());
                if m.category == Category::Service {
                    services += 1;
                    let at = replied
                        .get(&k)
                        .unwrap_or_else(|| panic!("unprompted service message {m:?}"));
                    assert!(m.ts.saturating_since(*at) < DAY);
                }
                if b.abusive {
                    continue;
                }
                assert!(!blocked.contains_key(&k), "message after a block: {m:?}");
                if m.category == Category::Marketing {
                    assert!(
                        !stopped.contains_key(&k),
                        "marketing after an opt-out: {m:?}"
                    );
                }
            }
            _ => {}
        }
    }
    assert!(services > 50, "{services} service messages");
    assert!(!stopped.is_empty());
}

#[test]
fn abuse_starts_when_the_truth_says() {
    let (world, events, _) = shared();
    let t = world.truth();
    let mut first: HashMap<&str, Timestamp> = HashMap::new();
    let mut at_start: HashSet<&str> = HashSet::new();
    for m in messages(events) {
        first.entry(&m.business).or_insert(m.ts);
        let b = &t.businesses[number(&m.business, "b-") as usize - 1];
        if b.abuse_start == Some(m.ts) {
            at_start.insert(&m.business);
        }
    }
    for b in &t.businesses {
        assert_eq!(b.abusive, b.abuse_start.is_some(), "{}", b.business);
        let Some(start) = b.abuse_start else { continue };
        assert!(
            at_start.contains(b.business.as_str()),
            "{} sent nothing at {start}",
            b.business
        );
        if b.archetype == Archetype::CompromisedAccount {
            assert!(b.established && b.verified);
            assert!(
                first[b.business.as_str()] < start,
                "no good history before the burst"
            );
            assert!(start >= t.start + DAY, "burst on day 1");
        } else {
            assert_eq!(first[b.business.as_str()], start, "{}", b.business);
        }
        if b.archetype == Archetype::Snowshoe {
            assert!(b.campaign.is_some() && !b.established);
        } else {
            assert!(b.campaign.is_none());
        }
    }
}

#[test]
fn snowshoe_groups_share_a_text_and_stay_small() {
    let world = World::new(WorldConfig {
        businesses: 60,
        ..small(11)
    })
    .unwrap();
    let t = world.truth().clone();
    let (events, _) = collect(&world);
    let mut groups: HashMap<&str, Vec<&str>> = HashMap::new();
    for b in &t.businesses {
        if let Some(c) = &b.campaign {
            groups.entry(c).or_default().push(&b.business);
        }
    }
    assert!(!groups.is_empty());
    for members in groups.values() {
        assert!((5..=15).contains(&members.len()), "{members:?}");
    }
    // Texts of one group share most words.
    let mut words: HashMap<&str, Vec<HashSet<String>>> = HashMap::new();
    let mut per_day: HashMap<(&str, u64), HashSet<&str>> = HashMap::new();
    for m in messages(&events) {
        let b = &t.businesses[number(&m.business, "b-") as usize - 1];
        if let Some(c) = &b.campaign {
            let w: HashSet<String> = m
                .text
                .split_whitespace()
                .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
                .map(str::to_owned)
                .collect();
            words.entry(c).or_default().push(w);
            per_day
                .entry((&m.business, m.ts.saturating_since(t.start) / DAY))
                .or_default()
                .insert(&m.recipient);
        }
    }
    for (c, texts) in &words {
        let a = &texts[0];
        for b in texts {
            let shared = a.intersection(b).count() as f64 / a.len().max(b.len()) as f64;
            assert!(shared > 0.5, "{c}: {a:?} vs {b:?}");
        }
    }
    assert!(per_day.values().all(|r| r.len() <= 240));
}

#[test]
fn rates_are_in_their_intended_ranges() {
    let world = World::new(WorldConfig {
        businesses: 60,
        recipients: 40_000,
        days: 4,
        seed: 5,
        ..WorldConfig::default()
    })
    .unwrap();
    let mut summary = Summary::new();
    world
        .run(|batch| {
            batch.iter().for_each(|e| summary.observe(e));
            Ok::<(), ()>(())
        })
        .unwrap();
    let rates: HashMap<Archetype, crate::summary::Rates> =
        summary.by_archetype(world.truth()).into_iter().collect();
    let r = |a: Archetype| &rates[&a];
    for a in Archetype::ALL.iter().filter(|a| !a.is_abusive()) {
        let f = r(*a).failure_rate();
        assert!((0.005..0.03).contains(&f), "{a} fails {f}");
        assert!(
            r(*a).complaint_rate() < 0.003,
            "{a} complaints {}",
            r(*a).complaint_rate()
        );
    }
    assert!(r(Archetype::Airline).read_rate() > 0.8);
    assert!(r(Archetype::Bank).read_rate() > 0.85);
    let retail = r(Archetype::Retailer).read_rate();
    assert!((0.35..0.65).contains(&retail), "retailer reads {retail}");
    let cold = r(Archetype::ColdListSpammer);
    assert!(
        (0.12..0.40).contains(&cold.failure_rate()),
        "cold-list fails {}",
        cold.failure_rate()
    );
    assert!(cold.invalid_number * 10 > cold.failed * 8);
    assert!(
        (0.01..0.08).contains(&cold.complaint_rate()),
        "cold-list complaints {}",
        cold.complaint_rate()
    );
    let phish = r(Archetype::Phisher).complaint_rate();
    assert!((0.01..0.08).contains(&phish), "phisher complaints {phish}");
    let snow = r(Archetype::Snowshoe).complaint_rate();
    assert!((0.003..0.03).contains(&snow), "snowshoe complaints {snow}");
    let fatigue = r(Archetype::RecipientFatigue);
    assert!(
        fatigue.messages > 20 * fatigue.unique_recipients,
        "fatigue floods few recipients"
    );
    assert!(fatigue.complaint_rate() > 0.05);
}

#[test]
fn texts_come_from_the_train_side_only() {
    let (_, events, _) = shared();
    let c = corpus();
    let spam: HashSet<&str> = c.spam.iter().map(String::as_str).collect();
    let ham: HashSet<&str> = c.ham.iter().map(String::as_str).collect();
    let (mut used_spam, mut used_ham) = (0, 0);
    for m in messages(events) {
        assert!(
            !c.test_keys.contains(&split_key(&m.text)),
            "test-side text: {}",
            m.text
        );
        used_spam += usize::from(spam.contains(m.text.as_str()));
        used_ham += usize::from(ham.contains(m.text.as_str()));
    }
    assert!(
        used_spam > 0 && used_ham > 0,
        "{used_spam} spam, {used_ham} ham corpus texts"
    );
}

#[test]
fn config_errors_come_through_new() {
    let err = World::new(WorldConfig {
        businesses: 0,
        ..WorldConfig::default()
    })
    .err()
    .unwrap();
    assert_eq!(err.field(), "businesses");
    let err = World::new(WorldConfig {
        scale: 0.0,
        ..WorldConfig::default()
    })
    .err()
    .unwrap();
    assert_eq!(err.field(), "scale");
    // Tiny worlds are fine.
    let world = World::new(WorldConfig {
        businesses: 1,
        recipients: 1_000,
        days: 1,
        ..WorldConfig::default()
    })
    .unwrap();
    collect(&world);
}

#[test]
fn sink_errors_stop_the_run() {
    let world = World::new(WorldConfig {
        businesses: 16,
        days: 1,
        ..small(1)
    })
    .unwrap();
    let mut calls = 0;
    let err = world.run(|_| {
        calls += 1;
        if calls == 2 { Err("disk full") } else { Ok(()) }
    });
    assert_eq!(err, Err("disk full"));
    assert_eq!(calls, 2);
}

#[test]
fn truth_round_trips() {
    let (world, _, _) = shared();
    let json = serde_json::to_string(world.truth()).unwrap();
    assert!(json.contains("\"archetype\":\"cold_list_spammer\""));
    let back: Truth = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, world.truth());
}

#[test]
fn scale_multiplies_volume() {
    let count = |scale: f64| {
        let world = World::new(WorldConfig {
            businesses: 20,
            days: 1,
            scale,
            ..small(2)
        })
        .unwrap();
        world.run(|_| Ok::<(), ()>(())).unwrap().messages as f64
    };
    let (one, three) = (count(0.5), count(1.5));
    assert!(three > 2.0 * one, "{one} vs {three}");
}

#[test]
fn legit_sale_days_and_compromised_bursts_stand_out() {
    let world = World::new(WorldConfig {
        businesses: 40,
        days: 6,
        ..small(21)
    })
    .unwrap();
    let t = world.truth().clone();
    let mut per_day: HashMap<String, Vec<f64>> = HashMap::new();
    let mut after: HashMap<String, (f64, f64)> = HashMap::new();
    world
        .run(|batch| {
            for m in messages(batch) {
                let b = &t.businesses[number(&m.business, "b-") as usize - 1];
                let day = (m.ts.saturating_since(t.start) / DAY) as usize;
                per_day
                    .entry(m.business.clone())
                    .or_insert_with(|| vec![0.0; 6])[day] += 1.0;
                if let Some(start) = b.abuse_start {
                    let e = after.entry(m.business.clone()).or_default();
                    if m.ts < start { e.0 += 1.0 } else { e.1 += 1.0 }
                }
            }
            Ok::<(), ()>(())
        })
        .unwrap();
    let mut seen = (0, 0);
    for b in &t.businesses {
        match b.archetype {
            Archetype::SeasonalRetailer => {
                let days = &per_day[&b.business];
                let (peak, at) = days
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| (c, i))
                    .fold((0.0, 0), |a, x| if x.0 > a.0 { x } else { a });
                let rest = (days.iter().sum::<f64>() - peak) / 5.0;
                assert!(at >= 1 && peak > 2.5 * rest, "{}: {days:?}", b.business);
                seen.0 += 1;
            }
            Archetype::CompromisedAccount => {
                let start = b.abuse_start.unwrap();
                let (before, burst) = after[&b.business];
                let rate_before = before / start.saturating_since(t.start).as_millis() as f64;
                let rate_after = burst / t.end.saturating_since(start).as_millis() as f64;
                assert!(
                    rate_after > 3.0 * rate_before,
                    "{}: {before} then {burst}",
                    b.business
                );
                seen.1 += 1;
            }
            _ => {}
        }
    }
    assert!(seen.0 >= 1 && seen.1 >= 1);
}
