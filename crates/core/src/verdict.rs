//! Verdicts: what happens to a message, and where a business stands.

use std::fmt;

use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::event::{FeedbackKind, Timestamp};
use crate::signal::Hit;

/// What to do with one message, least severe first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Deliver.
    Allow,
    /// Defer: over a rate or limit, to be sent later, not lost.
    Throttle,
    /// Keep back for review or until early feedback arrives.
    Hold,
    /// Do not deliver.
    Block,
}

impl Action {
    /// Every action, least severe first.
    pub const ALL: [Action; 4] = [Action::Allow, Action::Throttle, Action::Hold, Action::Block];

    /// The name used in verdicts.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Throttle => "throttle",
            Action::Hold => "hold",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A business's standing, least severe first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Sending normally.
    Active,
    /// Its messages are deferred.
    Throttled,
    /// Its messages are blocked.
    Suspended,
}

impl Status {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Throttled => "throttled",
            Status::Suspended => "suspended",
        }
    }

    /// What the status does to each message of the business.
    pub fn action(self) -> Action {
        match self {
            Status::Active => Action::Allow,
            Status::Throttled => Action::Throttle,
            Status::Suspended => Action::Block,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The quality rating a business is shown, best first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// No concerns.
    High,
    /// Warning signs: complaints near the warn line, low reads, opt-outs.
    Medium,
    /// Complaints or invalid numbers past the act line.
    Low,
}

impl Quality {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::High => "high",
            Quality::Medium => "medium",
            Quality::Low => "low",
        }
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The message id.
    pub message: String,
    /// The sending business.
    pub business: String,
    /// What to do with it.
    pub action: Action,
    /// How bad it looks, 0 to 1: the noisy-or of the weights of every reason.
    pub score: f64,
    /// Every signal that fired, in [`crate::Signal::ALL`] order.
    pub reasons: Vec<Hit>,
}

impl Verdict {
    /// Appends the verdict as one JSON line (no newline) to `out`: the bytes `serde_json` writes
    /// for it (a test compares the two), written field by field. Every message's verdict is
    /// written, and through `serde_json`'s generic serialiser the writing was a tenth of a replay
    /// reading kept analyses.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"message\":");
        json_str(out, &self.message);
        out.extend_from_slice(b",\"business\":");
        json_str(out, &self.business);
        out.extend_from_slice(b",\"action\":\"");
        out.extend_from_slice(self.action.as_str().as_bytes());
        out.extend_from_slice(b"\",\"score\":");
        json_f64(out, self.score);
        out.extend_from_slice(b",\"reasons\":[");
        for (i, h) in self.reasons.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"signal\":\"");
            out.extend_from_slice(h.signal.code().as_bytes());
            out.extend_from_slice(b"\",\"value\":");
            json_f64(out, h.value);
            out.extend_from_slice(b",\"threshold\":");
            json_f64(out, h.threshold);
            if let Some(w) = h.window {
                out.extend_from_slice(b",\"window\":\"");
                out.extend_from_slice(w.as_str().as_bytes());
                out.push(b'"');
            }
            if let Some(p) = h.probability {
                out.extend_from_slice(b",\"probability\":");
                json_f64(out, p);
            }
            if let Some(d) = &h.detail {
                out.extend_from_slice(b",\"detail\":");
                json_str(out, d);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }
}

/// A JSON string as `serde_json` writes it: as it is when nothing in it needs escaping (a quote,
/// a backslash, a control character), else through `serde_json`.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        serde::Serializer::serialize_str(&mut serde_json::Serializer::new(out), s)
            .expect("writing to a Vec cannot fail");
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// A number as `serde_json` writes it: its shortest round-trip form, `null` when not finite.
fn json_f64(out: &mut Vec<u8>, x: f64) {
    use serde_json::ser::{CompactFormatter, Formatter};
    let written = if x.is_finite() {
        CompactFormatter.write_f64(out, x)
    } else {
        CompactFormatter.write_null(out)
    };
    written.expect("writing to a Vec cannot fail");
}

