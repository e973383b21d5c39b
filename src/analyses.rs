//! `replay --analyses FILE`: the content analyses of a replay, kept for the next replay of the same
//! logs.
//!
//! A message's content facts depend on its text and the content heuristics (rule packs, lists,
//! model, and the code that applies them), never on the policy or on what came before. Content
//! analysis is about three quarters of a replay's CPU, and a trust-and-safety engineer replays the
//! same weeks of logs again and again while a policy change is reviewed. So the first replay with
//! `--analyses FILE` writes every message's facts to `FILE`, and later replays of the same logs
//! read them instead of analysing again — with any policy.
//!
//! A file is only used when it is certain to hold what analysis would give:
//! - its header names the heuristics: a digest of the running program (which embeds the shipped
//!   packs, lists and model, and the code) and of the `--rules` packs, names and bytes. Another
//!   build or other packs → the file is written afresh;
//! - each record holds the 64-bit hash of its message's text, checked against the message read. A
//!   record of another text (the file is of other logs), or one that cannot be decoded, stops the
//!   reading: from that batch on the facts are computed, and the file is left as it was;
//! - it is written to `FILE.partial` and renamed to `FILE` only when the logs were read to the
//!   end, with a trailer giving the number of records; a file without it is not used. A write
//!   that fails (a full disk) removes the partial file and the replay goes on computing: the
//!   analyses only save time, the verdicts are the replay's job;
//! - logs that go on past the file (another day's log after the same ones) extend it: once
//!   every record has matched, the file is copied to `FILE.partial` without its trailer and the
//!   rest is added, so it ends up the bytes a replay of all the logs writes afresh;
//! - each record also holds a checksum of its bytes, so a damaged record is never taken for facts
//!   (a byte flipped inside a number would otherwise still decode).
//!
//! Layout: `SPWANL05`, the digest (u64, little-endian), then per message in log order a record:
//! the checksum (u64: XXH3-64 of the text hash and the facts that follow the length; a damaged
//! length reads the wrong bytes, which then fail it), the facts' length (u32, at most 1 MiB),
//! the text hash (u64, XXH3-64 of the text) and the facts (bincode, standard configuration), all
//! little-endian; then `SPWEND01` and the record count (u64, little-endian). A file that exists and
//! does not start with `SPWANL` is never overwritten.

use std::fs::File;
use std::hash::Hasher;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use rayon::prelude::*;
use spamward_core::{Analyzed, Analyzer, ContentFacts, Event};
use twox_hash::XxHash3_64;

use crate::util::{RulePack, thousands};

const MAGIC: &[u8; 8] = b"SPWANL05";
/// What every version of the format starts with: a file without it is not an analyses file.
const FAMILY: &[u8; 6] = b"SPWANL";
/// The longest facts record read: a damaged length cannot claim more memory.
const MAX_RECORD: usize = 1 << 20;
const END: &[u8; 8] = b"SPWEND01";
/// Header: magic and digest.
const HEADER: u64 = 16;
/// Trailer: end mark and record count.
const TRAILER: u64 = 16;

/// The content heuristics of a command's `--rules` and the analyses file of its `--analyses`, if
/// given, kept for them: the packs are read once, for both, so the file names the heuristics the
/// command runs. The heuristics are built here unless the file fits and will be read: a pack's
/// mistake is reported before anything runs, and a run that reads every message's facts never
/// compiles the packs (the file's digest says this program built them from these bytes before).
/// With `--no-content` there is nothing to analyse or keep: no facts, and no file (the command
/// line refuses `--analyses` with it).
pub fn load(
    content: &crate::util::ContentArgs,
    path: Option<&Path>,
) -> Result<(Heuristics, Option<Analyses>)> {
    if content.no_content {
        return Ok((Heuristics::off(), None));
    }
    let packs = content
        .rules
        .as_deref()
        .map(crate::util::read_rule_packs)
        .transpose()?;
    let kept = match path {
        Some(path) => content_digest(packs.as_deref())
            .and_then(|digest| Analyses::open(path, digest))
            .map(Some),
        None => Ok(None),
    };
    let heuristics = Heuristics {
        packs,
        analyzer: OnceLock::new(),
        off: false,
    };
    if !matches!(&kept, Ok(Some(k)) if k.reading()) {
        heuristics.analyzer()?;
    }
    Ok((heuristics, kept?))
}

