//! The Parquet format: a log as one flat table whose columns are the JSON Lines fields.
//!
//! Message logs in data lakes are Parquet, so a log written here reads in any query engine and a
//! table exported from one reads here. The table has one row per event and one column per field
//! of the canonical JSON ([`Event::write_json`]), in its order: `type`, then the union of every
//! event type's fields (`id`, `ts`, `business`, `recipient`, `category`, `template`, `text`, `kind`,
//! `message`, `status`, `error`, `tier`, `verified`, `created`). A field an event type does not
//! have is null. Strings are UTF-8 strings, `ts` and `created` 64-bit integers of milliseconds
//! (read also as unsigned integers or millisecond timestamps), `verified` a boolean.
//!
//! Rows are held to the JSON Lines contract exactly as a JSON line is: a row is checked against its
//! `type` and [`Event::check_contract`], and a bad row is a skippable error naming the row and the
//! column. A column the file does not have reads as null in every row, so a table of messages
//! alone needs no `tier` column; extra columns are ignored and never read. What spoils the file
//! rather than a row (no `PAR1` magic, a damaged footer or page, an I/O error) is fatal.
//!
//! Reading goes row group by row group, a batch of [`BATCH_ROWS`] rows at a time, so memory is
//! bounded by one row group's compressed columns and one decoded batch, never by the file. The
//! footer holds the index, so a Parquet log must be read from a file, not from a pipe. Writing
//! buffers [`ROW_GROUP_ROWS`] rows and writes them as one row group, zstd-compressed; the file is
//! readable once [`Writer::finish`] has written the footer.

use std::fs::File;
use std::io;
use std::sync::Arc;

use ::parquet::arrow::ArrowWriter;
use ::parquet::arrow::ProjectionMask;
use ::parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::file::properties::WriterProperties;
use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use spamward_core::event::{DecodeError, DecodeErrorKind};
use spamward_core::{
    BusinessInfo, Category, Delivery, DeliveryStatus, Event, Feedback, FeedbackKind, Message, Tier,
    Timestamp,
};

use crate::error::{Location, ReadError, ReadErrorKind};

/// The first (and last) four bytes of every Parquet file.
pub const MAGIC: [u8; 4] = *b"PAR1";

/// Rows per row group written.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Rows per decoded batch when reading.
pub const BATCH_ROWS: usize = 8 * 1024;

/// The zstd level of the column chunks: the same speed-for-size choice as `.zst` logs.
const ZSTD_LEVEL: i32 = 3;

/// The columns, in the order of the canonical JSON's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Type,
    Id,
    Ts,
    Business,
    Recipient,
    Category,
    Template,
    Text,
    Kind,
    Message,
    Status,
    Error,
    Tier,
    Verified,
    Created,
}

/// What a column holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holds {
    Str,
    Millis,
    Bool,
}

/// Every column: its name and what it holds, indexed by [`Col`].
const COLUMNS: [(&str, Holds); 15] = [
    ("type", Holds::Str),
    ("id", Holds::Str),
    ("ts", Holds::Millis),
    ("business", Holds::Str),
    ("recipient", Holds::Str),
    ("category", Holds::Str),
    ("template", Holds::Str),
    ("text", Holds::Str),
    ("kind", Holds::Str),
    ("message", Holds::Str),
    ("status", Holds::Str),
    ("error", Holds::Str),
    ("tier", Holds::Str),
    ("verified", Holds::Bool),
    ("created", Holds::Millis),
];

impl Col {
    fn name(self) -> &'static str {
        COLUMNS[self as usize].0
    }
}

