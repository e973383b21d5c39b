//! The event model: what happens on the platform, as spamward sees it.
//!
//! Four kinds of event, one per line in a log: a business sends a `message`, a recipient gives
//! `feedback` on it (block, report, opt-out, read, reply), the carrier reports a `delivery`, and a
//! `business` record carries what the platform already knows about an account when a log starts in
//! the middle of its history. Event time (`ts`, milliseconds since the Unix epoch) is the only clock
//! the core ever reads.
//!
//! The JSON Lines form is a contract other tools rely on, so decoding is written by hand on top of a
//! flat record: unknown fields are ignored (logs gain fields over time), an unknown `type` is an
//! error, and every error names the field it is about. Encoding goes through serde with the fields
//! in a fixed order, so a canonical line round-trips byte for byte.

use std::fmt;

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

pub use crate::time::Timestamp;

/// Earliest event time accepted: 2000-01-01T00:00:00Z. Anything earlier is a unit mistake
/// (seconds for milliseconds) or garbage.
pub const MIN_TS: Timestamp = Timestamp::from_millis(946_684_800_000);
/// Latest event time accepted (exclusive): 2100-01-01T00:00:00Z.
pub const MAX_TS: Timestamp = Timestamp::from_millis(4_102_444_800_000);

/// One event of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A business sends a message to a recipient.
    Message(Message),
    /// A recipient reacts to a business (or to one of its messages).
    Feedback(Feedback),
    /// The carrier reports whether a message reached the recipient.
    Delivery(Delivery),
    /// What the platform knows about an account at the point the log starts.
    Business(BusinessInfo),
}

/// A business-initiated or service message on its way to one recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Encode, Decode)]
pub struct Message {
    /// Message id, unique within a log.
    pub id: String,
    /// Event time in ms.
    pub ts: Timestamp,
    /// Sending business.
    pub business: String,
    /// Receiving user.
    pub recipient: String,
    /// Pricing category the business chose for the message.
    pub category: Category,
    /// Template id, when the message was sent from an approved template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The text as the recipient would see it.
    pub text: String,
}

/// A recipient's reaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Encode, Decode)]
pub struct Feedback {
    /// Event time in ms.
    pub ts: Timestamp,
    /// Business the feedback is about.
    pub business: String,
    /// The recipient who gave it.
    pub recipient: String,
    /// What the recipient did.
    pub kind: FeedbackKind,
    /// The message it reacts to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A delivery receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Encode, Decode)]
pub struct Delivery {
    /// Event time in ms.
    pub ts: Timestamp,
    /// Sending business.
    pub business: String,
    /// Intended recipient.
    pub recipient: String,
    /// The message this receipt is for.
    pub message: String,
    /// Delivered or failed.
    pub status: DeliveryStatus,
    /// The carrier's error code for a failed delivery (`invalid_number`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the platform already knows about a business when a log starts mid-history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Encode, Decode)]
pub struct BusinessInfo {
    /// Event time in ms.
    pub ts: Timestamp,
    /// The business.
    pub business: String,
    /// Its current messaging tier.
    pub tier: Tier,
    /// Whether the business completed verification.
    pub verified: bool,
    /// When the account was created, in ms.
    pub created: Timestamp,
}

/// Pricing category of a message.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Promotions and offers; opt-outs and the per-user cap apply.
    Marketing,
    /// Transaction updates: a flight moved, an order shipped.
    Utility,
    /// One-time codes.
    Authentication,
    /// Replies inside a customer-service conversation.
    Service,
}

/// What a recipient did.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// Blocked the business.
    Block,
    /// Reported the business or message as spam.
    Report,
    /// Asked to receive no more marketing (STOP).
    OptOut,
    /// Read a message.
    Read,
    /// Wrote back; opens a 24 h customer-service window.
    Reply,
}

impl FeedbackKind {
    /// Every kind, in declaration order.
    pub const ALL: [FeedbackKind; 5] = [
        FeedbackKind::Block,
        FeedbackKind::Report,
        FeedbackKind::OptOut,
        FeedbackKind::Read,
        FeedbackKind::Reply,
    ];

    /// The kind's name as the log writes it.
    pub fn name(self) -> &'static str {
        match self {
            FeedbackKind::Block => "block",
            FeedbackKind::Report => "report",
            FeedbackKind::OptOut => "opt_out",
            FeedbackKind::Read => "read",
            FeedbackKind::Reply => "reply",
        }
    }
}

