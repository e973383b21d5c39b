//! Small helpers for the command line: formatting, output files, loading policies and rule packs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde::Serialize;
use spamward_core::time::SECOND;
use spamward_core::{Action, Policy, Timestamp};

/// `2026-11-03 14:22:05Z` for an event time.
pub fn fmt_ts(ts: Timestamp) -> String {
    let secs = ts.since_epoch() / SECOND;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A buffered output file, or stdout for `-`.
pub fn create(p: &Path) -> Result<BufWriter<Box<dyn Write + Send>>> {
    // `Send`, so a sink can write from the pool; unlocked stdout is, and the buffer makes its
    // per-write locking rare.
    let w: Box<dyn Write + Send> = if p.as_os_str() == "-" {
        Box::new(std::io::stdout())
    } else {
        Box::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
    };
    Ok(BufWriter::with_capacity(1 << 20, w))
}

/// Which content heuristics a command runs: the shipped rule packs, others, or none.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ContentArgs {
    /// Rule packs: every *.toml in this directory, in place of the shipped packs.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Content signals off: no message text is analysed, and verdicts rest on the volume,
    /// complaint, recipient and delivery signals alone (where text may not be read, or to
    /// measure what content analysis costs).
    #[arg(long, conflicts_with = "rules")]
    pub no_content: bool,
}

impl ContentArgs {
    /// The content engine to run, `None` with `--no-content`.
    pub fn engine(&self) -> Result<Option<spamward_content::ContentEngine>> {
        if self.no_content {
            return Ok(None);
        }
        load_content(self.rules.as_deref()).map(Some)
    }
}

/// The content heuristics: the shipped ones, or with the rule packs of `rules` (every `*.toml` in
/// the directory, in name order) in place of the shipped packs. A pack with a mistake is refused
/// with its file, rule id and what is wrong; nothing is loaded then.
pub fn load_content(rules: Option<&Path>) -> Result<spamward_content::ContentEngine> {
    content_of(rules.map(read_rule_packs).transpose()?.as_deref())
}

/// A rule pack as read: its file and its text.
pub type RulePack = (PathBuf, String);

/// The rule packs of a directory: every `*.toml` in it, in name order, read; an error when there
/// is none.
pub fn read_rule_packs(dir: &Path) -> Result<Vec<RulePack>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read rule packs in {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        anyhow::bail!("{}: no rule pack (*.toml) in it", dir.display());
    }
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f)
                .with_context(|| format!("cannot read rule pack {}", f.display()))?;
            Ok((f, text))
        })
        .collect()
}

/// [`load_content`] of packs already read (`None`: the shipped ones).
pub fn content_of(packs: Option<&[RulePack]>) -> Result<spamward_content::ContentEngine> {
    let Some(packs) = packs else {
        return Ok(spamward_content::ContentEngine::default());
    };
    let mut builder = spamward_content::RuleSet::builder();
    for (f, text) in packs {
        builder
            .pack(&f.display().to_string(), text)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let rules = builder.build().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(spamward_content::ContentEngine::builder()
        .rules(rules)
        .build())
}

/// The default policy, or the file laid over it.
pub fn load_policy(path: Option<&Path>) -> Result<Policy> {
    match path {
        None => Ok(Policy::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read policy {}", p.display()))?;
            Policy::from_toml_overlay(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        }
    }
}

/// Verdicts counted by action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ActionCounts {
    pub(crate) allow: u64,
    pub(crate) throttle: u64,
    pub(crate) hold: u64,
    pub(crate) block: u64,
}

impl ActionCounts {
    pub(crate) fn add(&mut self, a: Action) {
        match a {
            Action::Allow => self.allow += 1,
            Action::Throttle => self.throttle += 1,
            Action::Hold => self.hold += 1,
            Action::Block => self.block += 1,
        }
    }
    pub(crate) fn total(&self) -> u64 {
        self.allow + self.throttle + self.hold + self.block
    }
}

/// `n` as a percentage of `of`, two decimals; `-` when `of` is 0.
pub(crate) fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.2}%", 100.0 * n as f64 / of as f64)
    }
}

/// A log file's format as the command line names it: the format and whether it is compressed.
#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// JSON Lines.
    Jsonl,
    /// JSON Lines, zstd-compressed.
    #[value(name = "jsonl.zst")]
    JsonlZst,
    /// The binary log.
    Bin,
    /// The binary log, zstd-compressed.
    #[value(name = "bin.zst")]
    BinZst,
    /// Parquet: one row per event, one column per field.
    Parquet,
}

impl LogFormat {
    /// The file extension a log of this format gets, without the leading dot.
    pub fn extension(self) -> &'static str {
        match self {
            LogFormat::Jsonl => "jsonl",
            LogFormat::JsonlZst => "jsonl.zst",
            LogFormat::Bin => "bin",
            LogFormat::BinZst => "bin.zst",
            LogFormat::Parquet => "parquet",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(fmt_ts(Timestamp::EPOCH), "1970-01-01 00:00:00Z");
        assert_eq!(
            fmt_ts(Timestamp::from_millis(1_793_577_600_000)),
            "2026-11-02 00:00:00Z"
        );
        assert_eq!(
            fmt_ts(Timestamp::from_millis(951_827_696_000)),
            "2000-02-29 12:34:56Z"
        );
    }

    #[test]
    fn separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
