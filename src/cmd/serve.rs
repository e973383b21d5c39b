//! `spamward serve`: the streaming filter as an HTTP/JSON service.
//!
//! The service itself lives in `spamward_filter::server`; this is the process around it: the
//! command's options, the policy file, a tokio runtime, and the signals. `SIGHUP` reloads the
//! policy from the file given at start (an invalid file is reported and the old policy stays);
//! `SIGTERM` and Ctrl-C (`SIGINT`) stop accepting, let the requests in flight finish and exit:
//! 0 after `SIGTERM`, the way a supervisor stops a service; 130 after Ctrl-C, as every
//! interrupted spamward command does (a second Ctrl-C exits at once).
//!
//! With `--state-dir DIR` the state is durable: on start the filter is restored from the newest
//! good snapshot and the journal after it (the notes and the `restored N events ...` line go to
//! standard error); every request's events are journaled and committed before it is answered;
//! a snapshot is written every `--snapshot-every` events and once more at a clean stop. A state
//! directory that fails later closes the service (503) rather than answer for events it could
//! not keep.
//!
//! Once bound, it prints `listening on ADDR` to standard error, with the port the system chose
//! when asked for port 0: that line is how a caller knows it is ready.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use spamward_filter::durable::{DEFAULT_SNAPSHOT_EVERY, Durable, DurableOptions};
use spamward_filter::server::{Server, ServerConfig};
use spamward_filter::{Filter, Partition};

use crate::util::{ContentArgs, load_policy, thousands};

/// Where the policy and the rule packs come from, at start and at every reload.
pub struct Sources {
    /// The policy file laid over the default, if any.
    pub policy: Option<PathBuf>,
    /// The rule packs' directory, if not the shipped packs, or content signals off.
    pub content: ContentArgs,
}

impl Sources {
    fn load(
        &self,
    ) -> Result<(
        spamward_core::Policy,
        Option<spamward_content::ContentEngine>,
    )> {
        Ok((load_policy(self.policy.as_deref())?, self.content.engine()?))
    }
}

/// Worker threads of the runtime: the machine's two cores. Large batches run on the blocking
/// pool beside them.
const WORKERS: usize = 2;

/// `spamward serve`'s options.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// A policy file laid over the default policy; SIGHUP and POST /v1/policy/reload read it
    /// again, and the `--rules` packs with it.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Rule packs (`--rules`), or content signals off (`--no-content`).
    #[command(flatten)]
    pub content: ContentArgs,
    /// Keep the state durable in this directory (journal and snapshots) and restore it from
    /// there on start.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// With --state-dir: events between snapshots.
    #[arg(long, default_value_t = DEFAULT_SNAPSHOT_EVERY, requires = "state_dir", value_parser = at_least_one())]
    pub snapshot_every: u64,
    /// Own only the businesses whose id hashes to I of N (`I/N`, 0-based); requests about
    /// others are refused with 421.
    #[arg(long, value_parser = clap::value_parser!(Partition))]
    pub partition: Option<Partition>,
    /// Requests under /v1 handled at once; past it, 503 with Retry-After.
    #[arg(long, default_value_t = DEFAULTS.max_in_flight as u64, value_parser = at_least_one())]
    pub max_in_flight: u64,
    /// The largest request body in bytes; past it, 413.
    #[arg(long, default_value_t = DEFAULTS.max_body_bytes as u64, value_parser = at_least_one())]
    pub max_body_bytes: u64,
    /// The most events in one request; past it, 413.
    #[arg(long, default_value_t = DEFAULTS.max_batch as u64, value_parser = at_least_one())]
    pub max_batch: u64,
    /// Bodies of at least this many bytes are decoded and scored on the blocking pool, smaller
    /// ones on the async workers.
    #[arg(long, default_value_t = DEFAULTS.blocking_body_bytes as u64)]
    pub blocking_body_bytes: u64,
}

/// The library's defaults, which the options show.
const DEFAULTS: ServerConfig = ServerConfig::DEFAULT;

fn at_least_one() -> clap::builder::RangedU64ValueParser {
    clap::value_parser!(u64).range(1..)
}

impl ServeArgs {
    /// Runs the service until SIGTERM or Ctrl-C.
    pub fn run(self) -> Result<()> {
        let config = ServerConfig {
            max_in_flight: usize_or_max(self.max_in_flight),
            max_body_bytes: usize_or_max(self.max_body_bytes),
            max_batch: usize_or_max(self.max_batch),
            blocking_body_bytes: usize_or_max(self.blocking_body_bytes),
            ..ServerConfig::default()
        };
        let state = self.state_dir.map(|dir| (dir, self.snapshot_every));
        run(
            Sources {
                policy: self.policy,
                content: self.content,
            },
            self.listen,
            self.partition,
            state,
            config,
        )
    }
}