/// Outcome of a delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Reached the recipient's device.
    Delivered,
    /// Did not; see the error code.
    Failed,
}

/// A messaging-limit tier: unique recipients of business-initiated messages per moving 24 h.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
pub enum Tier {
    /// 250 recipients a day: where every new business starts.
    #[serde(rename = "250")]
    T250,
    /// 2,000.
    #[serde(rename = "2k")]
    T2k,
    /// 10,000.
    #[serde(rename = "10k")]
    T10k,
    /// 100,000.
    #[serde(rename = "100k")]
    T100k,
    /// No limit.
    #[serde(rename = "unlimited")]
    Unlimited,
}

impl Tier {
    /// The ladder, bottom first.
    pub const LADDER: [Tier; 5] = [
        Tier::T250,
        Tier::T2k,
        Tier::T10k,
        Tier::T100k,
        Tier::Unlimited,
    ];

    /// Unique recipients allowed per moving 24 h; `None` for unlimited.
    pub fn limit(self) -> Option<u64> {
        match self {
            Tier::T250 => Some(250),
            Tier::T2k => Some(2_000),
            Tier::T10k => Some(10_000),
            Tier::T100k => Some(100_000),
            Tier::Unlimited => None,
        }
    }

    /// The next tier up, if any.
    pub fn up(self) -> Option<Tier> {
        let i = Tier::LADDER.iter().position(|&t| t == self)?;
        Tier::LADDER.get(i + 1).copied()
    }

    /// The next tier down, if any.
    pub fn down(self) -> Option<Tier> {
        let i = Tier::LADDER.iter().position(|&t| t == self)?;
        i.checked_sub(1).map(|j| Tier::LADDER[j])
    }

    /// The name used in logs and reports (`250`, `2k`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::T250 => "250",
            Tier::T2k => "2k",
            Tier::T10k => "10k",
            Tier::T100k => "100k",
            Tier::Unlimited => "unlimited",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    /// Holds an event built elsewhere than from a JSON line (a binary record, a Parquet row) to the
    /// JSON Lines contract that [`Event::from_json`] enforces: ids non-empty, times in
    /// [`MIN_TS`, `MAX_TS`). The error is the one `from_json` gives for the same value, naming the
    /// field.
    pub fn check_contract(&self) -> Result<(), DecodeError> {
        /// Fields by name.
        type Fields<'a, T> = &'a [(&'static str, T)];
        let (times, ids): (Fields<Timestamp>, Fields<&str>) = match self {
            Event::Message(m) => (
                &[("ts", m.ts)],
                &[
                    ("id", &m.id),
                    ("business", &m.business),
                    ("recipient", &m.recipient),
                ],
            ),
            Event::Feedback(f) => (
                &[("ts", f.ts)],
                &[("business", &f.business), ("recipient", &f.recipient)],
            ),
            Event::Delivery(d) => (
                &[("ts", d.ts)],
                &[
                    ("business", &d.business),
                    ("recipient", &d.recipient),
                    ("message", &d.message),
                ],
            ),
            Event::Business(b) => (
                &[("ts", b.ts), ("created", b.created)],
                &[("business", &b.business)],
            ),
        };
        if let Some(&(field, t)) = times.iter().find(|(_, t)| !(MIN_TS..MAX_TS).contains(t)) {
            return Err(out_of_range(field, t));
        }
        if let Some(&(field, _)) = ids.iter().find(|(_, id)| id.is_empty()) {
            return Err(empty_id(field));
        }
        Ok(())
    }

    /// Event time.
    pub fn ts(&self) -> Timestamp {
        match self {
            Event::Message(m) => m.ts,
            Event::Feedback(f) => f.ts,
            Event::Delivery(d) => d.ts,
            Event::Business(b) => b.ts,
        }
    }

    /// The business the event belongs to: the key all per-business state is partitioned by.
    pub fn business(&self) -> &str {
        match self {
            Event::Message(m) => &m.business,
            Event::Feedback(f) => &f.business,
            Event::Delivery(d) => &d.business,
            Event::Business(b) => &b.business,
        }
    }

    /// The `type` tag of the JSON form.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Message(_) => "message",
            Event::Feedback(_) => "feedback",
            Event::Delivery(_) => "delivery",
            Event::Business(_) => "business",
        }
    }

