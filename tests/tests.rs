//! End-to-end tests of the `spamward` command line and of the crates working together.

mod analyses;
mod cli;
mod content;
mod diff;
mod docs;
mod durable;
mod explain;
mod filter;
mod fuzz;
#[path = "../fuzz/src/lib.rs"]
mod fuzz_entry;
mod html;
mod interrupt;
mod kafka;
mod load;
mod parquet;
mod properties;
mod serve;
mod util;
mod world;