/// A command's content heuristics, built on first use (see [`load`]).
pub struct Heuristics {
    packs: Option<Vec<RulePack>>,
    analyzer: OnceLock<Analyzer>,
    /// Content signals off (`--no-content`): every message's facts are none.
    off: bool,
}

impl Heuristics {
    /// Heuristics already built.
    #[cfg(test)]
    fn of(analyzer: Analyzer) -> Heuristics {
        let analyzer = OnceLock::from(analyzer);
        Heuristics {
            packs: None,
            analyzer,
            off: false,
        }
    }

    /// No content heuristics: no message is analysed.
    fn off() -> Heuristics {
        Heuristics {
            packs: None,
            analyzer: OnceLock::from(Analyzer::new(None)),
            off: true,
        }
    }

    /// Whether content signals are off, so that a batch's facts cost nothing to get.
    pub fn is_off(&self) -> bool {
        self.off
    }

    /// The analyzer, built on the first call (compiling the `--rules` packs, or the shipped ones).
    fn analyzer(&self) -> Result<&Analyzer> {
        if let Some(a) = self.analyzer.get() {
            return Ok(a);
        }
        let content = crate::util::content_of(self.packs.as_deref())?;
        Ok(self.analyzer.get_or_init(|| Analyzer::new(Some(content))))
    }

    /// Every message's content facts of a batch.
    pub fn analyze(&self, batch: &[Event]) -> Result<Analyzed> {
        Ok(self.analyzer()?.analyze(batch))
    }
}

/// The identity of the content heuristics a command uses: the running program's bytes (the
/// shipped packs, lists and model are compiled into it, and so is the code that analyses) and,
/// with `--rules`, each pack's file name and bytes.
fn content_digest(packs: Option<&[RulePack]>) -> Result<u64> {
    let mut h = XxHash3_64::default();
    let exe = std::env::current_exe().context("cannot find the running program to identify it")?;
    let mut f = File::open(&exe)
        .with_context(|| format!("cannot read {} to identify it", exe.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {} to identify it", exe.display()))?;
        if n == 0 {
            break;
        }
        h.write(&buf[..n]);
    }
    for (pack, text) in packs.unwrap_or_default() {
        let name = pack
            .file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or(b"");
        h.write_u64(name.len() as u64);
        h.write(name);
        h.write_u64(text.len() as u64);
        h.write(text.as_bytes());
    }
    Ok(h.finish())
}

/// The analysis stage of a command that replays logs: each batch's content facts, from the kept
/// analyses when there are some, else computed with the heuristics.
pub struct Analysing<'a> {
    heuristics: &'a Heuristics,
    kept: Option<Analyses>,
}

impl<'a> Analysing<'a> {
    /// Analysis with `heuristics`, reading or writing `kept` when given.
    pub fn new(heuristics: &'a Heuristics, kept: Option<Analyses>) -> Analysing<'a> {
        Analysing { heuristics, kept }
    }

    /// The line to print at the end, when analyses were kept; `complete` says whether the logs
    /// were read to the end.
    pub fn finish(self, complete: bool) -> Result<Option<String>> {
        self.kept.map(|k| k.finish(complete)).transpose()
    }
}

impl spamward_drive::Analysis for Analysing<'_> {
    type Error = anyhow::Error;

    /// With content off there is nothing to get, and reading kept analyses is quick.
    fn quick(&self) -> bool {
        self.heuristics.is_off() || self.kept.as_ref().is_some_and(Analyses::reading)
    }

    fn analyze(&mut self, events: &[Event]) -> Result<Analyzed> {
        match self.kept.as_mut() {
            Some(kept) => kept.analyze(self.heuristics, events),
            None => self.heuristics.analyze(events),
        }
    }
}

/// A replay's analyses file: read when it fits, else written.
pub struct Analyses {
    path: PathBuf,
    state: State,
}

