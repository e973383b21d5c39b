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

/// The legitimate and spam messages above as training examples, labelled.
pub fn training_examples() -> Vec<spamward_content::TrainingExample<'static>> {
    static MESSAGES: std::sync::OnceLock<(Vec<String>, Vec<String>)> = std::sync::OnceLock::new();
    let (legit, spam) = MESSAGES.get_or_init(|| (legit(), spam()));
    legit
        .iter()
        .map(|t| spamward_content::TrainingExample::new(t, false))
        .chain(
            spam.iter()
                .map(|t| spamward_content::TrainingExample::new(t, true)),
        )
        .collect()
}

/// Training options for a small, quick model: a 2^12 table, 3 folds.
pub fn small_training_options() -> spamward_content::TrainOptions {
    spamward_content::TrainOptions {
        hash_bits: 12,
        folds: 3,
        ..spamward_content::TrainOptions::default()
    }
}