    /// Decodes one JSON Lines record. Leading and trailing white space is ignored; the caller
    /// skips blank lines.
    pub fn from_json(line: &[u8]) -> Result<Event, DecodeError> {
        match serde_json::from_slice::<RawEvent<'_>>(line) {
            Ok(raw) => raw.into_event(),
            Err(e) => Err(diagnose(line, e)),
        }
    }

    /// [`Event::from_json`] of a line already known to be UTF-8 (a reader checks that first, to
    /// name the offset): its strings are then not checked again one by one.
    pub fn from_json_str(line: &str) -> Result<Event, DecodeError> {
        match serde_json::from_str::<RawEvent<'_>>(line) {
            Ok(raw) => raw.into_event(),
            Err(e) => Err(diagnose(line.as_bytes(), e)),
        }
    }

    /// Appends the canonical JSON form (no trailing newline) to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Serialising plain structs of strings and integers into a Vec cannot fail.
        serde_json::to_writer(out, self).expect("event serialises to JSON");
    }

    /// The canonical JSON form as a string.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(192);
        self.write_json(&mut out);
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }
}

/// Why a JSON record could not be read as an event. Names the field when one is to blame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    field: Option<String>,
    kind: DecodeErrorKind,
}

/// The class of a decode error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Not JSON, or not a JSON object.
    Malformed(String),
    /// The `type` is not one this version knows.
    UnknownType(String),
    /// A required field is absent (or null).
    MissingField,
    /// A field has the wrong JSON type or a value outside its set.
    InvalidValue(String),
    /// `ts` (or `created`) is not an integer millisecond time between 2000 and 2100.
    BadTimestamp(String),
}

impl DecodeError {
    /// An error about `field` (or about the record as a whole). For decoders of other encodings of
    /// the same contract, so that they report what JSON Lines decoding reports.
    pub fn new(field: Option<&str>, kind: DecodeErrorKind) -> Self {
        DecodeError {
            field: field.map(str::to_owned),
            kind,
        }
    }