enum State {
    /// The file fits: its records are read in log order.
    Reading {
        input: BufReader<File>,
        /// Records in the file.
        records: u64,
        /// Records read so far.
        read: u64,
    },
    /// The facts are computed and written to `partial`.
    Writing {
        out: BufWriter<File>,
        partial: PathBuf,
        /// Why the file is written (it was missing, or why it did not fit).
        why: String,
        /// Records in the file so far.
        written: u64,
        /// Records carried over from the file being extended (0 when written afresh).
        kept: u64,
        /// Messages of the next batch already in the file (when extending), not written again.
        skip: u64,
    },
    /// The file stopped fitting partway: computed from then on, the file left as it was.
    Computing {
        why: String,
        /// Records read before.
        read: u64,
    },
    /// Writing failed (a full disk): the partial file is removed and the facts are computed;
    /// the replay goes on, since the analyses only save time.
    Failed { why: String },
    /// Finished.
    Done,
}

impl Drop for Analyses {
    /// A replay that ends by an error leaves no partial file behind.
    fn drop(&mut self) {
        if let State::Writing { partial, .. } = &self.state {
            let _ = std::fs::remove_file(partial);
        }
    }
}

impl Analyses {
    /// Opens `path` for a replay whose heuristics have this digest: for reading when it was
    /// written whole for them, else for writing (to `path.partial`, renamed at the end).
    fn open(path: &Path, digest: u64) -> Result<Analyses> {
        let why = match Self::fitting(path, digest)? {
            Ok((input, records)) => {
                return Ok(Analyses {
                    path: path.to_owned(),
                    state: State::Reading {
                        input,
                        records,
                        read: 0,
                    },
                });
            }
            Err(why) => why,
        };
        let partial = partial_path(path);
        let file = File::create(&partial)
            .with_context(|| format!("cannot create analyses {}", partial.display()))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        out.write_all(MAGIC)
            .and_then(|()| out.write_all(&digest.to_le_bytes()))
            .with_context(|| format!("cannot write analyses {}", partial.display()))?;
        Ok(Analyses {
            path: path.to_owned(),
            state: State::Writing {
                out,
                partial,
                why,
                written: 0,
                kept: 0,
                skip: 0,
            },
        })
    }

    /// Whether the analyses are being read from the file (not computed).
    pub fn reading(&self) -> bool {
        matches!(self.state, State::Reading { .. })
    }

