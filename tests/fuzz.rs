//! Every input the fuzzers keep, replayed through the fuzz targets' own functions
//! (`fuzz/src/lib.rs`): the seed corpora (`fuzz/seeds/<target>/`, minimised from fuzzing runs)
//! and every input that once failed (`fuzz/regressions/<target>/`, named after what it found).
//! So a fixed crash stays fixed without libFuzzer, in `cargo test --workspace`.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::fuzz_entry::TARGETS;

#[test]
fn every_kept_fuzz_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failed = Vec::new();
    for (target, run) in TARGETS {
        let mut seeds = 0;
        for kind in ["seeds", "regressions"] {
            let Ok(dir) = fs::read_dir(root.join(kind).join(target)) else {
                continue;
            };
            for entry in dir {
                let path = entry.unwrap().path();
                let data = fs::read(&path).unwrap();
                if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                    failed.push(path.display().to_string());
                }
                seeds += usize::from(kind == "seeds");
            }
        }
        assert!(seeds > 0, "no seed inputs for fuzz target {target}");
    }
    assert!(failed.is_empty(), "fuzz inputs that fail: {failed:#?}");
}