    /// The field at fault, if any.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        match &self.kind {
            DecodeErrorKind::Malformed(m) => write!(f, "malformed JSON: {m}"),
            DecodeErrorKind::UnknownType(t) => write!(
                f,
                "unknown event type {t:?} (expected message, feedback, delivery or business)"
            ),
            DecodeErrorKind::MissingField => f.write_str("missing"),
            DecodeErrorKind::InvalidValue(m) => f.write_str(m),
            DecodeErrorKind::BadTimestamp(m) => write!(f, "bad timestamp: {m}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Every field any event type may carry, all optional: one pass of serde over the line, then a
/// hand-written check that knows which type needs which field. (The strings are copied: serde's
/// `Cow<str>` borrows only as a bare field, never inside an `Option`; borrowing them instead
/// made no measurable difference, as the event owns its strings anyway.)
#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow, rename = "type")]
    kind_tag: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    ts: Option<u64>,
    #[serde(borrow)]
    business: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    recipient: Option<std::borrow::Cow<'a, str>>,
    category: Option<Category>,
    #[serde(borrow)]
    template: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
    kind: Option<FeedbackKind>,
    #[serde(borrow)]
    message: Option<std::borrow::Cow<'a, str>>,
    status: Option<DeliveryStatus>,
    #[serde(borrow)]
    error: Option<std::borrow::Cow<'a, str>>,
    tier: Option<Tier>,
    verified: Option<bool>,
    created: Option<u64>,
}

type Cow<'a> = Option<std::borrow::Cow<'a, str>>;

fn required<T>(v: Option<T>, field: &str) -> Result<T, DecodeError> {
    v.ok_or_else(|| DecodeError::new(Some(field), DecodeErrorKind::MissingField))
}

fn id(v: Cow<'_>, field: &str) -> Result<String, DecodeError> {
    let s = required(v, field)?;
    if s.is_empty() {
        return Err(empty_id(field));
    }
    Ok(s.into_owned())
}

fn empty_id(field: &str) -> DecodeError {
    DecodeError::new(
        Some(field),
        DecodeErrorKind::InvalidValue("empty id".into()),
    )
}

fn time(v: Option<u64>, field: &str) -> Result<Timestamp, DecodeError> {
    let t = Timestamp::from_millis(required(v, field)?);
    if !(MIN_TS..MAX_TS).contains(&t) {
        return Err(out_of_range(field, t));
    }
    Ok(t)
}

fn out_of_range(field: &str, t: Timestamp) -> DecodeError {
    DecodeError::new(
        Some(field),
        DecodeErrorKind::BadTimestamp(format!(
            "{t} is outside 2000-01-01..2100-01-01 in milliseconds since the Unix epoch"
        )),
    )
}

impl RawEvent<'_> {
    fn into_event(self) -> Result<Event, DecodeError> {
        let tag = required(self.kind_tag, "type")?;
        Ok(match &*tag {
            "message" => Event::Message(Message {
                id: id(self.id, "id")?,
                ts: time(self.ts, "ts")?,
                business: id(self.business, "business")?,
                recipient: id(self.recipient, "recipient")?,
                category: required(self.category, "category")?,
                template: self.template.map(std::borrow::Cow::into_owned),
                text: required(self.text, "text")?.into_owned(),
            }),
            "feedback" => Event::Feedback(Feedback {
                ts: time(self.ts, "ts")?,
                business: id(self.business, "business")?,
                recipient: id(self.recipient, "recipient")?,
                kind: required(self.kind, "kind")?,
                message: self.message.map(std::borrow::Cow::into_owned),
            }),
            "delivery" => Event::Delivery(Delivery {
                ts: time(self.ts, "ts")?,
                business: id(self.business, "business")?,
                recipient: id(self.recipient, "recipient")?,
                message: id(self.message, "message")?,
                status: required(self.status, "status")?,
                error: self.error.map(std::borrow::Cow::into_owned),
            }),
            "business" => Event::Business(BusinessInfo {
                ts: time(self.ts, "ts")?,
                business: id(self.business, "business")?,
                tier: required(self.tier, "tier")?,
                verified: required(self.verified, "verified")?,
                created: time(self.created, "created")?,
            }),
            other => {
                return Err(DecodeError::new(
                    Some("type"),
                    DecodeErrorKind::UnknownType(other.to_owned()),
                ));
            }
        })
    }
}

/// The fast path failed: find out which field is to blame. Errors are rare, so this may parse the
/// line a second time, generically.
fn diagnose(line: &[u8], err: serde_json::Error) -> DecodeError {
    let value: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return DecodeError::new(None, DecodeErrorKind::Malformed(e.to_string())),
    };
    let Some(obj) = value.as_object() else {
        return DecodeError::new(
            None,
            DecodeErrorKind::Malformed("expected a JSON object".into()),
        );
    };
    use serde_json::Value;
    for (field, v) in obj {
        let problem = match (field.as_str(), v) {
            (_, Value::Null) => None,
            ("ts" | "created", Value::Number(n)) if n.as_u64().is_none() => {
                return DecodeError::new(
                    Some(field),
                    DecodeErrorKind::BadTimestamp(format!(
                        "{n} is not a whole, non-negative number of milliseconds"
                    )),
                );
            }
            ("ts" | "created", Value::Number(_)) => None,
            ("ts" | "created", other) => {
                return DecodeError::new(
                    Some(field),
                    DecodeErrorKind::BadTimestamp(format!(
                        "expected an integer in milliseconds, found {}",
                        json_kind(other)
                    )),
                );
            }
            (
                "type" | "id" | "business" | "recipient" | "template" | "text" | "message"
                | "error",
                Value::String(_),
            ) => None,
            (
                "type" | "id" | "business" | "recipient" | "template" | "text" | "message"
                | "error",
                other,
            ) => Some(format!("expected a string, found {}", json_kind(other))),
            ("verified", Value::Bool(_)) => None,
            ("verified", other) => Some(format!(
                "expected true or false, found {}",
                json_kind(other)
            )),
            ("category", v) => {
                check_enum::<Category>(v, "marketing, utility, authentication or service")
            }
            ("kind", v) => check_enum::<FeedbackKind>(v, "block, report, opt_out, read or reply"),
            ("status", v) => check_enum::<DeliveryStatus>(v, "delivered or failed"),
            ("tier", v) => {
                check_enum::<Tier>(v, "\"250\", \"2k\", \"10k\", \"100k\" or \"unlimited\"")
            }
            _ => None,
        };
        if let Some(message) = problem {
            return DecodeError::new(Some(field), DecodeErrorKind::InvalidValue(message));
        }
    }
    // Nothing specific found: report serde's own words.
    DecodeError::new(None, DecodeErrorKind::Malformed(err.to_string()))
}