/// The schema written: `type` is never null, every other column may be.
pub fn schema() -> SchemaRef {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|&(name, holds)| {
            let data_type = match holds {
                Holds::Str => DataType::Utf8,
                Holds::Millis => DataType::Int64,
                Holds::Bool => DataType::Boolean,
            };
            Field::new(name, data_type, name != "type")
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// An enum of the contract and its names in it, for both directions.
trait Named: Copy + PartialEq + 'static {
    const NAMES: &'static [(Self, &'static str)];

    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(v, _)| *v == self)
            .map(|(_, name)| *name)
            .expect("every value is named")
    }

    fn parse(field: Col, s: &str) -> Result<Self, DecodeError> {
        if let Some((v, _)) = Self::NAMES.iter().find(|(_, name)| *name == s) {
            return Ok(*v);
        }
        let names: Vec<String> = Self::NAMES.iter().map(|(_, n)| format!("{n:?}")).collect();
        let (last, rest) = names.split_last().expect("no empty enums");
        Err(DecodeError::new(
            Some(field.name()),
            DecodeErrorKind::InvalidValue(format!(
                "expected one of {} or {last}, found {s:?}",
                rest.join(", ")
            )),
        ))
    }
}

impl Named for Category {
    const NAMES: &'static [(Self, &'static str)] = &[
        (Category::Marketing, "marketing"),
        (Category::Utility, "utility"),
        (Category::Authentication, "authentication"),
        (Category::Service, "service"),
    ];
}

impl Named for FeedbackKind {
    const NAMES: &'static [(Self, &'static str)] = &[
        (FeedbackKind::Block, "block"),
        (FeedbackKind::Report, "report"),
        (FeedbackKind::OptOut, "opt_out"),
        (FeedbackKind::Read, "read"),
        (FeedbackKind::Reply, "reply"),
    ];
}

impl Named for DeliveryStatus {
    const NAMES: &'static [(Self, &'static str)] = &[
        (DeliveryStatus::Delivered, "delivered"),
        (DeliveryStatus::Failed, "failed"),
    ];
}

impl Named for Tier {
    const NAMES: &'static [(Self, &'static str)] = &[
        (Tier::T250, "250"),
        (Tier::T2k, "2k"),
        (Tier::T10k, "10k"),
        (Tier::T100k, "100k"),
        (Tier::Unlimited, "unlimited"),
    ];
}

/// Writes events as rows, a row group at a time.
pub(crate) struct Writer<W: io::Write + Send> {
    out: ArrowWriter<W>,
    columns: Builders,
    rows: usize,
}

impl<W: io::Write + Send> Writer<W> {
    pub(crate) fn new(w: W) -> io::Result<Writer<W>> {
        let level = ZstdLevel::try_new(ZSTD_LEVEL).map_err(io::Error::other)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let out = ArrowWriter::try_new(w, schema(), Some(props)).map_err(io::Error::other)?;
        Ok(Writer {
            out,
            columns: Builders::default(),
            rows: 0,
        })
    }

    pub(crate) fn write(&mut self, event: &Event) -> io::Result<()> {
        self.columns.push(event);
        self.rows += 1;
        if self.rows == ROW_GROUP_ROWS {
            self.end_row_group()?;
        }
        Ok(())
    }

    /// Writes the rows buffered so far as a row group (none if there are none).
    pub(crate) fn end_row_group(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        self.rows = 0;
        let batch = RecordBatch::try_new(schema(), self.columns.finish())
            .expect("the builders follow the schema");
        self.out.write(&batch).map_err(io::Error::other)?;
        self.out.flush().map_err(io::Error::other)
    }

    /// Writes the last row group and the footer, and hands back the output.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.end_row_group()?;
        // Writes the footer on the way out.
        self.out.into_inner().map_err(io::Error::other)
    }
}

/// One builder per column.
#[derive(Default)]
struct Builders {
    strings: [StringBuilder; 12],
    ts: Int64Builder,
    verified: BooleanBuilder,
    created: Int64Builder,
}

/// The string columns' places in [`Builders::strings`]: their order among the columns.
fn string_slot(col: Col) -> usize {
    COLUMNS[..col as usize]
        .iter()
        .filter(|(_, holds)| *holds == Holds::Str)
        .count()
}