/// A change of a business's status, with the reasons at that moment.
#[derive(Clone, Debug, PartialEq, Serialize, Encode, Decode)]
pub struct StatusChange {
    /// Event time of the change.
    pub ts: Timestamp,
    /// The status before.
    pub from: Status,
    /// The status after.
    pub to: Status,
    /// The event that tipped it.
    pub trigger: Trigger,
    /// Signals that fired at that moment.
    pub reasons: Vec<Hit>,
}

/// The event whose re-evaluation of a business changed its status.
///
/// Written (in reports, explanations and snapshots) as its text: `message ID`, `feedback KIND
/// from RECIPIENT`, `delivery of ID`, `business record` or `time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A message, by id.
    Message(String),
    /// Feedback of a kind from a recipient.
    Feedback {
        /// What the recipient did.
        kind: FeedbackKind,
        /// Who.
        from: String,
    },
    /// A delivery receipt for a message, by the message's id.
    Delivery(String),
    /// A `business` record.
    Business,
    /// The passing of event time (the end of a replay, a query).
    Time,
}

impl Trigger {
    /// The message that tipped the change, if a message did.
    pub fn message(&self) -> Option<&str> {
        match self {
            Trigger::Message(id) => Some(id),
            _ => None,
        }
    }

    /// Reads a trigger back from its text; `None` for text no trigger writes.
    pub fn parse(text: &str) -> Option<Trigger> {
        if let Some(id) = text.strip_prefix("message ") {
            return Some(Trigger::Message(id.to_owned()));
        }
        if let Some(id) = text.strip_prefix("delivery of ") {
            return Some(Trigger::Delivery(id.to_owned()));
        }
        if let Some(rest) = text.strip_prefix("feedback ") {
            let (kind, from) = rest.split_once(" from ")?;
            let kind = FeedbackKind::ALL.into_iter().find(|k| k.name() == kind)?;
            return Some(Trigger::Feedback {
                kind,
                from: from.to_owned(),
            });
        }
        match text {
            "business record" => Some(Trigger::Business),
            "time" => Some(Trigger::Time),
            _ => None,
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Message(id) => write!(f, "message {id}"),
            Trigger::Feedback { kind, from } => write!(f, "feedback {} from {from}", kind.name()),
            Trigger::Delivery(id) => write!(f, "delivery of {id}"),
            Trigger::Business => f.write_str("business record"),
            Trigger::Time => f.write_str("time"),
        }
    }
}

impl Serialize for Trigger {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Encoded as its text, as when the trigger was a string, so snapshots keep their bytes.
impl Encode for Trigger {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.to_string().encode(encoder)
    }
}

impl<Ctx> Decode<Ctx> for Trigger {
    fn decode<D: Decoder<Context = Ctx>>(decoder: &mut D) -> Result<Self, DecodeError> {
        let text = String::decode(decoder)?;
        Trigger::parse(&text).ok_or_else(|| {
            DecodeError::OtherString(format!("{text:?} is not a status change's trigger"))
        })
    }
}