    /// The file, positioned at its first record, and its record count; or why it does not fit.
    /// An error only when it exists and is not an analyses file, or cannot be read.
    fn fitting(
        path: &Path,
        digest: u64,
    ) -> Result<std::result::Result<(BufReader<File>, u64), String>> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err("there was none".into()));
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open analyses {}", path.display()));
            }
        };
        let read_err = || format!("cannot read analyses {}", path.display());
        let len = file.metadata().with_context(read_err)?.len();
        let mut head = Vec::with_capacity(HEADER as usize);
        (&mut file)
            .take(HEADER)
            .read_to_end(&mut head)
            .with_context(read_err)?;
        if !head.starts_with(FAMILY) {
            anyhow::bail!(
                "{}: exists and is not a spamward analyses file; not overwriting it",
                path.display()
            );
        }
        if len < HEADER + TRAILER || head.len() < HEADER as usize {
            return Ok(Err("it was cut short".into()));
        }
        if &head[..8] != MAGIC {
            return Ok(Err("it is of another version of the format".into()));
        }
        if u64::from_le_bytes(head[8..16].try_into().expect("8 bytes")) != digest {
            return Ok(Err(
                "it was written by another build of spamward or with other rule packs".into(),
            ));
        }
        let mut tail = [0u8; TRAILER as usize];
        file.seek(SeekFrom::Start(len - TRAILER))
            .and_then(|_| file.read_exact(&mut tail))
            .with_context(read_err)?;
        if &tail[..8] != END {
            return Ok(Err("it was not written to the end".into()));
        }
        let records = u64::from_le_bytes(tail[8..16].try_into().expect("8 bytes"));
        file.seek(SeekFrom::Start(HEADER)).with_context(read_err)?;
        // Records are read up to the trailer only.
        let input = BufReader::with_capacity(1 << 16, file);
        Ok(Ok((input, records)))
    }

    /// The content facts of one batch: read from the file while it fits, else computed (and
    /// written when writing).
    pub fn analyze(&mut self, heuristics: &Heuristics, batch: &[Event]) -> Result<Analyzed> {
        match &mut self.state {
            State::Reading {
                input,
                records,
                read,
            } => match read_batch(input, *records, read, batch, &text_hashes(batch)) {
                Ok(facts) => Ok(Analyzed::from_facts(facts)),
                Err(Misfit::Ended) => {
                    // Every record matched and the logs go on (a log that grew, another day's
                    // log after the others): the file is extended with the rest.
                    let (records, read) = (*records, *read);
                    self.state = match self.extended() {
                        Ok((out, partial)) => State::Writing {
                            out,
                            partial,
                            why: "the logs went on past it".into(),
                            written: records,
                            kept: records,
                            skip: records - read,
                        },
                        Err(e) => State::Computing {
                            why: format!("it ended and could not be extended ({e})"),
                            read,
                        },
                    };
                    self.analyze(heuristics, batch)
                }
                Err(Misfit::Other(why)) => {
                    let read = *read;
                    self.state = State::Computing { why, read };
                    heuristics.analyze(batch)
                }
            },
            State::Writing {
                out,
                partial,
                written,
                skip,
                ..
            } => {
                let analyzed = heuristics.analyze(batch)?;
                let hashes = text_hashes(batch);
                let mut failed = None;
                let mut record = Vec::new();
                for ((ev, facts), &hash) in batch.iter().zip(analyzed.facts()).zip(&hashes) {
                    let (Event::Message(_), Some(facts)) = (ev, facts) else {
                        continue;
                    };
                    if *skip > 0 {
                        *skip -= 1;
                        continue;
                    }
                    encode_record(hash, facts, &mut record);
                    if let Err(e) = out.write_all(&record) {
                        failed = Some(format!("cannot write {}: {e}", partial.display()));
                        break;
                    }
                    *written += 1;
                }
                if let Some(why) = failed {
                    let partial = partial.clone();
                    self.state = State::Failed { why };
                    let _ = std::fs::remove_file(&partial);
                }
                Ok(analyzed)
            }
            State::Computing { .. } | State::Failed { .. } | State::Done => {
                heuristics.analyze(batch)
            }
        }
    }

    /// A copy of the file without its trailer, at `path.partial`, open for appending after its
    /// records.
    fn extended(&self) -> std::io::Result<(BufWriter<File>, PathBuf)> {
        let partial = partial_path(&self.path);
        std::fs::copy(&self.path, &partial)?;
        let mut file = std::fs::OpenOptions::new().write(true).open(&partial)?;
        let len = file.metadata()?.len();
        file.set_len(len - TRAILER)?;
        file.seek(SeekFrom::End(0))?;
        Ok((BufWriter::with_capacity(1 << 16, file), partial))
    }

    /// Ends the replay's use of the file: a written file is completed and put in place when the
    /// logs were read to the end (`complete`), else removed. Returns a line saying what happened.
    pub fn finish(mut self, complete: bool) -> Result<String> {
        let state = std::mem::replace(&mut self.state, State::Done);
        let path = self.path.display();
        match state {
            State::Reading { records, read, .. } => {
                let mut line = format!("analyses: {} read from {path}", thousands(read));
                if read < records {
                    line.push_str(&format!(
                        " ({} more there, of longer logs)",
                        thousands(records - read)
                    ));
                }
                Ok(line)
            }
            State::Computing { why, read } => Ok(format!(
                "analyses: {} read from {path}, then {why}: the rest computed; {path} was left \
                 as it was (remove it to write it afresh)",
                thousands(read)
            )),
            State::Writing {
                mut out,
                partial,
                why,
                written,
                kept,
                ..
            } => {
                if !complete {
                    drop(out);
                    let _ = std::fs::remove_file(&partial);
                    let left = if kept > 0 { " (left as it was)" } else { "" };
                    return Ok(format!(
                        "analyses: not written to {path}{left}, the logs were not read to the end"
                    ));
                }
                let ended = out
                    .write_all(END)
                    .and_then(|()| out.write_all(&written.to_le_bytes()))
                    .and_then(|()| out.flush())
                    .and_then(|()| out.get_ref().sync_all());
                drop(out);
                if let Err(e) = ended {
                    let _ = std::fs::remove_file(&partial);
                    return Ok(format!(
                        "analyses: not written (cannot write {}: {e}); the replay computed them \
                         and went on",
                        partial.display()
                    ));
                }
                std::fs::rename(&partial, &self.path)
                    .with_context(|| format!("cannot move {} to {path}", partial.display()))?;
                if kept > 0 {
                    return Ok(format!(
                        "analyses: {} read from {path}, then {why}: {} computed and added",
                        thousands(kept),
                        thousands(written - kept)
                    ));
                }
                Ok(format!(
                    "analyses: {} computed and written to {path} ({why})",
                    thousands(written)
                ))
            }
            State::Failed { why } => Ok(format!(
                "analyses: not written ({why}); the replay computed them and went on"
            )),
            State::Done => Ok(String::new()),
        }
    }
}

