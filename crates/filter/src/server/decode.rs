//! Request bodies: one event object, or a JSON array of them, in the JSON of the log contract.
//!
//! A body is checked whole before any of its events is applied, so a batch is taken or refused
//! as one. Each element goes through [`Event::from_json`], the log reader's own decoder, so the
//! service accepts exactly what a log line may hold and names the same field when it does not;
//! the array itself is split with borrowed raw values, without building a JSON tree.

use serde_json::value::RawValue;
use spamward_core::{DecodeError, DecodeErrorKind, Event};

use super::ApiError;

/// Which route a body came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `POST /v1/check`: messages only; `type` may be left out.
    Check,
    /// `POST /v1/events`: feedback, delivery and business events.
    Events,
}

/// A decoded body.
#[derive(Debug)]
pub(super) struct Batch {
    /// The events, in body order.
    pub events: Vec<Event>,
    /// Whether they came as an array (answered with an array) or as one object.
    pub array: bool,
}

/// A UTF-8 byte order mark, accepted at the start of a body.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decodes a whole body, or says what is wrong with it: which element (`index`, in an array),
/// which field, and why.
pub(super) fn batch(body: &[u8], kind: Kind, max_batch: usize) -> Result<Batch, ApiError> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(ApiError::bad_request(
            "empty body: expected an event object or an array of them",
        )),
        Some(b'[') => {
            let raws: Vec<&RawValue> = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
            if raws.len() > max_batch {
                return Err(ApiError::too_large(format!(
                    "a batch of {} events is over the limit of {max_batch}",
                    raws.len()
                )));
            }
            let events = raws
                .iter()
                .enumerate()
                .map(|(i, raw)| one(raw.get().as_bytes(), kind, Some(i)))
                .collect::<Result<_, _>>()?;
            Ok(Batch {
                events,
                array: true,
            })
        }
        Some(_) => Ok(Batch {
            events: vec![one(body, kind, None)?],
            array: false,
        }),
    }
}

/// One event of the body, at `index` in an array.
fn one(raw: &[u8], kind: Kind, index: Option<usize>) -> Result<Event, ApiError> {
    let decoded = match Event::from_json(raw) {
        Err(e) if kind == Kind::Check && type_missing(&e) => untyped_message(raw),
        decoded => decoded,
    };
    let ev = decoded.map_err(|e| {
        ApiError::bad_request(e.to_string())
            .field(e.field())
            .index(index)
    })?;
    let wrong_route = match (kind, &ev) {
        (Kind::Check, Event::Message(_))
        | (Kind::Events, Event::Feedback(_))
        | (Kind::Events, Event::Delivery(_))
        | (Kind::Events, Event::Business(_)) => None,
        (Kind::Check, other) => Some(format!(
            "field `type`: {:?} events go to POST /v1/events; /v1/check takes messages",
            other.type_name()
        )),
        (Kind::Events, _) => Some(
            "field `type`: messages go to POST /v1/check, which answers their verdicts".to_owned(),
        ),
    };
    match wrong_route {
        None => Ok(ev),
        Some(why) => Err(ApiError::bad_request(why).field(Some("type")).index(index)),
    }
}

fn type_missing(e: &DecodeError) -> bool {
    e.field() == Some("type") && matches!(e.kind(), DecodeErrorKind::MissingField)
}

/// A message sent without its `type` (or with `"type": null`): read as one with
/// `"type":"message"`.
fn untyped_message(raw: &[u8]) -> Result<Event, DecodeError> {
    // The usual case, an object with no `type` key: splice the tag in after the opening brace.
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    if raw.get(start) == Some(&b'{') {
        let mut typed = Vec::with_capacity(raw.len() + 18);
        typed.extend_from_slice(br#"{"type":"message","#);
        typed.extend_from_slice(&raw[start + 1..]);
        if let Ok(ev) = Event::from_json(&typed) {
            return Ok(ev);
        }
    }
    // Anything else (`{}`, a null `type`, a bad field): set the tag on the parsed object, so the
    // error, if any, is the one the object itself deserves.
    match serde_json::from_slice::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(mut object)) => {
            object.insert("type".to_owned(), "message".into());
            let typed = serde_json::to_vec(&object).expect("a JSON object serialises");
            Event::from_json(&typed)
        }
        _ => Event::from_json(raw),
    }
}
