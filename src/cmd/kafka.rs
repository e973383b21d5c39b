//! `spamward kafka` and `spamward kafka-produce`: the scoring core on a Kafka cluster.
//!
//! The work is in `spamward_kafka`; this is the command line around it: options, the policy
//! and rule packs, progress on standard error, Ctrl-C (`SIGINT`) to checkpoint and leave the
//! group.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use spamward_core::Millis;
use spamward_kafka::{Options, Stats};

use crate::progress::interrupt_flag;
use crate::util::{ContentArgs, load_policy, thousands};

/// `spamward kafka`'s options.
#[derive(clap::Args, Debug)]
pub struct KafkaArgs {
    /// Bootstrap brokers, HOST:PORT[,HOST:PORT...].
    #[arg(long)]
    pub brokers: String,
    /// Topic of message and feedback events: JSON, one event per record, key = business id.
    #[arg(long)]
    pub input: String,
    /// Topic the verdicts go to (JSON, key = business id); created if missing.
    #[arg(long)]
    pub verdicts: String,
    /// Consumer group; its internal topics are GROUP.checkpoints and GROUP.signals.
    #[arg(long)]
    pub group: String,
    /// A policy file laid over the default policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Rule packs (`--rules DIR`, instead of the shipped ones), or `--no-content`.
    #[command(flatten)]
    pub content: ContentArgs,
    /// A partition with no checkpoint starts at its earliest offset (default: its end).
    #[arg(long)]
    pub from_beginning: bool,
    /// Exit once every assigned partition is read to the end offset it had when assigned.
    #[arg(long)]
    pub until_end: bool,
    /// Seconds between checkpoints (offsets are committed with each).
    #[arg(long, default_value_t = 5.0)]
    pub commit_every: f64,
    /// Most records scored per batch. Each batch first reads the signals topic to its end, which
    /// costs a fetch round trip; bigger batches spread it over more records.
    #[arg(long, default_value_t = 20_000)]
    pub batch: usize,
    /// Milliseconds the group waits for a silent member before moving its partitions.
    #[arg(long, default_value_t = 10_000)]
    pub session_timeout_ms: u64,
    /// Milliseconds cross-business entries are kept beyond 24 h, for partitions behind others.
    #[arg(long, default_value_t = 3_600_000)]
    pub allowed_lateness_ms: u64,
    /// Extra librdkafka property for every client, KEY=VALUE (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `spamward kafka-produce`'s options.
#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    /// Bootstrap brokers, HOST:PORT[,HOST:PORT...].
    #[arg(long)]
    pub brokers: String,
    /// Topic to load into.
    #[arg(long)]
    pub topic: String,
    /// Partitions of the topic, if it has to be created.
    #[arg(long, default_value_t = 4)]
    pub partitions: i32,
    /// Extra librdkafka property, KEY=VALUE (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    /// The log: JSON Lines, binary or Parquet, compressed or not.
    pub log: PathBuf,
}

fn properties(list: &[String]) -> Result<Vec<(String, String)>> {
    list.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => bail!("-X {kv:?}: expected KEY=VALUE"),
        })
        .collect()
}

impl KafkaArgs {
    /// Runs the group member; returns once stopped or, with --until-end, done.
    pub fn run(self) -> Result<bool> {
        if !(self.commit_every > 0.0 && self.commit_every.is_finite()) {
            bail!(
                "--commit-every {}: must be a positive number of seconds",
                self.commit_every
            );
        }
        if self.batch == 0 {
            bail!("--batch 0: must be at least 1");
        }
        let content = self.content.engine()?;
        let opts = Options {
            brokers: self.brokers,
            input: self.input,
            verdicts: self.verdicts,
            group: self.group,
            policy: load_policy(self.policy.as_deref())?,
            content,
            from_beginning: self.from_beginning,
            until_end: self.until_end,
            commit_every: Duration::from_secs_f64(self.commit_every),
            batch: self.batch,
            session_timeout: Duration::from_millis(self.session_timeout_ms),
            lateness: Millis::from_millis(self.allowed_lateness_ms),
            extra: properties(&self.property)?,
        };
        let started = Instant::now();
        let mut shown = Instant::now();
        let quiet = self.quiet;
        let stats = spamward_kafka::run(opts, interrupt_flag(), |s| {
            if !quiet && shown.elapsed() >= Duration::from_secs(5) {
                shown = Instant::now();
                eprintln!("kafka: {}", summary(s, started.elapsed()));
            }
        })?;
        eprintln!("kafka: done: {}", summary(&stats, started.elapsed()));
        Ok(true)
    }
}

fn summary(s: &Stats, took: Duration) -> String {
    let secs = took.as_secs_f64().max(1e-9);
    format!(
        "{} records, {} verdicts ({:.0} verdicts/s), {} skipped, {} already applied, {} remote observations, {} partitions restored, {} checkpoints",
        thousands(s.records),
        thousands(s.verdicts),
        s.verdicts as f64 / secs,
        thousands(s.skipped),
        thousands(s.already_applied),
        thousands(s.remote_observations),
        s.restored,
        s.checkpoints
    )
}

impl ProduceArgs {
    /// Loads the log into the topic.
    pub fn run(self) -> Result<bool> {
        let started = Instant::now();
        let mut shown = 0u64;
        let loaded = spamward_kafka::load(
            &self.brokers,
            &properties(&self.property)?,
            &self.topic,
            self.partitions,
            &self.log,
            |e| {
                shown += 1;
                if shown <= 20 {
                    eprintln!("skipped: {e}");
                }
            },
        )?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "produced {} events to {} ({} partitions) in {secs:.1} s ({:.0} events/s){}",
            thousands(loaded.events),
            self.topic,
            loaded.partitions,
            loaded.events as f64 / secs.max(1e-9),
            if loaded.skipped > 0 {
                format!(", skipped {} bad records", thousands(loaded.skipped))
            } else {
                String::new()
            }
        );
        Ok(loaded.skipped == 0)
    }
}