/// Where a file is written before it is complete.
fn partial_path(path: &Path) -> PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    PathBuf::from(partial)
}

/// Why the file stops giving a batch's facts.
enum Misfit {
    /// Every record matched its message, and the logs go on past the last.
    Ended,
    /// A record is damaged or of another text.
    Other(String),
}

/// The hash of each message's text (0 for other events), in parallel.
fn text_hashes(batch: &[Event]) -> Vec<u64> {
    batch
        .par_iter()
        .with_min_len(1024)
        .map(|ev| match ev {
            Event::Message(m) => XxHash3_64::oneshot(m.text.as_bytes()),
            _ => 0,
        })
        .collect()
}

/// One batch's facts from the file, or why the file does not fit from here on.
fn read_batch(
    input: &mut BufReader<File>,
    records: u64,
    read: &mut u64,
    batch: &[Event],
    hashes: &[u64],
) -> std::result::Result<Vec<Option<ContentFacts>>, Misfit> {
    let mut facts = Vec::with_capacity(batch.len());
    let mut bytes = Vec::new();
    let mut at = *read;
    for (ev, &hash) in batch.iter().zip(hashes) {
        if !matches!(ev, Event::Message(_)) {
            facts.push(None);
            continue;
        }
        if at == records {
            return Err(Misfit::Ended);
        }
        let (kept, f) = decode_record(input, &mut bytes).map_err(|e| {
            Misfit::Other(format!(
                "record {} could not be read ({e})",
                thousands(at + 1)
            ))
        })?;
        if kept != hash {
            return Err(Misfit::Other(format!(
                "record {} is of another text (it is of other logs)",
                thousands(at + 1)
            )));
        }
        facts.push(Some(f));
        at += 1;
    }
    *read = at;
    Ok(facts)
}

/// One record into `out`: the checksum of the rest, the facts' length, the text hash and the
/// facts.
fn encode_record(hash: u64, facts: &ContentFacts, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0; 12]); // checksum and length, below
    out.extend_from_slice(&hash.to_le_bytes());
    bincode::encode_into_std_write(facts, out, bincode::config::standard())
        .expect("writing to a Vec cannot fail");
    let len = (out.len() - 20) as u32;
    let check = XxHash3_64::oneshot(&out[12..]);
    out[..8].copy_from_slice(&check.to_le_bytes());
    out[8..12].copy_from_slice(&len.to_le_bytes());
}

