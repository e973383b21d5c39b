//! The classifier's model file: it round-trips, and every kind of bad file is refused with its
//! own error, never a panic. Training is deterministic.

use spamward_content::{ContentEngine, Model, ModelErrorKind, Trainer, TrainingExample};

use crate::util;

fn shipped_bytes() -> Vec<u8> {
    Model::shipped()
        .expect("the shipped model loads")
        .to_bytes()
}

#[test]
fn shipped_model_loads_and_round_trips() {
    let model = Model::shipped().unwrap();
    assert!(model.threshold() > 0.0 && model.threshold() < 1.0);
    assert_eq!(model.hash_bits(), 18);
    let bytes = model.to_bytes();
    assert_eq!(bytes, include_bytes!("../../../data/model.bin"));
    assert_eq!(Model::from_bytes(&bytes).unwrap(), model);
    assert!(bytes.len() < 4 << 20, "{} bytes", bytes.len());
}

#[test]
fn bad_files_are_refused_with_their_reason() {
    let good = shipped_bytes();
    let kind = |bytes: &[u8]| Model::from_bytes(bytes).unwrap_err().kind().clone();

    assert!(matches!(kind(b""), ModelErrorKind::Truncated { .. }));
    assert!(matches!(kind(b"SWMO"), ModelErrorKind::Truncated { .. }));
    assert_eq!(
        kind(b"PK\x03\x04 definitely a zip file"),
        ModelErrorKind::BadMagic
    );
    assert!(matches!(
        kind(&good[..20]),
        ModelErrorKind::Truncated { .. }
    ));
    assert!(matches!(
        kind(&good[..good.len() - 1]),
        ModelErrorKind::Truncated { .. }
    ));

    let mut newer = good.clone();
    newer[8] = 2;
    assert_eq!(kind(&newer), ModelErrorKind::UnsupportedVersion(2));

    let mut flipped = good.clone();
    let mid = good.len() / 2;
    flipped[mid] ^= 0x40;
    assert_eq!(kind(&flipped), ModelErrorKind::ChecksumMismatch);

    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(kind(&longer), ModelErrorKind::Invalid(_)));

    // A payload with a valid checksum that is not a model.
    let mut garbage = good[..24].to_vec();
    let body = vec![0xffu8; 64];
    garbage[12..20].copy_from_slice(&(body.len() as u64).to_le_bytes());
    garbage[20..24].copy_from_slice(&crc32fast::hash(&body).to_le_bytes());
    garbage.extend_from_slice(&body);
    assert!(matches!(
        kind(&garbage),
        ModelErrorKind::Decode(_) | ModelErrorKind::Invalid(_)
    ));

    // Errors say what is wrong.
    let msg = Model::from_bytes(&flipped).unwrap_err().to_string();
    assert!(msg.contains("corrupt"), "{msg}");
    let msg = Model::from_bytes(&newer).unwrap_err().to_string();
    assert!(msg.contains("version 2"), "{msg}");
}

#[test]
fn the_engine_uses_the_model_it_is_given() {
    let without = ContentEngine::builder().without_model().build();
    let a = without.analyze("Your code is 482913. Do not share it.");
    assert_eq!(a.spam_probability, None);
    assert_eq!(without.is_spam(&a), None);

    let with = ContentEngine::builder()
        .model(Model::shipped().unwrap())
        .build();
    let spam = with.analyze(
        "WINNER!! You have won a £1000 cash prize. Call 09061701461 to claim now. T&Cs apply 18+",
    );
    assert!(spam.spam_probability.unwrap() > 0.9);
    assert_eq!(with.is_spam(&spam), Some(true));
    // The default engine carries the shipped model.
    assert!(util::engine().model().is_some());
}

#[test]
fn training_is_deterministic_and_needs_both_classes() {
    let engine = ContentEngine::builder().without_model().build();
    let examples = util::training_examples();
    let options = util::small_training_options();
    let trainer = Trainer::new(options);
    let (a, report) = trainer.train(&engine, &examples).unwrap();
    let (b, _) = trainer.train(&engine, &examples).unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert_eq!(report.out_of_fold.len(), examples.len());
    assert_eq!(a.info().examples as usize, examples.len());

    let only_ham: Vec<TrainingExample> = examples.iter().filter(|e| !e.spam).copied().collect();
    let err = trainer.train(&engine, &only_ham).unwrap_err();
    assert_eq!(err.kind(), &ModelErrorKind::NeedBothClasses);
}
