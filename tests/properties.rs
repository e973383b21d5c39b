//! Properties over random inputs: any valid event survives JSON Lines → binary → JSON Lines, and
//! on any log the batch engine (1 or 2 threads, any batch size) and the streaming filter give the
//! same verdicts as one event at a time.

use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use spamward_core::signal::Family;
use spamward_core::time::DAY;
use spamward_core::window::{BUCKETS, Span};
use spamward_core::{
    Action, Analyzed, BusinessInfo, Category, Delivery, DeliveryStatus, Engine, Event, Feedback,
    FeedbackKind, Message, Millis, Policy, Tier, Timestamp, Verdict,
};
use spamward_filter::Filter;
use spamward_log::{Format, LogReader, LogWriter};

const T0: Timestamp = Timestamp::from_millis(1_793_577_600_000);

/// Text with what logs hold: ASCII, quotes and backslashes, control characters, any Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[a-z0-9 \"\\\\\n\t]{0,20}", "\\PC{0,12}"]
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]-[0-9]{1,6}", "\\PC{1,8}"]
}

fn event() -> impl Strategy<Value = Event> {
    let ts = (spamward_core::event::MIN_TS.as_millis()..spamward_core::event::MAX_TS.as_millis())
        .prop_map(Timestamp::from_millis);
    let category = prop_oneof![
        Just(Category::Marketing),
        Just(Category::Utility),
        Just(Category::Authentication),
        Just(Category::Service)
    ];
    let kind = prop_oneof![
        Just(FeedbackKind::Block),
        Just(FeedbackKind::Report),
        Just(FeedbackKind::OptOut),
        Just(FeedbackKind::Read),
        Just(FeedbackKind::Reply)
    ];
    let tier = prop::sample::select(Tier::LADDER.to_vec());
    prop_oneof![
        (
            id(),
            ts.clone(),
            id(),
            id(),
            category,
            prop::option::of(id()),
            text()
        )
            .prop_map(|(id, ts, business, recipient, category, template, text)| {
                Event::Message(Message {
                    id,
                    ts,
                    business,
                    recipient,
                    category,
                    template,
                    text,
                })
            }),
        (ts.clone(), id(), id(), kind, prop::option::of(id())).prop_map(
            |(ts, business, recipient, kind, message)| {
                Event::Feedback(Feedback {
                    ts,
                    business,
                    recipient,
                    kind,
                    message,
                })
            }
        ),
        (
            ts.clone(),
            id(),
            id(),
            id(),
            any::<bool>(),
            prop::option::of(text())
        )
            .prop_map(|(ts, business, recipient, message, ok, error)| {
                let status = if ok {
                    DeliveryStatus::Delivered
                } else {
                    DeliveryStatus::Failed
                };
                Event::Delivery(Delivery {
                    ts,
                    business,
                    recipient,
                    message,
                    status,
                    error,
                })
            }),
        (ts.clone(), id(), tier, any::<bool>(), ts).prop_map(
            |(ts, business, tier, verified, created)| {
                Event::Business(BusinessInfo {
                    ts,
                    business,
                    tier,
                    verified,
                    created,
                })
            }
        ),
    ]
}

/// A writer the test can read back after the log writer is finished.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write(events: &[Event], format: Format, zstd: bool) -> Vec<u8> {
    let buf = Shared::default();
    let mut w = LogWriter::new(buf.clone(), format, zstd).unwrap();
    for e in events {
        w.write(e).unwrap();
    }
    w.finish().unwrap();
    buf.0.lock().unwrap().clone()
}

fn read(bytes: Vec<u8>) -> Vec<Event> {
    let reader = LogReader::from_reader("prop", Cursor::new(bytes), None).unwrap();
    reader.map(|r| r.unwrap().event).collect()
}

