//! `spamward generate`: a seeded world with known abusers, as a log and its truth file.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use spamward_log::LogWriter;
use spamward_sim::{World, WorldConfig};

use crate::progress::{Progress, interrupted};
use crate::util::{LogFormat, thousands};

/// Why the world's run stopped early.
enum Stop {
    Write(spamward_log::Error),
    Interrupted,
}

/// Writes `DIR/events.<format>` and `DIR/truth.json`; returns false if interrupted (what was
/// generated so far is written, properly finished).
pub fn run(config: WorldConfig, dir: &Path, format: LogFormat, quiet: bool) -> Result<bool> {
    let started = Instant::now();
    let world = World::new(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let events_path = dir.join(format!("events.{}", format.extension()));
    let mut writer = LogWriter::create(&events_path)?;
    let progress = Progress::new("generate", None, quiet);
    let mut written = 0u64;
    let result = world.run(|batch| {
        if interrupted() {
            return Err(Stop::Interrupted);
        }
        for ev in batch {
            writer.write(ev).map_err(Stop::Write)?;
        }
        written += batch.len() as u64;
        progress.update(0, written);
        Ok(())
    });
    progress.finish();
    writer.finish()?;
    let truth_path = dir.join("truth.json");
    let truth = serde_json::to_vec_pretty(world.truth())?;
    std::fs::write(&truth_path, truth)
        .with_context(|| format!("cannot write {}", truth_path.display()))?;
    let stats = match result {
        Ok(stats) => stats,
        Err(Stop::Write(e)) => return Err(e.into()),
        Err(Stop::Interrupted) => {
            eprintln!(
                "interrupted: {} events written to {}",
                thousands(written),
                events_path.display()
            );
            return Ok(false);
        }
    };
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "generated {} events ({} messages) in {secs:.2} s ({:.0} events/s): {} and {}",
        thousands(stats.events),
        thousands(stats.messages),
        stats.events as f64 / secs.max(1e-9),
        events_path.display(),
        truth_path.display()
    );
    Ok(true)
}
