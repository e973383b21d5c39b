//! What the tests of every module share.

use std::convert::Infallible;

use spamward_core::Event;
use spamward_sim::{World, WorldConfig};

/// The log of a generated world of this size.
pub(crate) fn world(businesses: usize, recipients: usize, days: u32, seed: u64) -> Vec<Event> {
    let config = WorldConfig {
        businesses,
        recipients,
        days,
        seed,
        ..WorldConfig::default()
    };
    let mut events = Vec::new();
    World::new(config)
        .expect("valid world")
        .run(|batch| {
            events.extend_from_slice(batch);
            Ok::<(), Infallible>(())
        })
        .unwrap();
    events
}