impl Builders {
    fn push(&mut self, event: &Event) {
        let mut strings: [Option<&str>; 12] = [None; 12];
        let slot = string_slot;
        strings[slot(Col::Type)] = Some(event.type_name());
        let (ts, verified, created) = match event {
            Event::Message(m) => {
                strings[slot(Col::Id)] = Some(&m.id);
                strings[slot(Col::Business)] = Some(&m.business);
                strings[slot(Col::Recipient)] = Some(&m.recipient);
                strings[slot(Col::Category)] = Some(m.category.name());
                strings[slot(Col::Template)] = m.template.as_deref();
                strings[slot(Col::Text)] = Some(&m.text);
                (m.ts, None, None)
            }
            Event::Feedback(f) => {
                strings[slot(Col::Business)] = Some(&f.business);
                strings[slot(Col::Recipient)] = Some(&f.recipient);
                strings[slot(Col::Kind)] = Some(f.kind.name());
                strings[slot(Col::Message)] = f.message.as_deref();
                (f.ts, None, None)
            }
            Event::Delivery(d) => {
                strings[slot(Col::Business)] = Some(&d.business);
                strings[slot(Col::Recipient)] = Some(&d.recipient);
                strings[slot(Col::Message)] = Some(&d.message);
                strings[slot(Col::Status)] = Some(d.status.name());
                strings[slot(Col::Error)] = d.error.as_deref();
                (d.ts, None, None)
            }
            Event::Business(b) => {
                strings[slot(Col::Business)] = Some(&b.business);
                strings[slot(Col::Tier)] = Some(b.tier.name());
                (b.ts, Some(b.verified), Some(b.created))
            }
        };
        for (builder, value) in self.strings.iter_mut().zip(strings) {
            builder.append_option(value);
        }
        // Times within the contract fit an i64 with room to spare.
        self.ts.append_value(ts.as_millis() as i64);
        self.verified.append_option(verified);
        self.created
            .append_option(created.map(|t| t.as_millis() as i64));
    }

    /// The columns in schema order, leaving the builders empty.
    fn finish(&mut self) -> Vec<ArrayRef> {
        let mut strings = self
            .strings
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef);
        COLUMNS
            .iter()
            .map(|&(name, holds)| match (holds, name) {
                (Holds::Str, _) => strings.next().expect("one builder per string column"),
                (Holds::Millis, "ts") => Arc::new(self.ts.finish()) as ArrayRef,
                (Holds::Millis, _) => Arc::new(self.created.finish()) as ArrayRef,
                (Holds::Bool, _) => Arc::new(self.verified.finish()) as ArrayRef,
            })
            .collect()
    }
}

/// Reads a Parquet log's rows as events, batch by batch.
pub(crate) struct Rows {
    name: Arc<str>,
    batches: ParquetRecordBatchReader,
    /// Each column's place in a batch, or `None` when the file does not have it.
    places: [Option<usize>; 15],
    batch: Option<RecordBatch>,
    /// Next row of `batch` to read.
    at: usize,
    /// Rows begun so far.
    row: u64,
    rows_total: u64,
    file_bytes: u64,
    done: bool,
}

