//! Varied events for tests: every event type, every optional field both present and absent, every
//! enum value, timestamps at the edges of the accepted range, and text full of escapes and unicode.

use spamward_core::event::{MAX_TS, MIN_TS};
use spamward_core::{
    BusinessInfo, Category, Delivery, DeliveryStatus, Event, Feedback, FeedbackKind, Message,
    Millis, Tier, Timestamp,
};

const TEXTS: &[&str] = &[
    "Flash sale! 50% off today only: https://shop.example/s?a=1&b=2",
    "Your code is 482913. Do not share it.",
    "",
    "quote \" backslash \\ slash / tab \t newline \n carriage return \r",
    "control \u{1} \u{8} \u{c} \u{1f} and delete \u{7f}",
    "Ünïcödé: naïve café — “smart quotes” … ✓ ½",
    "emoji 🎉🔥 and a family 👩‍👩‍👧 and a flag 🇧🇷",
    "RTL: مرحبا بك في متجرنا",
    "CJK: 您的验证码是 123456、ありがとう、안녕하세요",
    "separators \u{2028} and \u{2029}, zero width \u{200b}, BOM \u{feff} inside",
    "<script>alert('x')</script> & \"entities\" &amp;",
    "   leading and trailing spaces   ",
    "{\"type\":\"message\"} looks like JSON inside a string",
];

/// A small, fixed pseudo-random generator: the tests must see the same events every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn ts(&mut self) -> Timestamp {
        match self.below(10) {
            0 => MIN_TS,
            1 => MAX_TS - Millis::from_millis(1),
            _ => MIN_TS + Millis::from_millis(self.next()) % MAX_TS.saturating_since(MIN_TS),
        }
    }

    fn id(&mut self, prefix: &str) -> String {
        match self.below(8) {
            0 => format!("{prefix}-ü{}", self.below(100)),
            1 => format!("{prefix}-\"{}\"", self.below(100)),
            _ => format!("{prefix}-{}", self.next() % 100_000),
        }
    }

    fn text(&mut self) -> String {
        if self.below(20) == 0 {
            // A long text, well past any small buffer.
            let piece = self.pick(TEXTS);
            return format!("{piece} ").repeat(40);
        }
        self.pick(TEXTS).to_owned()
    }
}

/// `n` varied events; the first few are one of each type with every optional field set.
pub(crate) fn events(n: usize, seed: u64) -> Vec<Event> {
    let mut rng = Rng(seed | 1);
    (0..n).map(|i| event(&mut rng, i)).collect()
}

fn event(rng: &mut Rng, i: usize) -> Event {
    let all_optional = i < 8 || rng.below(2) == 0;
    match i % 4 {
        0 => Event::Message(Message {
            id: rng.id("m"),
            ts: rng.ts(),
            business: rng.id("b"),
            recipient: rng.id("r"),
            category: rng.pick(&[
                Category::Marketing,
                Category::Utility,
                Category::Authentication,
                Category::Service,
            ]),
            template: all_optional.then(|| rng.id("t")),
            text: rng.text(),
        }),
        1 => Event::Feedback(Feedback {
            ts: rng.ts(),
            business: rng.id("b"),
            recipient: rng.id("r"),
            kind: rng.pick(&[
                FeedbackKind::Block,
                FeedbackKind::Report,
                FeedbackKind::OptOut,
                FeedbackKind::Read,
                FeedbackKind::Reply,
            ]),
            message: all_optional.then(|| rng.id("m")),
        }),
        2 => Event::Delivery(Delivery {
            ts: rng.ts(),
            business: rng.id("b"),
            recipient: rng.id("r"),
            message: rng.id("m"),
            status: rng.pick(&[DeliveryStatus::Delivered, DeliveryStatus::Failed]),
            error: all_optional.then(|| rng.pick(&["invalid_number", "blocked", "ü\"\\"]).into()),
        }),
        _ => Event::Business(BusinessInfo {
            ts: rng.ts(),
            business: rng.id("b"),
            tier: rng.pick(&Tier::LADDER),
            verified: rng.below(2) == 0,
            created: rng.ts(),
        }),
    }
}

/// The events as canonical JSON Lines.
pub(crate) fn jsonl(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        event.write_json(&mut out);
        out.push(b'\n');
    }
    out
}

/// The events as a binary log.
pub(crate) fn binary(events: &[Event]) -> Vec<u8> {
    let mut out = crate::binary::header().to_vec();
    for event in events {
        crate::binary::encode_record(event, &mut out).unwrap();
    }
    out
}