/// Texts of every kind the content signals judge: a login code, a template with its parameter,
/// marketing with an opt-out line, lottery and phishing lures with links and a premium number,
/// an obfuscated lure, and nothing at all.
const TEXTS: [&str; 8] = [
    "Your code is 1234",
    "Hi Sam, your flight VJ 6264 to Copenhagen leaves tomorrow at 10:24. Check in at https://airline.example/app",
    "50% off everything this weekend at our shop. Reply STOP to opt out",
    "WINNER!! You have won a guaranteed 1000 prize. Call 09061701461 now to claim",
    "URGENT: your account is locked, verify at http://paypa1-login.example/x",
    "Y\u{200b}ou h4ve w0n a fr33 iPh0ne!! cl4im at bit.ly/x1y2",
    "Your parcel is held, pay the 1.99 fee at http://parcel-fee.example/pay",
    "",
];

/// A random log over a few businesses and recipients, in rough time order with late events.
/// Its pace varies from log to log: dense logs of minutes, and sparse ones whose few hundred
/// events span days to weeks, so that the 24 h and 7 d windows expire, the daily sweeps of the
/// cross-business store run, and fatigue entries are evicted. Messages carry real texts and
/// templates (content signals fire) and deliveries and reads name earlier messages.
fn log() -> impl Strategy<Value = Vec<Event>> {
    let step = (
        0u8..14,
        0u8..6,
        0u8..40,
        0u64..120_000,
        0u64..300_000,
        0usize..TEXTS.len(),
    );
    let pace = prop::sample::select(vec![1u64, 30, 300]);
    (pace, prop::collection::vec(step, 1..600)).prop_map(|(pace, steps)| {
        let mut now = T0;
        let mut n = 0;
        steps
            .into_iter()
            .map(|(kind, b, r, advance, late, text)| {
                now += Millis::from_millis(advance * pace);
                n += 1;
                let ts = now.saturating_sub(Millis::from_millis(late)).max(T0);
                let business = format!("b-{b}");
                let recipient = format!("r-{r}");
                // An earlier message of this business, for deliveries and feedback to name.
                let earlier = (n > 1).then(|| format!("m-{}", 1 + (advance as usize) % (n - 1)));
                let feedback = |kind| {
                    Event::Feedback(Feedback {
                        ts,
                        business: business.clone(),
                        recipient: recipient.clone(),
                        kind,
                        message: earlier.clone(),
                    })
                };
                match kind {
                    0 => feedback(FeedbackKind::Report),
                    1 => feedback(FeedbackKind::OptOut),
                    2 => feedback(FeedbackKind::Reply),
                    3 => feedback(FeedbackKind::Block),
                    4 | 6 => Event::Delivery(Delivery {
                        ts,
                        business,
                        recipient,
                        message: earlier.unwrap_or_else(|| "m".into()),
                        status: if kind == 4 {
                            DeliveryStatus::Failed
                        } else {
                            DeliveryStatus::Delivered
                        },
                        error: (kind == 4).then(|| "invalid_number".into()),
                    }),
                    5 if b == 0 => Event::Business(BusinessInfo {
                        ts,
                        business,
                        tier: Tier::T2k,
                        verified: true,
                        created: T0 - Millis::from_millis(1),
                    }),
                    7 => feedback(FeedbackKind::Read),
                    _ => Event::Message(Message {
                        id: format!("m-{n}"),
                        ts,
                        business,
                        recipient,
                        category: if kind % 2 == 0 {
                            Category::Marketing
                        } else {
                            Category::Utility
                        },
                        template: (text < 3).then(|| format!("t-{text}")),
                        text: TEXTS[text].to_owned(),
                    }),
                }
            })
            .collect()
    })
}