/// Reads one record: its text hash and facts, or what is wrong with it. `bytes` is scratch.
fn decode_record(
    input: &mut impl Read,
    bytes: &mut Vec<u8>,
) -> std::result::Result<(u64, ContentFacts), String> {
    let mut head = [0u8; 12];
    input.read_exact(&mut head).map_err(|e| e.to_string())?;
    let check = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(head[8..].try_into().expect("4 bytes")) as usize;
    if len > MAX_RECORD {
        return Err(format!("a length of {len} bytes"));
    }
    bytes.resize(8 + len, 0);
    input.read_exact(bytes).map_err(|e| e.to_string())?;
    if XxHash3_64::oneshot(bytes) != check {
        return Err("its checksum does not match".into());
    }
    let hash = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let (facts, used): (ContentFacts, usize) =
        bincode::decode_from_slice(&bytes[8..], bincode::config::standard())
            .map_err(|e| e.to_string())?;
    if used != len {
        return Err(format!("{} bytes left over", len - used));
    }
    Ok((hash, facts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spamward_core::{Engine, Policy};

    fn batch() -> Vec<Event> {
        (0..40)
            .map(|i| {
                let line = format!(
                    r#"{{"type":"message","id":"m-{i}","ts":{},"business":"b-{}","recipient":"r-{i}","category":"utility","text":"Your parcel {i} is on hold, pay the £{i}.99 fee at http://parcel-{i}.click/x now"}}"#,
                    1_764_000_000_000u64 + i,
                    i % 3
                );
                Event::from_json(line.as_bytes()).unwrap()
            })
            .collect()
    }

    /// A literal test vector, worked out from the layout above outside this code (bincode 2's
    /// standard configuration, XXH3-64 from another implementation): a record's bytes for a
    /// text and its facts. A change of the layout or of `ContentFacts`' encoding breaks it, and
    /// would make every kept file unreadable, so the magic's version must change with it.
    #[test]
    fn a_record_is_these_bytes() {
        let text = "Your code is 1234";
        let facts = ContentFacts {
            spam_probability: Some(0.25),
            spam_threshold: 0.5,
            rule_score: 0.0,
            rules: vec!["a.b".into()],
            phishing: None,
            obfuscation: 0.0,
            domains: vec![(7, "example.com".into())],
            fingerprint: Some(0x0123_4567_89ab_cdef),
        };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            // checksum 0x0d013d16b2593c37, facts' length 63
            0x37, 0x3c, 0x59, 0xb2, 0x16, 0x3d, 0x01, 0x0d, 0x3f, 0x00, 0x00, 0x00,
            // text hash 0xeb8746e74bcb51ac
            0xac, 0x51, 0xcb, 0x4b, 0xe7, 0x46, 0x87, 0xeb,
            // Some(0.25), 0.5, 0.0
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd0, 0x3f,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            // ["a.b"], None, 0.0
            0x01, 0x03, 0x61, 0x2e, 0x62, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            // [(7, "example.com")]
            0x01, 0x07, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d,
            // Some(0x0123456789abcdef)
            0x01, 0xfd, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01,
        ];
        assert_eq!(XxHash3_64::oneshot(text.as_bytes()), 0xeb87_46e7_4bcb_51ac);
        let mut out = Vec::new();
        encode_record(XxHash3_64::oneshot(text.as_bytes()), &facts, &mut out);
        assert_eq!(out, expected);
        let mut scratch = Vec::new();
        assert_eq!(
            decode_record(&mut &expected[..], &mut scratch),
            Ok((0xeb87_46e7_4bcb_51ac, facts))
        );
    }

    /// Whatever a damaged file holds, reading it neither panics nor yields facts that are not
    /// the analysis: every damaged copy gives exactly the facts of analysing afresh.
    #[test]
    fn damaged_files_never_panic_and_never_change_the_facts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.analyses");
        let analyzer = Heuristics::of(Engine::new(Policy::default()).analyzer());
        let events = batch();
        let truth = analyzer.analyze(&events).unwrap();
        let mut kept = Analyses::open(&path, 7).unwrap();
        kept.analyze(&analyzer, &events).unwrap();
        kept.finish(true).unwrap();
        let whole = std::fs::read(&path).unwrap();
        let mut read = Analyses::open(&path, 7).unwrap();
        assert!(read.reading());
        assert_eq!(
            read.analyze(&analyzer, &events).unwrap().facts(),
            truth.facts()
        );

        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..1000 {
            let mut bytes = whole.clone();
            for _ in 0..1 + round % 4 {
                let at = (next() as usize) % bytes.len();
                bytes[at] = next() as u8;
            }
            if round % 7 == 0 {
                bytes.truncate((next() as usize) % bytes.len());
            }
            std::fs::write(&path, &bytes).unwrap();
            let Ok(mut kept) = Analyses::open(&path, 7) else {
                continue; // the magic was hit: refused, as a foreign file is
            };
            let got = kept.analyze(&analyzer, &events).unwrap();
            assert_eq!(got.facts(), truth.facts(), "round {round}");
            drop(kept);
        }
    }
}