fn usize_or_max(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Serves the filter on `listen` under the policy and rule packs of `sources`, owning
/// `partition` of the businesses (else all), durable in `state` (directory, events between
/// snapshots) if given, until SIGTERM or Ctrl-C; then lets the requests in flight finish,
/// writes a last snapshot and returns.
pub fn run(
    sources: Sources,
    listen: SocketAddr,
    partition: Option<Partition>,
    state: Option<(PathBuf, u64)>,
    config: ServerConfig,
) -> Result<()> {
    // A bad policy stops the start, before anything listens.
    let (policy, content) = sources.load()?;
    let mut builder = Filter::builder();
    builder.policy(policy).content(content);
    if let Some(p) = partition {
        builder.partition(p);
    }
    config.validate().context("bad service limits")?;
    let (filter, durable) = match &state {
        Some((dir, snapshot_every)) => {
            let options = DurableOptions {
                snapshot_every: *snapshot_every,
                resume_after: None,
            };
            let restored = Durable::open(dir, &builder, &options)
                .with_context(|| format!("cannot restore the state in {}", dir.display()))?;
            for note in &restored.recovery.notes {
                eprintln!("state: {note}");
            }
            eprintln!("state: {}", restored.recovery);
            (restored.filter, Some(restored.durable))
        }
        None => (builder.build(), None),
    };
    let filter = Arc::new(filter);
    // A reload reads both files and puts them in force only if both load.
    let reloaded = Arc::clone(&filter);
    let load = move || {
        let (policy, content) = sources.load().map_err(|e| format!("{e:#}"))?;
        reloaded.set_content(content);
        Ok(policy)
    };
    let server = Server::with_policy_loader(Arc::clone(&filter), config, load)
        .context("bad service limits")?;
    if let Some(durable) = durable {
        server.attach_durable(durable);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("spamward-serve")
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve(listen, server.clone()))?;
    // Every request is answered and nothing else touches the filter: the moment for the last
    // snapshot, so the next start restores without replaying the journal.
    if let Some(failure) = server.failure() {
        anyhow::bail!("the state directory failed while serving: {failure}");
    }
    if let Some(applied) = server
        .snapshot()
        .context("cannot write the last snapshot")?
    {
        eprintln!("state: snapshot after {} events", thousands(applied));
    }
    let c = filter.counts();
    eprintln!(
        "stopped: {} events ({} messages: {} allowed, {} throttled, {} held, {} blocked), {} \
         businesses",
        thousands(c.events),
        thousands(c.messages),
        thousands(c.allowed),
        thousands(c.throttled),
        thousands(c.held),
        thousands(c.blocked),
        thousands(filter.businesses() as u64),
    );
    Ok(())
}

async fn serve(listen: SocketAddr, server: Server) -> Result<()> {
    // Signals are taken over before the address is announced: a SIGHUP sent as soon as the
    // caller reads it reloads rather than kills.
    let signals = Signals::new()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let Signals { stop, mut reload } = signals;
    let reloader = server.clone();
    tokio::spawn(async move {
        while reload.recv().await.is_some() {
            let server = reloader.clone();
            match tokio::task::spawn_blocking(move || server.reload_policy()).await {
                Ok(Ok(())) => eprintln!("SIGHUP: policy reloaded"),
                Ok(Err(e)) => eprintln!("SIGHUP: policy not reloaded, the old one stays: {e}"),
                Err(e) => eprintln!("SIGHUP: policy reload failed: {e}"),
            }
        }
    });
    eprintln!("listening on {addr}");
    server
        .serve(listener, async move {
            let why = stop.await;
            // The exit code reads the interrupt flag. The Ctrl-C handler sets it too, but from
            // a thread of its own that may run after the service has already returned.
            if why != "SIGTERM" {
                crate::progress::mark_interrupted();
            }
            eprintln!("{why}: stopping; finishing the requests in flight");
        })
        .await
        .context("the service failed")
}

/// The signals the service answers.
struct Signals {
    /// Completes with the signal's name on SIGTERM or Ctrl-C.
    stop: std::pin::Pin<Box<dyn Future<Output = &'static str> + Send>>,
    /// One item per SIGHUP.
    reload: tokio::sync::mpsc::Receiver<()>,
}

impl Signals {
    #[cfg(unix)]
    fn new() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        // Each handler is in place once `signal` returns, before the address is announced.
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let (tx, reload) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                // Reloads asked while one is pending fold into it.
                let _ = tx.try_send(());
            }
        });
        let stop = Box::pin(async move {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        });
        Ok(Signals { stop, reload })
    }

    #[cfg(not(unix))]
    fn new() -> Result<Signals> {
        let (_, reload) = tokio::sync::mpsc::channel(1);
        let stop = Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        });
        Ok(Signals { stop, reload })
    }
}