impl Rows {
    /// Opens the file, reads its footer and picks the columns to read. Fails with a description
    /// when the file is not readable Parquet.
    pub(crate) fn open(name: Arc<str>, file: File) -> Result<Rows, String> {
        let file_bytes = file.metadata().map_err(|e| e.to_string())?.len();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
        let rows_total = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        // Top-level columns of the file that are ours, by their position in the file.
        let fields = builder.schema().fields();
        let mut wanted: Vec<(usize, usize)> = COLUMNS
            .iter()
            .enumerate()
            .filter_map(|(col, (name, _))| {
                let at = fields.iter().position(|f| f.name() == name)?;
                Some((at, col))
            })
            .collect();
        wanted.sort_unstable();
        let mut places = [None; 15];
        for (place, &(_, col)) in wanted.iter().enumerate() {
            places[col] = Some(place);
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().map(|w| w.0));
        let batches = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Rows {
            name,
            batches,
            places,
            batch: None,
            at: 0,
            row: 0,
            rows_total,
            file_bytes,
            done: false,
        })
    }

    /// Bytes of the file accounted for: in proportion to the rows read, all of it at the end.
    pub(crate) fn bytes_read(&self) -> u64 {
        if self.done || self.rows_total == 0 {
            return if self.done { self.file_bytes } else { 0 };
        }
        let share = self.row.min(self.rows_total) as u128 * self.file_bytes as u128;
        (share / self.rows_total as u128) as u64
    }

    /// The next row's event, or the error in its place; `None` at the end or after a fatal error.
    pub(crate) fn next_row(&mut self) -> Option<Result<(u64, Event), ReadError>> {
        if self.done {
            return None;
        }
        loop {
            if let Some(batch) = &self.batch
                && self.at < batch.num_rows()
            {
                break;
            }
            match self.batches.next() {
                Some(Ok(batch)) => {
                    self.batch = Some(batch);
                    self.at = 0;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(ReadError::new(
                        &self.name,
                        Location::Row(self.row + 1),
                        true,
                        ReadErrorKind::Corrupt(e.to_string()),
                    )));
                }
                None => {
                    self.done = true;
                    return None;
                }
            }
        }
        let batch = self.batch.as_ref().expect("a batch with rows left");
        self.row += 1;
        let row = RowView {
            batch,
            places: &self.places,
            i: self.at,
        };
        self.at += 1;
        Some(match decode(&row) {
            Ok(event) => Ok((self.row, event)),
            Err(e) => Err(ReadError::new(
                &self.name,
                Location::Row(self.row),
                false,
                ReadErrorKind::Decode(e),
            )),
        })
    }
}

/// One row of a batch, read column by column.
struct RowView<'a> {
    batch: &'a RecordBatch,
    places: &'a [Option<usize>; 15],
    i: usize,
}

impl<'a> RowView<'a> {
    fn column(&self, col: Col) -> Option<&'a ArrayRef> {
        self.places[col as usize].map(|place| self.batch.column(place))
    }

    fn opt_str(&self, col: Col) -> Result<Option<&'a str>, DecodeError> {
        let Some(array) = self.column(col) else {
            return Ok(None);
        };
        if array.is_null(self.i) {
            return Ok(None);
        }
        let i = self.i;
        Ok(Some(match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().value(i),
            DataType::LargeUtf8 => array.as_string::<i64>().value(i),
            DataType::Utf8View => array.as_string_view().value(i),
            other => {
                return Err(DecodeError::new(
                    Some(col.name()),
                    DecodeErrorKind::InvalidValue(format!(
                        "the column holds {other}, expected strings"
                    )),
                ));
            }
        }))
    }

    fn str(&self, col: Col) -> Result<&'a str, DecodeError> {
        self.opt_str(col)?.ok_or_else(|| missing(col))
    }

    fn string(&self, col: Col) -> Result<String, DecodeError> {
        self.str(col).map(str::to_owned)
    }

    fn opt_string(&self, col: Col) -> Result<Option<String>, DecodeError> {
        Ok(self.opt_str(col)?.map(str::to_owned))
    }

    fn choice<T: Named>(&self, col: Col) -> Result<T, DecodeError> {
        T::parse(col, self.str(col)?)
    }

    /// A time in milliseconds; whether it lies in the contract's range is
    /// [`Event::check_contract`]'s to say.
    fn time(&self, col: Col) -> Result<Timestamp, DecodeError> {
        let array = self.column(col).ok_or_else(|| missing(col))?;
        if array.is_null(self.i) {
            return Err(missing(col));
        }
        let i = self.i;
        let signed = match array.data_type() {
            DataType::UInt64 => {
                let ms = array.as_primitive::<UInt64Type>().value(i);
                return Ok(Timestamp::from_millis(ms));
            }
            DataType::Int64 => array.as_primitive::<Int64Type>().value(i),
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                array.as_primitive::<TimestampMillisecondType>().value(i)
            }
            other => {
                return Err(DecodeError::new(
                    Some(col.name()),
                    DecodeErrorKind::BadTimestamp(format!(
                        "the column holds {other}, expected 64-bit integers of milliseconds"
                    )),
                ));
            }
        };
        u64::try_from(signed)
            .map(Timestamp::from_millis)
            .map_err(|_| {
                DecodeError::new(
                    Some(col.name()),
                    DecodeErrorKind::BadTimestamp(format!(
                        "{signed} is not a whole, non-negative number of milliseconds"
                    )),
                )
            })
    }

    fn flag(&self, col: Col) -> Result<bool, DecodeError> {
        let array = self.column(col).ok_or_else(|| missing(col))?;
        if array.is_null(self.i) {
            return Err(missing(col));
        }
        match array.data_type() {
            DataType::Boolean => Ok(array.as_boolean().value(self.i)),
            other => Err(DecodeError::new(
                Some(col.name()),
                DecodeErrorKind::InvalidValue(format!(
                    "the column holds {other}, expected booleans"
                )),
            )),
        }
    }
}

