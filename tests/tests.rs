//! End-to-end tests of the `spamward` command line and of the crates working together.
//!
//! `html` (headless Chromium) and `kafka` (an Apache Kafka broker) need outside components and
//! form the end-to-end suite, built with `--features e2e`: `scripts/e2e` gets what they need and
//! runs them.

mod analyses;
mod cli;
mod content;
mod diff;
mod digests;
mod docs;
mod durable;
mod explain;
mod filter;
mod fuzz;
#[path = "../fuzz/src/lib.rs"]
mod fuzz_entry;
mod hand;
#[cfg(feature = "e2e")]
mod html;
mod interrupt;
#[cfg(feature = "e2e")]
mod kafka;
mod load;
mod parquet;
mod properties;
mod serve;
mod util;
mod world;
