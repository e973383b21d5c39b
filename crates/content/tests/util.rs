//! Helpers shared by the integration tests.

use serde::de::DeserializeOwned;

/// Parses a scenario table, naming the file on error.
pub fn table<T: DeserializeOwned>(name: &str, text: &str) -> T {
    toml::from_str(text).unwrap_or_else(|e| panic!("testdata/{name}: {e}"))
}

/// A list of messages (`messages = [...]`).
#[derive(serde::Deserialize)]
pub struct Messages {
    pub messages: Vec<String>,
}

pub fn legit() -> Vec<String> {
    table::<Messages>("legit.toml", include_str!("../testdata/legit.toml")).messages
}

pub fn spam() -> Vec<String> {
    table::<Messages>("spam.toml", include_str!("../testdata/spam.toml")).messages
}

/// The default engine, shared by all tests.
pub fn engine() -> &'static spamward_content::ContentEngine {
    static ENGINE: std::sync::OnceLock<spamward_content::ContentEngine> =
        std::sync::OnceLock::new();
    ENGINE.get_or_init(spamward_content::ContentEngine::default)
}