fn check_enum<T: for<'de> Deserialize<'de>>(
    v: &serde_json::Value,
    expected: &str,
) -> Option<String> {
    match T::deserialize(v) {
        Ok(_) => None,
        Err(_) => Some(format!("expected one of {expected}, found {v}")),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLES: [&str; 4] = [
        r#"{"type":"message","id":"m-1","ts":1764000000000,"business":"b-17","recipient":"r-9312","category":"marketing","template":"t-3","text":"Flash sale! 50% off today only: https://shop.example/s"}"#,
        r#"{"type":"feedback","ts":1764000060000,"business":"b-17","recipient":"r-9312","kind":"block","message":"m-1"}"#,
        r#"{"type":"delivery","ts":1764000001000,"business":"b-17","recipient":"r-9312","message":"m-1","status":"failed","error":"invalid_number"}"#,
        r#"{"type":"business","ts":1763999999999,"business":"b-17","tier":"10k","verified":true,"created":1730000000000}"#,
    ];

    #[test]
    fn canonical_lines_round_trip() {
        for line in EXAMPLES {
            let ev = Event::from_json(line.as_bytes()).unwrap();
            assert_eq!(ev.to_json(), line);
            assert_eq!(Event::from_json_str(line).unwrap(), ev);
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let line = r#"{"type":"feedback","ts":1764000060000,"business":"b-17","recipient":"r-9312","kind":"read","x":{"nested":[1,2]},"y":null}"#;
        let ev = Event::from_json(line.as_bytes()).unwrap();
        assert_eq!(ev.business(), "b-17");
        assert_eq!(ev.type_name(), "feedback");
    }

    /// Each bad line and the field (if any) and error class it must be reported with.
    #[test]
    fn errors_name_the_field() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            (r#"{"type":"message","id":"m-1""#, None, "malformed JSON"),
            (r#"[1,2]"#, None, "malformed JSON"),
            (
                r#"{"type":"wave","ts":1764000000000}"#,
                Some("type"),
                "unknown event type",
            ),
            (r#"{"ts":1764000000000}"#, Some("type"), "missing"),
            (
                r#"{"type":"feedback","ts":1764000060000,"recipient":"r","kind":"read"}"#,
                Some("business"),
                "missing",
            ),
            (
                r#"{"type":"feedback","ts":"yesterday","business":"b","recipient":"r","kind":"read"}"#,
                Some("ts"),
                "bad timestamp",
            ),
            (
                r#"{"type":"feedback","ts":-5,"business":"b","recipient":"r","kind":"read"}"#,
                Some("ts"),
                "bad timestamp",
            ),
            (
                r#"{"type":"feedback","ts":1764000060.5,"business":"b","recipient":"r","kind":"read"}"#,
                Some("ts"),
                "bad timestamp",
            ),
            (
                r#"{"type":"feedback","ts":1764000060,"business":"b","recipient":"r","kind":"read"}"#,
                Some("ts"),
                "bad timestamp",
            ),
            (
                r#"{"type":"feedback","ts":1764000060000,"business":"b","recipient":"r","kind":"love"}"#,
                Some("kind"),
                "expected one of",
            ),
            (
                r#"{"type":"message","id":"m","ts":1764000060000,"business":"b","recipient":"r","category":"marketing","text":7}"#,
                Some("text"),
                "expected a string",
            ),
            (
                r#"{"type":"message","id":"","ts":1764000060000,"business":"b","recipient":"r","category":"marketing","text":""}"#,
                Some("id"),
                "empty id",
            ),
            (
                r#"{"type":"business","ts":1764000060000,"business":"b","tier":"5k","verified":true,"created":1730000000000}"#,
                Some("tier"),
                "expected one of",
            ),
        ];
        let more: &[(&str, Option<&str>, &str)] = &[
            // Fields that are fine are not blamed for another's fault.
            (
                r#"{"type":"business","ts":1764000060000,"business":"b","tier":"10k","verified":true}"#,
                Some("created"),
                "missing",
            ),
            (
                r#"{"type":"message","id":"m","ts":1764000060000,"business":"b","recipient":"r","template":null,"category":"marketing"}"#,
                Some("text"),
                "missing",
            ),
            (
                r#"{"type":"feedback","ts":1764000060000,"business":null,"recipient":"r","kind":"love"}"#,
                Some("kind"),
                "expected one of",
            ),
            (
                r#"{"type":"business","ts":1764000060000,"business":"b","tier":"10k","tier":"2k","verified":true,"created":1730000000000}"#,
                None,
                "duplicate field `tier`",
            ),
            // A null is an absent field.
            (
                r#"{"type":"message","id":"m","ts":1764000060000,"business":"b","recipient":"r","category":"marketing","text":null}"#,
                Some("text"),
                "missing",
            ),
            (
                r#"{"type":"business","ts":1764000060000,"business":"b","tier":"10k","verified":"yes","created":1730000000000}"#,
                Some("verified"),
                "expected true or false, found a string",
            ),
            (
                r#"{"type":"message","id":"m","ts":1764000060000,"business":"b","recipient":"r","category":5,"text":"x"}"#,
                Some("category"),
                "expected one of marketing, utility, authentication or service, found 5",
            ),
            (
                r#"{"type":"delivery","ts":1764000060000,"business":"b","recipient":"r","message":"m","status":"lost"}"#,
                Some("status"),
                "expected one of delivered or failed, found \"lost\"",
            ),
            (
                r#"{"type":"delivery","ts":1764000060000,"business":"b","recipient":"r","message":["m"],"status":"failed"}"#,
                Some("message"),
                "expected a string, found an array",
            ),
            (
                r#"{"type":"feedback","ts":true,"business":"b","recipient":"r","kind":"read"}"#,
                Some("ts"),
                "expected an integer in milliseconds, found a boolean",
            ),
        ];
        for (line, field, needle) in cases.iter().chain(more) {
            let err = Event::from_json(line.as_bytes()).unwrap_err();
            assert_eq!(Event::from_json_str(line).unwrap_err(), err, "{line}");
            assert_eq!(err.field(), *field, "{line}: {err}");
            assert!(err.to_string().contains(needle), "{line}: {err}");
        }
    }

    #[test]
    fn events_built_elsewhere_are_held_to_the_json_contract() {
        let ok: Vec<Event> = EXAMPLES
            .iter()
            .map(|l| Event::from_json_str(l).unwrap())
            .collect();
        for ev in &ok {
            assert_eq!(ev.check_contract(), Ok(()), "{ev:?}");
        }
        let mut message = ok[0].clone();
        if let Event::Message(m) = &mut message {
            m.recipient.clear();
        }
        let err = message.check_contract().unwrap_err();
        assert_eq!(err.field(), Some("recipient"));
        assert!(err.to_string().contains("empty id"), "{err}");
        // A business record's `created` is a time too, and the error is the JSON reader's.
        let mut record = ok[3].clone();
        if let Event::Business(b) = &mut record {
            b.created = Timestamp::from_millis(5);
        }
        let err = record.check_contract().unwrap_err();
        assert_eq!(err.field(), Some("created"));
        let line = EXAMPLES[3].replace("1730000000000", "5");
        assert_eq!(Event::from_json_str(&line).unwrap_err(), err);
        let mut late = ok[1].clone();
        if let Event::Feedback(f) = &mut late {
            f.ts = MAX_TS;
        }
        assert_eq!(late.check_contract().unwrap_err().field(), Some("ts"));
    }

    #[test]
    fn tiers_are_named_as_in_logs() {
        let names: Vec<String> = Tier::LADDER.iter().map(|t| t.to_string()).collect();
        assert_eq!(names, ["250", "2k", "10k", "100k", "unlimited"]);
        for t in Tier::LADDER {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
    }

    #[test]
    fn tier_ladder() {
        assert_eq!(Tier::T250.up(), Some(Tier::T2k));
        assert_eq!(Tier::Unlimited.up(), None);
        assert_eq!(Tier::T250.down(), None);
        assert_eq!(Tier::T100k.down(), Some(Tier::T10k));
        assert_eq!(Tier::T10k.limit(), Some(10_000));
        assert_eq!(Tier::Unlimited.limit(), None);
    }
}