impl<'de, Ctx> BorrowDecode<'de, Ctx> for Trigger {
    fn borrow_decode<D: BorrowDecoder<'de, Context = Ctx>>(
        decoder: &mut D,
    ) -> Result<Self, DecodeError> {
        Self::decode(decoder)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::signal::Signal;
    use crate::window::Span;

    /// Text with what JSON must escape (quotes, backslashes, controls), non-ASCII and plain.
    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('\n'),
                Just('\u{1}'),
                Just('\u{1f}'),
                Just('\u{7f}'),
                Just('é'),
                Just('😀'),
                prop::char::range('a', 'z'),
            ],
            0..12,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    /// Numbers of every kind a verdict may hold, the non-finite included.
    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (0.0..1.0f64),
            (0u32..100_000).prop_map(f64::from),
            Just(0.0),
            Just(-0.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(1e-300),
            Just(1e21),
        ]
    }

    fn hit() -> impl Strategy<Value = Hit> {
        (
            0..Signal::ALL.len(),
            number(),
            number(),
            prop::option::of(0..4usize),
            prop::option::of(number()),
            prop::option::of(text()),
        )
            .prop_map(|(s, value, threshold, window, probability, detail)| Hit {
                signal: Signal::ALL[s],
                value,
                threshold,
                window: window.map(|w| [Span::Minute, Span::Hour, Span::Day, Span::Week][w]),
                probability,
                detail,
            })
    }

    /// The names reports, explanations and the HTML report print, and that JSON carries.
    #[test]
    fn actions_statuses_and_qualities_are_named_as_in_reports() {
        let actions: Vec<String> = Action::ALL.iter().map(|a| a.to_string()).collect();
        assert_eq!(actions, ["allow", "throttle", "hold", "block"]);
        let statuses = [Status::Active, Status::Throttled, Status::Suspended];
        let names: Vec<String> = statuses.iter().map(|s| s.to_string()).collect();
        assert_eq!(names, ["active", "throttled", "suspended"]);
        let qualities = [Quality::High, Quality::Medium, Quality::Low];
        let names: Vec<String> = qualities.iter().map(|q| q.to_string()).collect();
        assert_eq!(names, ["high", "medium", "low"]);
        for s in statuses {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for q in qualities {
            assert_eq!(
                serde_json::to_string(&q).unwrap(),
                format!("\"{}\"", q.as_str())
            );
        }
    }

    proptest! {
        #[test]
        fn written_json_is_serde_jsons(
            message in text(),
            business in text(),
            action in 0..4usize,
            score in number(),
            reasons in prop::collection::vec(hit(), 0..4),
        ) {
            let v = Verdict { message, business, action: Action::ALL[action], score, reasons };
            let mut written = b"kept".to_vec();
            v.write_json(&mut written);
            let expected = [b"kept".to_vec(), serde_json::to_vec(&v).unwrap()].concat();
            prop_assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
    }

    fn triggers() -> Vec<Trigger> {
        vec![
            Trigger::Message("m-1 of 2".into()),
            Trigger::Feedback {
                kind: FeedbackKind::OptOut,
                from: "r from r".into(),
            },
            Trigger::Feedback {
                kind: FeedbackKind::Report,
                from: String::new(),
            },
            Trigger::Delivery("delivery of m".into()),
            Trigger::Business,
            Trigger::Time,
        ]
    }

    #[test]
    fn a_trigger_reads_back_from_its_text() {
        let texts: Vec<String> = triggers().iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "message m-1 of 2",
                "feedback opt_out from r from r",
                "feedback report from ",
                "delivery of delivery of m",
                "business record",
                "time"
            ]
        );
        for t in triggers() {
            assert_eq!(Trigger::parse(&t.to_string()), Some(t));
        }
        for bad in [
            "",
            "times",
            "feedback like from r",
            "feedback block",
            "Message m",
        ] {
            assert_eq!(Trigger::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_trigger_is_encoded_as_its_text() {
        let config = bincode::config::standard();
        for t in triggers() {
            let bytes = bincode::encode_to_vec(&t, config).unwrap();
            assert_eq!(
                bytes,
                bincode::encode_to_vec(t.to_string(), config).unwrap()
            );
            let (back, read): (Trigger, usize) =
                bincode::decode_from_slice(&bytes, config).unwrap();
            assert_eq!((back, read), (t.clone(), bytes.len()));
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("{:?}", t.to_string())
            );
        }
        let bad = bincode::encode_to_vec("feedback like from r", config).unwrap();
        let refused = bincode::decode_from_slice::<Trigger, _>(&bad, config).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("not a status change's trigger"),
            "{refused}"
        );
    }
}