/// The strategy reaches what it is for: across its cases, logs span more than 8 days, content
/// signals fire, and verdicts other than allow occur (so the properties that use it compare
/// more than empty windows and allowed messages).
#[test]
fn the_random_logs_reach_long_spans_content_and_actions() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut long, mut content, mut acted) = (0, 0, 0);
    for _ in 0..48 {
        let events = log().new_tree(&mut runner).unwrap().current();
        let span = events
            .iter()
            .map(Event::ts)
            .max()
            .unwrap()
            .saturating_since(T0);
        long += u32::from(span > 8 * DAY);
        let mut engine = Engine::new(Policy::default());
        for v in events.iter().filter_map(|ev| engine.observe(ev)) {
            content += u32::from(
                v.reasons
                    .iter()
                    .any(|h| h.signal.family() == Family::Content),
            );
            acted += u32::from(v.action != Action::Allow);
        }
    }
    assert!(long >= 8, "{long} of 48 logs span more than 8 days");
    assert!(
        content > 0 && acted > 0,
        "content reasons {content}, actions {acted}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_valid_event_round_trips_through_both_formats(events in prop::collection::vec(event(), 1..40)) {
        let jsonl = write(&events, Format::Jsonl, false);
        for (format, zstd) in [(Format::Binary, false), (Format::Binary, true), (Format::Jsonl, true)] {
            let back = read(write(&read(jsonl.clone()), format, zstd));
            prop_assert_eq!(&back, &events);
            prop_assert_eq!(write(&back, Format::Jsonl, false), jsonl.clone());
        }
    }

    #[test]
    fn engine_threads_batches_and_filter_agree(events in log(), batch in 1usize..200) {
        let policy = Policy::default();
        let reference: Vec<Verdict> = {
            let mut e = Engine::new(policy.clone());
            events.iter().filter_map(|ev| e.observe(ev)).collect()
        };
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got: Vec<Verdict> = pool.install(|| {
                let mut e = Engine::new(policy.clone());
                events.chunks(batch).flat_map(|c| e.process(c)).collect()
            });
            prop_assert_eq!(&got, &reference);
            // Replay's pipeline: batch k + 1 analysed while batch k is applied.
            let pipelined: Vec<Verdict> = pool.install(|| {
                let mut e = Engine::new(policy.clone());
                let analyzer = e.analyzer();
                let mut out = Vec::new();
                let mut applying: Option<(&[Event], Analyzed)> = None;
                for chunk in events.chunks(batch).map(Some).chain([None]) {
                    let (analyzed, verdicts) = rayon::join(
                        || chunk.map(|c| (c, analyzer.analyze(c))),
                        || applying.take().map(|(c, facts)| e.process_analyzed(c, &facts)),
                    );
                    out.extend(verdicts.into_iter().flatten());
                    applying = analyzed;
                }
                out
            });
            prop_assert_eq!(&pipelined, &reference);
        }
        let filter = Filter::new(policy);
        let streamed: Vec<Verdict> = events.iter().filter_map(|ev| filter.observe(ev)).collect();
        prop_assert_eq!(&streamed, &reference);
    }
}

/// The windows of the volume counts, in the order the test reads them.
const SPANS: [Span; 4] = [Span::Minute, Span::Hour, Span::Day, Span::Week];

/// How late (in buckets of a window) an event may be for that window to count it exactly: well
/// inside the 60 buckets a window holds.
const TOLERANCE_BUCKETS: u64 = 40;

/// A filter without content analysis: the volume counts do not depend on it.
fn plain_filter() -> Filter {
    let mut b = Filter::builder();
    b.content(None);
    b.build()
}

