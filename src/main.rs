//! The `spamward` command line: argument parsing and I/O around the library crates.

mod analyses;
mod cmd;
mod html;
mod progress;
mod timeline;
mod truth;
mod util;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::util::LogFormat;

/// mimalloc instead of the system allocator: content analysis allocates small, short-lived
/// buffers per message, and glibc's malloc spent a sixth of a replay's time on them. Built
/// without transparent huge pages (`no_thp`): mimalloc returns freed memory to the system and
/// takes it back as it goes, and with huge pages each return cost the kernel a 2 MiB zeroing on
/// the next touch (7% of a replay's samples); without them a replay's system time fell by 0.3 s
/// and its peak memory by a fifth. The feature compiles mimalloc's huge-page advice out: where the
/// kernel gives huge pages only on advice (`madvise`, the default here), no setting at run time
/// brings them back (`MIMALLOC_ALLOW_THP=1` leaves `AnonHugePages` at 0).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Spam and abuse detection for business messaging.
#[derive(Parser)]
#[command(name = "spamward", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay logs through the scoring core: verdicts per message, standing per business.
    Replay {
        /// Event logs (JSON Lines or binary, optionally .zst), replayed in the order given.
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// A policy file laid over the default policy.
        #[arg(long)]
        policy: Option<PathBuf>,
        #[command(flatten)]
        content: util::ContentArgs,
        /// Worker threads (the output is the same for any number).
        #[arg(long)]
        threads: Option<usize>,
        /// Write one verdict per message, as JSON Lines, in log order (`-` for stdout).
        #[arg(long)]
        verdicts: Option<PathBuf>,
        /// Write one record per business as JSON.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write a self-contained HTML report (summary, flagged businesses, charts).
        #[arg(long)]
        html: Option<PathBuf>,
        /// Keep the messages' content analyses in this file: read when it was written for the same
        /// logs and heuristics (any policy), else computed and written for the next replay.
        #[arg(long, conflicts_with = "no_content")]
        analyses: Option<PathBuf>,
        /// Bad lines to count and skip before giving up.
        #[arg(long, default_value_t = 1000)]
        max_errors: u64,
        /// Flagged businesses to list in the summary.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// No progress display on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Replay logs under two policies and report what changes (shadow mode on history).
    Diff {
        /// Event logs, replayed in the order given.
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// The policy in force, then the candidate: `--policy OLD.toml --policy NEW.toml`.
        #[arg(long = "policy", required = true, num_args = 1)]
        policies: Vec<PathBuf>,
        #[command(flatten)]
        content: util::ContentArgs,
        /// The generator's truth: also compare precision, recall and messages lost.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Write the diff as JSON (only what changed).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Changed messages listed per direction.
        #[arg(long, default_value_t = 20)]
        sample: usize,
        /// Keep the messages' content analyses in this file, as `replay --analyses` does (the
        /// same file serves both).
        #[arg(long, conflicts_with = "no_content")]
        analyses: Option<PathBuf>,
        /// Worker threads (the output is the same for any number).
        #[arg(long)]
        threads: Option<usize>,
        /// Bad lines to count and skip before giving up.
        #[arg(long, default_value_t = 1000)]
        max_errors: u64,
        /// No progress display on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Explain a business's standing (its timeline, status changes and the messages that tipped
    /// them), or one message's verdict down to each signal.
    Explain {
        /// Event logs, replayed in the order given.
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// The business.
        #[arg(long)]
        business: String,
        /// One of its messages, explained signal by signal.
        #[arg(long)]
        message: Option<String>,
        /// A policy file laid over the default policy.
        #[arg(long)]
        policy: Option<PathBuf>,
        #[command(flatten)]
        content: util::ContentArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Keep the messages' content analyses in this file, as `replay --analyses` does (the
        /// same file serves both).
        #[arg(long, conflicts_with = "no_content")]
        analyses: Option<PathBuf>,
        /// Bad lines to count and skip before giving up.
        #[arg(long, default_value_t = 1000)]
        max_errors: u64,
        /// No progress display on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Measure replay, the pipe filter and in-process check latency on this machine.
    Bench {
        /// Events in the generated world (ignored with --input).
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Measure on this log instead of a generated one.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Replay threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Format of the generated log.
        #[arg(long, value_enum, default_value_t = LogFormat::Bin)]
        format: LogFormat,
        /// Runs of each measurement (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Seconds of load on the HTTP service per run (0 skips it).
        #[arg(long, default_value_t = 10)]
        http_seconds: u64,
        /// Concurrent HTTP connections, each posting batches of 100 messages to /v1/check.
        #[arg(long, default_value_t = 4)]
        http_connections: usize,
        /// Measure with content signals off (`--no-content` for every command measured): what
        /// the rest of the pipeline costs.
        #[arg(long)]
        no_content: bool,
    },
    /// Train the content classifier on the training side of a labelled corpus.
    Train(cmd::content::TrainArgs),
    /// Measure the content classifier on labelled texts: precision, recall, F1, ham FPR, ROC AUC,
    /// rule hits on spam and ham.
    EvalContent(cmd::content::EvalContentArgs),
    /// Score a replay's report against a generated world's truth.
    Eval {
        /// The generator's truth.json.
        #[arg(long)]
        truth: PathBuf,
        /// The report written by `replay --report`.
        #[arg(long)]
        report: PathBuf,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Generate a seeded world of business-messaging traffic with known abusers.
    Generate {
        /// Businesses in the world.
        #[arg(long, default_value_t = 500)]
        businesses: usize,
        /// Recipients (users) in the world.
        #[arg(long, default_value_t = 200_000)]
        recipients: usize,
        /// Days of traffic.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Random seed: the same seed gives the same bytes.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Multiplies every business's volume.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Output folder: events.<format> and truth.json.
        #[arg(long)]
        out: PathBuf,
        /// Log format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: LogFormat,
        /// No progress display on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Filter a live stream: JSON Lines events on stdin, one verdict per message on stdout.
    Filter {
        /// A policy file laid over the default policy.
        #[arg(long)]
        policy: Option<PathBuf>,
        #[command(flatten)]
        content: util::ContentArgs,
        /// Keep the state durable in this directory: a journal of every event, committed before
        /// its verdict is written, and snapshots; restored from it on start.
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// With --state-dir: events between snapshots.
        #[arg(long, default_value_t = 1_000_000, requires = "state_dir")]
        snapshot_every: u64,
        /// With --state-dir, after a crash: the last message whose verdict was received; the
        /// journaled messages after it get their verdicts first.
        #[arg(long, requires = "state_dir")]
        resume_after: Option<String>,
        /// Own only the businesses whose id hashes to I of N (`I/N`, 0-based); events of others
        /// are refused with an error record.
        #[arg(long, value_parser = clap::value_parser!(spamward_filter::Partition))]
        partition: Option<spamward_filter::Partition>,
        /// Threads analysing message content (the verdicts are the same for any number; default:
        /// all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Serve the filter over HTTP/JSON: check messages, observe events, read standings.
    Serve(cmd::serve::ServeArgs),
    /// Score on a Kafka cluster: a consumer-group member reading events by business and
    /// producing one verdict per message.
    Kafka(cmd::kafka::KafkaArgs),
    /// Load a log into a Kafka topic, keyed by business.
    KafkaProduce(cmd::kafka::ProduceArgs),
    /// Convert a log between formats; OUT's extension picks the format (.jsonl, .bin, + .zst; .parquet).
    Convert {
        /// Input log.
        input: PathBuf,
        /// Output log.
        output: PathBuf,
        /// Skip bad records instead of stopping at the first.
        #[arg(long)]
        no_strict: bool,
        /// With --no-strict: give up after this many bad records.
        #[arg(long)]
        max_errors: Option<u64>,
        /// No progress display on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    progress::install_interrupt_handler();
    let result = run(cli);
    if progress::interrupted() {
        if let Err(e) = &result {
            eprintln!("error: {e:#}");
        }
        return ExitCode::from(progress::INTERRUPTED_EXIT);
    }
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Sizes the global rayon pool (`None`: one thread per core).
fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()?;
    }
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Replay {
            logs,
            policy,
            content,
            threads,
            verdicts,
            report,
            html,
            analyses,
            max_errors,
            top,
            quiet,
        } => {
            let policy = util::load_policy(policy.as_deref())?;
            set_threads(threads)?;
            let (content, analyses) = analyses::load(&content, analyses.as_deref())?;
            cmd::replay::run(cmd::replay::ReplayOptions {
                logs,
                policy,
                content,
                verdicts,
                report,
                html,
                analyses,
                max_errors,
                top,
                quiet,
            })
        }
        Command::Diff {
            logs,
            policies,
            content,
            truth,
            out,
            sample,
            analyses,
            threads,
            max_errors,
            quiet,
        } => {
            let (old, new) = cmd::diff::policies(&policies)?;
            set_threads(threads)?;
            let (content, analyses) = analyses::load(&content, analyses.as_deref())?;
            cmd::diff::run(cmd::diff::DiffOptions {
                analyses,
                content,
                logs,
                old,
                new,
                truth,
                out,
                sample,
                max_errors,
                quiet,
            })
        }
        Command::Explain {
            logs,
            business,
            message,
            policy,
            content,
            json,
            analyses,
            max_errors,
            quiet,
        } => {
            let policy = util::load_policy(policy.as_deref())?;
            let (content, analyses) = analyses::load(&content, analyses.as_deref())?;
            cmd::explain::run(cmd::explain::ExplainOptions {
                analyses,
                logs,
                policy,
                content,
                business,
                message,
                json,
                max_errors,
                quiet,
            })
        }
        Command::Filter {
            policy,
            content,
            state_dir,
            snapshot_every,
            resume_after,
            partition,
            threads,
        } => {
            set_threads(threads)?;
            let mut builder = spamward_filter::Filter::builder();
            builder.policy(util::load_policy(policy.as_deref())?);
            builder.content(content.engine()?);
            if let Some(p) = partition {
                builder.partition(p);
            }
            match state_dir {
                Some(dir) => cmd::filter::run_stdio_durable(
                    &builder,
                    &cmd::filter::StateOptions {
                        dir,
                        snapshot_every,
                        resume_after,
                    },
                )?,
                None => cmd::filter::run_stdio(&builder)?,
            }
            Ok(true)
        }
        Command::Bench {
            events,
            input,
            threads,
            format,
            runs,
            json,
            http_seconds,
            http_connections,
            no_content,
        } => cmd::bench::run(cmd::bench::BenchOptions {
            events,
            input,
            threads,
            format,
            runs,
            json,
            http_seconds,
            http_connections,
            no_content,
        }),
        Command::Train(args) => args.run(),
        Command::EvalContent(args) => args.run(),
        Command::Eval {
            truth,
            report,
            json,
        } => {
            let mut e = truth::evaluate(&truth, &report)?;
            truth::print(&mut e, json)?;
            Ok(true)
        }
        Command::Generate {
            businesses,
            recipients,
            days,
            seed,
            scale,
            out,
            format,
            quiet,
        } => {
            let config = spamward_sim::WorldConfig {
                businesses,
                recipients,
                days,
                seed,
                scale,
                ..spamward_sim::WorldConfig::default()
            };
            cmd::generate::run(config, &out, format, quiet)
        }
        Command::Serve(args) => args.run().map(|()| true),
        Command::Kafka(args) => args.run(),
        Command::KafkaProduce(args) => args.run(),
        Command::Convert {
            input,
            output,
            no_strict,
            max_errors,
            quiet,
        } => cmd::convert::run(&input, &output, !no_strict, max_errors, quiet),
    }
}
