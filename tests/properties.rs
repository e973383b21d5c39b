//! Properties over random inputs: any valid event survives JSON Lines → binary → JSON Lines, and
//! on any log the batch engine (1 or 2 threads, any batch size) and the streaming filter give the
//! same verdicts as one event at a time.

use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use spamward_core::{
    BusinessInfo, Category, Delivery, DeliveryStatus, Engine, Event, Feedback, FeedbackKind,
    Message, Policy, Tier, Verdict,
};
use spamward_filter::Filter;
use spamward_log::{Format, LogReader, LogWriter};

const T0: u64 = 1_793_577_600_000;

/// Text with what logs hold: ASCII, quotes and backslashes, control characters, any Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[a-z0-9 \"\\\\\n\t]{0,20}", "\\PC{0,12}"]
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]-[0-9]{1,6}", "\\PC{1,8}"]
}

fn event() -> impl Strategy<Value = Event> {
    let ts = spamward_core::event::MIN_TS..spamward_core::event::MAX_TS;
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

/// A random log over a few businesses and recipients, in rough time order with late events.
fn log() -> impl Strategy<Value = Vec<Event>> {
    let step = (0u8..12, 0u8..6, 0u8..40, 0u64..120_000, 0u64..300_000);
    prop::collection::vec(step, 1..600).prop_map(|steps| {
        let mut now = T0;
        let mut n = 0;
        steps
            .into_iter()
            .map(|(kind, b, r, advance, late)| {
                now += advance;
                n += 1;
                let ts = now.saturating_sub(late).max(T0);
                let business = format!("b-{b}");
                let recipient = format!("r-{r}");
                let feedback = |kind| {
                    Event::Feedback(Feedback {
                        ts,
                        business: business.clone(),
                        recipient: recipient.clone(),
                        kind,
                        message: None,
                    })
                };
                match kind {
                    0 => feedback(FeedbackKind::Report),
                    1 => feedback(FeedbackKind::OptOut),
                    2 => feedback(FeedbackKind::Reply),
                    3 => feedback(FeedbackKind::Block),
                    4 => Event::Delivery(Delivery {
                        ts,
                        business,
                        recipient,
                        message: "m".into(),
                        status: DeliveryStatus::Failed,
                        error: Some("invalid_number".into()),
                    }),
                    5 if b == 0 => Event::Business(BusinessInfo {
                        ts,
                        business,
                        tier: Tier::T2k,
                        verified: true,
                        created: T0 - 1,
                    }),
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
                        template: None,
                        text: String::new(),
                    }),
                }
            })
            .collect()
    })
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
        }
        let filter = Filter::new(policy);
        let streamed: Vec<Verdict> = events.iter().filter_map(|ev| filter.observe(ev)).collect();
        prop_assert_eq!(&streamed, &reference);
    }
}