/// Messages of one business: (advance of the clock in ms, lateness in ms, recipient), with a
/// lateness bound drawn per case so that some cases stay within every window's tolerance.
fn volume_steps() -> impl Strategy<Value = Vec<(u64, u64, u8)>> {
    prop_oneof![
        Just(0u64),
        Just(30_000u64),
        Just(30 * 60_000u64),
        Just(4 * 3_600_000u64)
    ]
    .prop_flat_map(|late| {
        let advance = prop_oneof![0u64..2_000, 0u64..120_000, 0u64..7_200_000];
        prop::collection::vec((advance, 0..=late, 0u8..30), 1..250)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A business's message and unique-recipient counts over 1 m, 1 h, 24 h and 7 d equal a
    /// recount from the messages themselves after every message, late ones included, for each
    /// window whose tolerance the lateness stays within. A window covers the bucket of the
    /// latest event time seen and the 59 before it; a recipient counts if its latest message
    /// falls in the window.
    #[test]
    fn volume_counts_equal_a_brute_force_recount(steps in volume_steps()) {
        let filter = plain_filter();
        let max_late = steps.iter().map(|s| s.1).max().unwrap_or(0);
        let mut clock = T0;
        let mut now = T0;
        let mut sent: Vec<(Timestamp, u8)> = Vec::new();
        for (i, &(advance, late, r)) in steps.iter().enumerate() {
            clock += Millis::from_millis(advance);
            let ts = clock.saturating_sub(Millis::from_millis(late)).max(T0);
            // The business's now: the latest event time it has seen.
            now = now.max(ts);
            filter.observe(&Event::Message(Message {
                id: format!("m-{i}"),
                ts,
                business: "b-1".into(),
                recipient: format!("r-{r}"),
                category: Category::Utility,
                template: None,
                text: String::new(),
            }));
            sent.push((ts, r));
            let v = filter.standing("b-1").unwrap().volume;
            let got = [
                (v.messages_1m, v.recipients_1m),
                (v.messages_1h, v.recipients_1h),
                (v.messages_24h, v.recipients_24h),
                (v.messages_7d, v.recipients_7d),
            ];
            // Each recipient's latest message.
            let mut last = std::collections::HashMap::new();
            for &(t, r) in &sent {
                let e = last.entry(r).or_insert(t);
                *e = (*e).max(t);
            }
            for (&span, (messages, recipients)) in SPANS.iter().zip(got) {
                let (w, name) = (span.bucket_millis(), span.as_str());
                if Millis::from_millis(max_late) > TOLERANCE_BUCKETS * w {
                    continue;
                }
                let inside =
                    |t: Timestamp| t.since_epoch() / w + BUCKETS as u64 > now.since_epoch() / w;
                let want = sent.iter().filter(|(t, _)| inside(*t)).count() as u64;
                prop_assert_eq!(messages, want, "messages {} after {}", name, i + 1);
                let want = last.values().filter(|&&t| inside(t)).count() as u64;
                prop_assert_eq!(recipients, want, "recipients {} after {}", name, i + 1);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A filter snapshotted after any event, restored from the snapshot's bytes and fed the rest
    /// of the log gives the verdicts of one that never stopped, and ends in the same state: the
    /// same counts and every business's standing.
    #[test]
    fn snapshot_restore_and_continue_equals_never_stopping(
        events in log(),
        cut in any::<prop::sample::Index>(),
    ) {
        use spamward_filter::durable::{decode_snapshot, encode_snapshot};
        let builder = Filter::builder();
        let whole = builder.build();
        let want: Vec<Option<Verdict>> = events.iter().map(|ev| whole.observe(ev)).collect();
        let k = cut.index(events.len() + 1);
        let first = builder.build();
        let mut got: Vec<Option<Verdict>> = events[..k].iter().map(|ev| first.observe(ev)).collect();
        let bytes = encode_snapshot(&first, k as u64);
        drop(first);
        let (restored, n) = decode_snapshot(&bytes, &builder).unwrap();
        prop_assert_eq!(n, k as u64);
        got.extend(events[k..].iter().map(|ev| restored.observe(ev)));
        prop_assert_eq!(got, want);
        // The same state, as far as anyone can see it. (Not the same snapshot bytes: a hash
        // map rebuilt from a snapshot may iterate in another order.)
        prop_assert_eq!(restored.counts(), whole.counts());
        for b in 0..6 {
            let b = format!("b-{b}");
            prop_assert_eq!(restored.standing(&b), whole.standing(&b), "{}", b);
        }
    }
}
