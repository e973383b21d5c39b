//! Integration tests of the content heuristics. Scenario tables live in `testdata/*.toml` (input →
//! expected), so a new case is a few lines of data, not a new function.

mod disguise;
mod engine;
mod fuzz;
mod links;
mod model;
mod normalize;
mod rules;
mod util;
