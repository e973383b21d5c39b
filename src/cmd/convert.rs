//! `spamward convert IN OUT`: between JSON Lines and the binary log, compressed or not.

use std::path::Path;

use anyhow::Result;
use spamward_log::{ConvertOptions, convert_with};

use crate::progress::{Progress, interrupted, total_size};
use crate::util::thousands;

/// Converts; returns whether the whole input was converted.
pub fn run(
    input: &Path,
    output: &Path,
    strict: bool,
    max_errors: Option<u64>,
    quiet: bool,
) -> Result<bool> {
    let opts = ConvertOptions { strict, max_errors };
    let progress = Progress::new("convert", total_size(&[input.to_path_buf()]), quiet);
    let mut shown = 0u64;
    let result = convert_with(
        input,
        output,
        &opts,
        |e| {
            shown += 1;
            if shown <= 20 {
                eprintln!("skipped: {e}");
            }
        },
        |reader, stats| {
            progress.update(reader.bytes_read(), stats.events);
            !interrupted()
        },
    );
    progress.finish();
    match result {
        Ok(stats) => {
            eprintln!(
                "converted {} events from {} to {}{}",
                thousands(stats.events),
                input.display(),
                output.display(),
                if stats.skipped > 0 {
                    format!(", skipped {} bad records", stats.skipped)
                } else {
                    String::new()
                }
            );
            Ok(true)
        }
        Err(e) => {
            let stats = e.stats();
            eprintln!("error: {e}");
            eprintln!(
                "{} events before the error were written to {}",
                thousands(stats.events),
                output.display()
            );
            Ok(false)
        }
    }
}
