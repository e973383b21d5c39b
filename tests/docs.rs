//! README documents every reason code and every policy key (so neither can ship undocumented).

use spamward_core::Signal;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn every_reason_code_is_documented() {
    let readme = readme();
    for s in Signal::ALL {
        assert!(
            readme.contains(&format!("`{}`", s.code())),
            "README lacks reason code `{}`",
            s.code()
        );
    }
}

#[test]
fn every_policy_key_is_documented() {
    let readme = readme();
    let policy: toml::Table = spamward_core::policy::DEFAULT_POLICY_TOML.parse().unwrap();
    let mut missing = Vec::new();
    for (section, table) in &policy {
        let table = table.as_table().unwrap();
        if section == "signals" {
            for (signal, keys) in table {
                assert!(
                    readme.contains(&format!("`{signal}`")),
                    "README lacks signal `{signal}`"
                );
                for key in keys.as_table().unwrap().keys() {
                    if !readme.contains(&format!("`signals.<rate>.{key}`"))
                        && !readme.contains(&format!("`signals.{signal}.{key}`"))
                        && !readme.contains(&format!("`{key}`"))
                    {
                        missing.push(format!("signals.{signal}.{key}"));
                    }
                }
            }
        } else {
            for key in table.keys() {
                if !readme.contains(&format!("`{section}.{key}`")) {
                    missing.push(format!("{section}.{key}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "README lacks policy keys: {missing:?}");
}
