//! A per-thread memo of what depends only on a message's masked normal form.
//!
//! Business messages are templates: a login code, a flight change, a receipt, sent thousands of
//! times with another code, name slot or link. The masked normal form ([`crate::tokens`]) replaces
//! the code and the link by placeholders, so copies of one template share it (the 2-day default
//! world's 517,178 texts have 472,688 distinct texts but 34,730 distinct masked forms). Two parts
//! of the analysis read nothing else: the fingerprint and the classifier's character n-gram and
//! word features, about a fifth of the analysis (hundreds of scattered reads of the weight table).
//! [`Memo`] remembers them for recently seen masked forms.
//!
//! What it returns is exactly what computing would: the fingerprint and the table's integer sums
//! are functions of the masked text and the model, and the memo is keyed by the masked text and
//! tied to one model (it forgets everything when asked about another). So the analysis, and every
//! verdict, is the same with or without it, whatever the threads and their order.
//!
//! It is direct-mapped (a key's hash picks its one slot; a newer key evicts an older one), holds
//! [`SLOTS`] entries of masked texts of at most [`MAX_KEY`] bytes (longer texts are computed every
//! time), so its memory is bounded per thread, and it is allocated on first use.

use std::sync::Arc;

use crate::classifier::{Model, TextScore};
use crate::fingerprint::Fingerprint;
use crate::tokens::{Tokens, hash_bytes};

/// Entries per thread: a power of two.
const SLOTS: usize = 8192;
/// Longer masked texts are not remembered, which bounds the memo at about `SLOTS * MAX_KEY` bytes
/// (4 MiB) per thread.
const MAX_KEY: usize = 512;

/// What the memo remembers for a masked text.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Memoized {
    /// The text's fingerprint.
    pub fingerprint: Fingerprint,
    /// The model's score of the text's features, when there is a model.
    pub text: Option<TextScore>,
}

#[derive(Clone, Default)]
struct Slot {
    /// The memo generation that wrote the slot; 0 = empty.
    generation: u64,
    hash: u64,
    key: String,
    value: Memoized,
}

/// See the module docs.
#[derive(Clone)]
pub(crate) struct Memo {
    /// The model the entries of the current generation were computed with (held, so its address
    /// cannot be reused by another model while the memo compares against it).
    model: Option<Arc<Model>>,
    generation: u64,
    slots: Vec<Slot>,
}

impl Default for Memo {
    fn default() -> Memo {
        Memo {
            model: None,
            generation: 1,
            slots: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("generation", &self.generation)
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl Memo {
    /// The fingerprint and text score of `tokens` (just tokenised) under `model`: remembered if
    /// this masked text was seen recently with the same model, computed and remembered otherwise.
    pub(crate) fn get(&mut self, model: Option<&Arc<Model>>, tokens: &Tokens) -> Memoized {
        let compute = || Memoized {
            fingerprint: Fingerprint::of_tokens(tokens),
            text: model.map(|m| m.text_score(tokens)),
        };
        let key = tokens.masked.as_str();
        if key.len() > MAX_KEY {
            return compute();
        }
        let same_model = match (&self.model, model) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if !same_model {
            // Entries of older generations no longer match: forgetting costs nothing.
            self.model = model.cloned();
            self.generation += 1;
        }
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, Slot::default);
        }
        let hash = hash_bytes(key.as_bytes());
        let slot = &mut self.slots[hash as usize & (SLOTS - 1)];
        if slot.generation == self.generation && slot.hash == hash && slot.key == key {
            return slot.value;
        }
        let value = compute();
        slot.generation = self.generation;
        slot.hash = hash;
        slot.key.clear();
        slot.key.push_str(key);
        slot.value = value;
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// More distinct texts than slots, so keys collide on slots and evict each other: every
    /// answer must still be the text's own.
    #[test]
    fn colliding_keys_get_their_own_values() {
        let model = Arc::new(Model::shipped().expect("the shipped model loads"));
        let mut memo = Memo::default();
        let mut tokens = Tokens::default();
        // Letters, not digits: digit runs are masked, so numbered texts would share one key.
        let word = |mut n: usize| {
            let mut w = String::from("w");
            while n > 0 {
                w.push(char::from(b'a' + (n % 26) as u8));
                n /= 26;
            }
            w
        };
        let texts: Vec<String> = (0..3 * SLOTS)
            .map(|i| {
                format!(
                    "{} and {} then {}",
                    word(i % 997),
                    word(i / 997),
                    word(i % 13)
                )
            })
            .collect();
        for round in 0..2 {
            for (i, text) in texts.iter().enumerate().rev().skip(round) {
                tokens.tokenize(text);
                let expected = Memoized {
                    fingerprint: Fingerprint::of_tokens(&tokens),
                    text: Some(model.text_score(&tokens)),
                };
                assert_eq!(memo.get(Some(&model), &tokens), expected, "text {i}");
                // Asked again at once: served from the slot.
                assert_eq!(memo.get(Some(&model), &tokens), expected, "text {i}");
            }
        }
    }
}
