//! One module per subcommand; each is a thin shell over the library crates.

pub mod bench;
pub mod content;
pub mod convert;
pub mod diff;
pub mod explain;
pub mod filter;
pub mod generate;
pub mod kafka;
pub mod replay;
pub mod serve;
