//! A generated world replayed through the core: abusers caught, trusted senders left alone.

use std::collections::BTreeMap;

use spamward_core::{Engine, Policy, Status};
use spamward_sim::{World, WorldConfig};

/// Archetypes that must never be suspended: the platform cannot afford to stop them.
const NEVER_SUSPEND: [&str; 3] = ["airline", "bank", "seasonal_retailer"];

#[test]
fn every_abusive_archetype_is_caught_and_trusted_senders_are_not_suspended() {
    let config = WorldConfig {
        businesses: 120,
        recipients: 60_000,
        days: 7,
        seed: 21,
        ..WorldConfig::default()
    };
    let world = World::new(config).expect("valid world");
    let mut engine = Engine::new(Policy::default());
    world
        .run(|batch| {
            engine.process(batch);
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap();
    let standings: BTreeMap<String, _> = engine.finish().into_iter().collect();

    // archetype -> (businesses, flagged, suspended)
    let mut seen: BTreeMap<String, (u32, u32, u32, bool)> = BTreeMap::new();
    for t in &world.truth().businesses {
        let name = serde_json::to_value(t.archetype)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        let s = standings.get(&t.business);
        let flagged = s.is_some_and(|s| s.first_flagged.is_some());
        let suspended = s.is_some_and(|s| s.status == Status::Suspended);
        let row = seen.entry(name.clone()).or_insert((0, 0, 0, t.abusive));
        row.0 += 1;
        row.1 += u32::from(flagged);
        row.2 += u32::from(suspended);
        if NEVER_SUSPEND.contains(&name.as_str()) {
            assert!(
                !suspended,
                "{} ({name}) was suspended: {:?}",
                t.business,
                s.map(|s| &s.reasons)
            );
        }
    }
    for (name, (n, flagged, _, abusive)) in &seen {
        if *abusive {
            assert!(
                *flagged * 10 >= *n * 8,
                "{name}: only {flagged} of {n} flagged"
            );
        }
    }
    for name in NEVER_SUSPEND {
        assert!(seen.contains_key(name), "the world has no {name}");
    }
    assert!(
        seen.values().filter(|r| r.3).count() >= 5,
        "every abusive archetype present: {seen:?}"
    );
}