fn missing(col: Col) -> DecodeError {
    DecodeError::new(Some(col.name()), DecodeErrorKind::MissingField)
}

/// One row as an event, held to the JSON Lines contract.
fn decode(row: &RowView<'_>) -> Result<Event, DecodeError> {
    let event = match row.str(Col::Type)? {
        "message" => Event::Message(Message {
            id: row.string(Col::Id)?,
            ts: row.time(Col::Ts)?,
            business: row.string(Col::Business)?,
            recipient: row.string(Col::Recipient)?,
            category: row.choice(Col::Category)?,
            template: row.opt_string(Col::Template)?,
            text: row.string(Col::Text)?,
        }),
        "feedback" => Event::Feedback(Feedback {
            ts: row.time(Col::Ts)?,
            business: row.string(Col::Business)?,
            recipient: row.string(Col::Recipient)?,
            kind: row.choice(Col::Kind)?,
            message: row.opt_string(Col::Message)?,
        }),
        "delivery" => Event::Delivery(Delivery {
            ts: row.time(Col::Ts)?,
            business: row.string(Col::Business)?,
            recipient: row.string(Col::Recipient)?,
            message: row.string(Col::Message)?,
            status: row.choice(Col::Status)?,
            error: row.opt_string(Col::Error)?,
        }),
        "business" => Event::Business(BusinessInfo {
            ts: row.time(Col::Ts)?,
            business: row.string(Col::Business)?,
            tier: row.choice(Col::Tier)?,
            verified: row.flag(Col::Verified)?,
            created: row.time(Col::Created)?,
        }),
        other => {
            return Err(DecodeError::new(
                Some("type"),
                DecodeErrorKind::UnknownType(other.to_owned()),
            ));
        }
    };
    event.check_contract()?;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use arrow_array::{BooleanArray, Int64Array, StringArray};

    use super::*;
    use crate::testgen;
    use crate::{ErrorKind, Format, LogReader, LogWriter};

    fn write_log(path: &Path, events: &[Event]) {
        let mut w = LogWriter::create(path).unwrap();
        assert_eq!(w.format(), Format::Parquet);
        for event in events {
            w.write(event).unwrap();
        }
        assert_eq!(w.finish().unwrap(), events.len() as u64);
    }

    /// Reads to the end: the records as (row, event), and the errors as (row, fatal, field,
    /// message).
    type Errors = Vec<(u64, bool, Option<String>, String)>;

    fn drain(r: &mut LogReader) -> (Vec<(u64, Event)>, Errors) {
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for item in r.by_ref() {
            match item {
                Ok(rec) => records.push((rec.line, rec.event)),
                Err(e) => errors.push((
                    e.line(),
                    e.is_fatal(),
                    e.field().map(str::to_owned),
                    e.to_string(),
                )),
            }
        }
        (records, errors)
    }

    /// Several row groups and batches, every event type and optional field, odd texts.
    #[test]
    fn events_round_trip_through_row_groups() {
        let events = testgen::events(ROW_GROUP_ROWS + 3 * BATCH_ROWS + 17, 59);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        write_log(&path, &events);

        let mut r = LogReader::open(&path).unwrap();
        assert_eq!((r.format(), r.is_compressed()), (Format::Parquet, false));
        assert_eq!(r.bytes_read(), 0);
        let (records, errors) = drain(&mut r);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(r.bytes_read(), std::fs::metadata(&path).unwrap().len());
        let rows: Vec<u64> = records.iter().map(|(row, _)| *row).collect();
        assert_eq!(rows, (1..=events.len() as u64).collect::<Vec<_>>());
        let read: Vec<Event> = records.into_iter().map(|(_, e)| e).collect();
        assert!(read == events, "events differ after the round trip");

        // Two row groups, the first full; the same events give the same bytes.
        let file = File::open(&path).unwrap();
        let meta = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .metadata()
            .clone();
        let groups: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, [ROW_GROUP_ROWS as i64, 3 * BATCH_ROWS as i64 + 17]);
        let again = dir.path().join("again.parquet");
        write_log(&again, &events);
        assert!(std::fs::read(&path).unwrap() == std::fs::read(&again).unwrap());
    }

    #[test]
    fn the_columns_are_the_json_fields() {
        let schema = schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "type",
                "id",
                "ts",
                "business",
                "recipient",
                "category",
                "template",
                "text",
                "kind",
                "message",
                "status",
                "error",
                "tier",
                "verified",
                "created"
            ]
        );
        // Every field of every event's JSON is a column, under the same name and value.
        for event in testgen::events(8, 61) {
            let json: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
            for (field, value) in json.as_object().unwrap() {
                assert!(names.contains(&field.as_str()), "{field}");
                if let serde_json::Value::String(s) = value
                    && ["category", "kind", "status", "tier"].contains(&field.as_str())
                {
                    let named = match &event {
                        Event::Message(m) => m.category.name(),
                        Event::Feedback(f) => f.kind.name(),
                        Event::Delivery(d) => d.status.name(),
                        Event::Business(b) => b.tier.name(),
                    };
                    assert_eq!(named, s);
                }
            }
        }
    }

    fn strings(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn ints(values: &[Option<i64>]) -> ArrayRef {
        Arc::new(Int64Array::from(values.to_vec()))
    }

    /// Three good rows: a message, a feedback and a business record.
    fn good_columns() -> Vec<(String, ArrayRef)> {
        let t = Some(1_764_000_000_000);
        vec![
            (
                "type",
                strings(&[Some("message"), Some("feedback"), Some("business")]),
            ),
            ("id", strings(&[Some("m-1"), None, None])),
            ("ts", ints(&[t, t, t])),
            (
                "business",
                strings(&[Some("b-1"), Some("b-1"), Some("b-1")]),
            ),
            ("recipient", strings(&[Some("r-1"), Some("r-1"), None])),
            ("category", strings(&[Some("marketing"), None, None])),
            ("text", strings(&[Some("hello"), None, None])),
            ("kind", strings(&[None, Some("block"), None])),
            ("message", strings(&[None, Some("m-1"), None])),
            ("tier", strings(&[None, None, Some("2k")])),
            (
                "verified",
                Arc::new(BooleanArray::from(vec![None, None, Some(true)])),
            ),
            ("created", ints(&[None, None, Some(1_730_000_000_000)])),
            // Not ours: ignored.
            ("campaign", strings(&[Some("x"), None, Some("y")])),
        ]
        .into_iter()
        .map(|(name, array)| (name.to_owned(), array))
        .collect()
    }

    /// Puts `array` in place of the column `name`.
    fn set(columns: &mut Vec<(String, ArrayRef)>, name: &str, array: ArrayRef) {
        columns.retain(|(n, _)| n != name);
        columns.push((name.to_owned(), array));
    }

    fn drop_column(columns: &mut Vec<(String, ArrayRef)>, name: &str) {
        columns.retain(|(n, _)| n != name);
    }

    fn write_table(path: &Path, columns: &[(String, ArrayRef)]) {
        let batch = RecordBatch::try_from_iter(
            columns
                .iter()
                .map(|(name, array)| (name, Arc::clone(array))),
        )
        .unwrap();
        let file = File::create(path).unwrap();
        let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    /// Each way a row can be bad, with the rows that must fail: (row, column, words).
    #[test]
    fn bad_rows_are_named_by_file_row_and_column() {
        type Change = Box<dyn Fn(&mut Vec<(String, ArrayRef)>)>;
        type Expected = Vec<(u64, &'static str, &'static str)>;
        let t = Some(1_764_000_000_000);
        let cases: Vec<(&str, Change, Expected)> = vec![
            (
                "unknown type",
                Box::new(move |c| {
                    set(
                        c,
                        "type",
                        strings(&[Some("message"), Some("wave"), Some("business")]),
                    )
                }),
                vec![(2, "type", "unknown event type \"wave\"")],
            ),
            (
                "missing column",
                Box::new(|c| drop_column(c, "tier")),
                vec![(3, "tier", "field `tier`: missing")],
            ),
            (
                "missing type column",
                Box::new(|c| drop_column(c, "type")),
                vec![
                    (1, "type", "missing"),
                    (2, "type", "missing"),
                    (3, "type", "missing"),
                ],
            ),
            (
                "null in a required field",
                Box::new(move |c| set(c, "recipient", strings(&[Some("r-1"), None, None]))),
                vec![(2, "recipient", "field `recipient`: missing")],
            ),
            (
                "wrong column type",
                Box::new(move |c| set(c, "ts", strings(&[Some("1"), Some("2"), Some("3")]))),
                vec![
                    (1, "ts", "field `ts`: bad timestamp: the column holds Utf8"),
                    (2, "ts", "the column holds Utf8"),
                    (3, "ts", "the column holds Utf8"),
                ],
            ),
            (
                "wrong type of a column one row needs",
                Box::new(move |c| set(c, "verified", strings(&[None, None, Some("yes")]))),
                vec![(3, "verified", "the column holds Utf8, expected booleans")],
            ),
            (
                "wrong type of a string column",
                Box::new(move |c| set(c, "text", ints(&[Some(7), None, None]))),
                vec![(1, "text", "the column holds Int64, expected strings")],
            ),
            (
                "a time in seconds",
                Box::new(move |c| set(c, "ts", ints(&[t, Some(1_764_000_060), t]))),
                vec![(
                    2,
                    "ts",
                    "bad timestamp: 1764000060 is outside 2000-01-01..2100-01-01",
                )],
            ),
            (
                "a negative time",
                Box::new(move |c| set(c, "created", ints(&[None, None, Some(-5)]))),
                vec![(
                    3,
                    "created",
                    "bad timestamp: -5 is not a whole, non-negative number",
                )],
            ),
            (
                "an empty id",
                Box::new(move |c| set(c, "id", strings(&[Some(""), None, None]))),
                vec![(1, "id", "field `id`: empty id")],
            ),
            (
                "a value outside an enum",
                Box::new(move |c| set(c, "kind", strings(&[None, Some("love"), None]))),
                vec![(
                    2,
                    "kind",
                    "expected one of \"block\", \"report\", \"opt_out\", \"read\" or \"reply\", found \"love\"",
                )],
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.parquet");
        let name = path.display().to_string();
        // The good table reads whole.
        write_table(&path, &good_columns());
        let (good, errors) = drain(&mut LogReader::open(&path).unwrap());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(good.len(), 3);

        for (what, change, expected) in cases {
            let mut columns = good_columns();
            change(&mut columns);
            write_table(&path, &columns);
            let (records, errors) = drain(&mut LogReader::open(&path).unwrap());
            assert_eq!(errors.len(), expected.len(), "{what}: {errors:?}");
            for ((row, fatal, field, msg), (want_row, want_field, words)) in
                errors.iter().zip(&expected)
            {
                assert_eq!(*row, *want_row, "{what}: {msg}");
                assert!(!fatal, "{what}: {msg}");
                assert_eq!(field.as_deref(), Some(*want_field), "{what}: {msg}");
                let place = format!("{name}: row {row}: field `{want_field}`: ");
                assert!(msg.starts_with(&place), "{what}: {msg}");
                assert!(msg.contains(words), "{what}: {msg} should say {words:?}");
            }
            // The other rows read as they did.
            let bad: Vec<u64> = expected.iter().map(|e| e.0).collect();
            let rest: Vec<_> = good.iter().filter(|(row, _)| !bad.contains(row)).collect();
            assert_eq!(records.iter().collect::<Vec<_>>(), rest, "{what}");
        }
    }

    /// What spoils the whole file is refused on open or ends reading, never a panic.
    #[test]
    fn bad_files_are_refused_clearly() {
        let events = testgen::events(300, 67);
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| -> PathBuf { dir.path().join(name) };
        write_log(&p("good.parquet"), &events);
        let bytes = std::fs::read(p("good.parquet")).unwrap();

        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "a.parquet",
                testgen::jsonl(&events),
                "not a Parquet file (no PAR1 magic)",
            ),
            ("b.parquet", Vec::new(), "not a Parquet file"),
            (
                "c.parquet",
                bytes[..bytes.len() - 3].to_vec(),
                "unreadable Parquet file",
            ),
            (
                "d.parquet",
                bytes[..bytes.len() / 2].to_vec(),
                "unreadable Parquet file",
            ),
            (
                "e.parquet.zst",
                zstd::encode_all(&bytes[..], 3).unwrap(),
                "a zstd-compressed Parquet file; decompress it first",
            ),
            (
                "f.parquet",
                b"PAR1 and nothing else".to_vec(),
                "unreadable Parquet file",
            ),
        ];
        for (name, content, needle) in cases {
            std::fs::write(p(name), content).unwrap();
            let err = LogReader::open(&p(name)).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with(&p(name).display().to_string()), "{msg}");
            assert!(msg.contains(needle), "{name}: {msg}");
        }
        let err =
            LogReader::from_reader("-", std::io::Cursor::new(bytes.clone()), None).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::ParquetStream { zstd: false }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "-: a Parquet log must be read from a file: its index is at its end"
        );

        // Damage inside the data: a fatal error or changed values, but never a panic, and
        // nothing after a fatal error.
        let mut fatal = 0;
        for at in (4..bytes.len() - 8).step_by(97) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5a;
            std::fs::write(p("damaged.parquet"), &damaged).unwrap();
            let Ok(mut r) = LogReader::open(&p("damaged.parquet")) else {
                continue;
            };
            let (_, errors) = drain(&mut r);
            if let Some(pos) = errors.iter().position(|e| e.1) {
                assert_eq!(pos, errors.len() - 1, "{errors:?}");
                assert!(errors[pos].3.contains(": row "), "{errors:?}");
                fatal += 1;
            }
        }
        assert!(fatal > 0, "no damage was caught");
    }
}
