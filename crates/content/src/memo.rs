//! Per-thread memos of what depends only on a message's text or its masked normal form.
//!
//! Business messages are templates: a login code, a flight change, a receipt, sent thousands of
//! times with another code, name slot or link. The masked normal form ([`crate::tokens`]) replaces
//! the code and the link by placeholders, so copies of one template share it (the 2-day default
//! world's 517,178 texts have 472,688 distinct texts but 34,730 distinct masked forms). Two parts
//! of the analysis read nothing else: the fingerprint and the classifier's character n-gram and
//! word features, about a fifth of the analysis (hundreds of scattered reads of the weight table).
//! [`Memo::masked`] remembers them for recently seen masked forms.
//!
//! Marketing blasts send one text, byte for byte, to many recipients: in the same world 68 texts
//! were sent ten times or more and make 8.5% of all messages, while 472,371 texts were sent once.
//! [`Memo::text`] remembers the whole analysis of a text seen twice recently, so the third and
//! later copies cost a lookup and a copy. A text is only remembered on its second sighting: one
//! sent once costs a hash, not a copy of its analysis.
//!
//! What the memo returns is exactly what computing would: an analysis is a function of the text
//! and the engine, the fingerprint and the table's integer sums of the masked text and the model,
//! and the memo serves one engine at a time (it forgets everything when it is asked to serve
//! another, see [`Memo::serve`]). So the analysis, and every verdict, is the same with or without
//! it, whatever the threads and their order.
//!
//! Both tables are direct-mapped (a key's hash picks its one slot; a newer key evicts an older
//! one) and hold keys of at most [`MAX_KEY`] bytes (longer texts are computed every time), so the
//! memory is bounded per thread; they are allocated on first use.

use crate::Analysis;
use crate::classifier::{Model, TextScore};
use crate::fingerprint::Fingerprint;
use crate::tokens::{Tokens, hash_bytes};

/// Masked texts remembered per thread: a power of two.
const MASKED_SLOTS: usize = 8192;
/// Whole texts remembered (or seen once) per thread: a power of two.
const TEXT_SLOTS: usize = 4096;
/// Longer keys are not remembered, which bounds the masked table at about
/// `MASKED_SLOTS * MAX_KEY` bytes (4 MiB) per thread, and the text table at `TEXT_SLOTS` analyses
/// of texts this long.
const MAX_KEY: usize = 512;

/// What the memo remembers for a masked text.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Memoized {
    /// The text's fingerprint.
    pub fingerprint: Fingerprint,
    /// The model's score of the text's features, when there is a model.
    pub text: Option<TextScore>,
}

/// One entry of a [`Table`].
#[derive(Clone)]
struct Slot<V> {
    /// The memo generation that wrote the slot; 0 = empty.
    generation: u64,
    hash: u64,
    /// The key, when `value` is there.
    key: String,
    /// `None`: the key was seen once (the text table), known only by its hash.
    value: Option<V>,
}

impl<V> Slot<V> {
    /// Whether the slot holds `key` (with this hash) for this generation.
    fn holds(&self, generation: u64, hash: u64, key: &str) -> bool {
        self.generation == generation && self.hash == hash && self.key == key
    }

    /// Makes the slot hold `value` for `key`.
    fn store(&mut self, generation: u64, hash: u64, key: &str, value: Option<V>) {
        self.generation = generation;
        self.hash = hash;
        self.key.clear();
        self.key.push_str(key);
        self.value = value;
    }
}

impl<V> Default for Slot<V> {
    fn default() -> Slot<V> {
        Slot {
            generation: 0,
            hash: 0,
            key: String::new(),
            value: None,
        }
    }
}

/// A direct-mapped table of `SLOTS` entries by string key.
#[derive(Clone)]
struct Table<V, const SLOTS: usize> {
    slots: Vec<Slot<V>>,
}

impl<V, const SLOTS: usize> Default for Table<V, SLOTS> {
    fn default() -> Table<V, SLOTS> {
        Table { slots: Vec::new() }
    }
}

impl<V, const SLOTS: usize> Table<V, SLOTS> {
    /// Where the one slot of a key with this hash is.
    fn index(hash: u64) -> usize {
        hash as usize & (SLOTS - 1)
    }

    /// The one slot of a key with this hash.
    fn slot(&mut self, hash: u64) -> &mut Slot<V> {
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, Slot::default);
        }
        &mut self.slots[Self::index(hash)]
    }
}

/// What [`Memo::text`] knows of a text.
pub(crate) enum Seen {
    /// Its analysis is remembered: [`Memo::known`] under this hash.
    Known(u64),
    /// Seen once recently: [`Memo::remember`] its analysis under this hash.
    Again(u64),
    /// Not seen recently (now noted), or too long to remember.
    New,
}

/// See the module docs.
#[derive(Clone)]
pub(crate) struct Memo {
    /// The engine served (see [`crate::ContentEngine`]'s ids); 0 = none yet.
    engine: u64,
    /// Entries of other generations are empty; a new engine starts a new one.
    generation: u64,
    masked: Table<Memoized, MASKED_SLOTS>,
    /// Boxed: most slots hold a text seen once (a hash, no analysis), so a slot is 48 bytes
    /// and the table 192 KiB per thread; with the analyses inline it was 832 KiB.
    texts: Table<Box<Analysis>, TEXT_SLOTS>,
}

impl Default for Memo {
    fn default() -> Memo {
        Memo {
            engine: 0,
            generation: 1,
            masked: Table::default(),
            texts: Table::default(),
        }
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("engine", &self.engine)
            .field("generation", &self.generation)
            .field("masked_slots", &self.masked.slots.len())
            .field("text_slots", &self.texts.slots.len())
            .finish()
    }
}

impl Memo {
    /// Serves the engine with this id from now on: what was remembered for another is forgotten
    /// (at no cost: its entries belong to an older generation).
    pub(crate) fn serve(&mut self, engine: u64) {
        if engine != self.engine {
            self.engine = engine;
            self.generation += 1;
        }
    }

    /// The remembered analysis of `text`, or whether to remember it once computed.
    pub(crate) fn text(&mut self, text: &str) -> Seen {
        if text.len() > MAX_KEY {
            return Seen::New;
        }
        let hash = hash_bytes(text.as_bytes());
        let generation = self.generation;
        let slot = self.texts.slot(hash);
        if slot.generation == generation && slot.hash == hash {
            match &slot.value {
                Some(_) if slot.key == text => return Seen::Known(hash),
                None => return Seen::Again(hash),
                // Another text with the same 64-bit hash: it is noted below in its place.
                Some(_) => {}
            }
        }
        slot.store(generation, hash, "", None);
        Seen::New
    }

    /// The analysis remembered under `hash`, which [`Memo::text`] answered with
    /// [`Seen::Known`] (nothing changed the memo since).
    pub(crate) fn known(&self, hash: u64) -> &Analysis {
        self.texts.slots[Table::<Box<Analysis>, TEXT_SLOTS>::index(hash)]
            .value
            .as_deref()
            .expect("the slot Memo::text found")
    }

    /// Remembers the analysis of `text`, which [`Memo::text`] answered with [`Seen::Again`].
    pub(crate) fn remember(&mut self, text: &str, hash: u64, analysis: &Analysis) {
        let generation = self.generation;
        self.texts
            .slot(hash)
            .store(generation, hash, text, Some(Box::new(analysis.clone())));
    }

    /// The fingerprint and text score of `tokens` (just masked, words hashed or not) under
    /// `model`, the served engine's: remembered if this masked text was seen recently, computed
    /// and remembered otherwise.
    pub(crate) fn masked(&mut self, model: Option<&Model>, tokens: &mut Tokens) -> Memoized {
        let compute = |tokens: &mut Tokens| {
            tokens.hash_words();
            Memoized {
                fingerprint: Fingerprint::of_tokens(tokens),
                text: model.map(|m| m.text_score(tokens)),
            }
        };
        if tokens.masked.len() > MAX_KEY {
            return compute(tokens);
        }
        let hash = hash_bytes(tokens.masked.as_bytes());
        let generation = self.generation;
        let slot = self.masked.slot(hash);
        if slot.holds(generation, hash, &tokens.masked)
            && let Some(value) = slot.value
        {
            return value;
        }
        let value = compute(tokens);
        slot.store(generation, hash, &tokens.masked, Some(value));
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
        let model = Model::shipped().expect("the shipped model loads");
        let mut memo = Memo::default();
        memo.serve(1);
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
        let texts: Vec<String> = (0..3 * MASKED_SLOTS)
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
                // Masked only, as the analysis leaves it: the memo hashes the words when it
                // computes.
                tokens.mask(text);
                assert_eq!(memo.masked(Some(&model), &mut tokens), expected, "text {i}");
                // Asked again at once: served from the slot.
                tokens.mask(text);
                assert_eq!(memo.masked(Some(&model), &mut tokens), expected, "text {i}");
            }
        }
    }

    /// An analysis with a mark of its text.
    fn marked(i: usize) -> Analysis {
        Analysis {
            spam_probability: Some(i as f64),
            ..Analysis::default()
        }
    }

    #[test]
    fn a_text_is_remembered_from_its_second_sighting_for_its_engine_only() {
        let mut memo = Memo::default();
        memo.serve(7);
        assert!(matches!(memo.text("hello"), Seen::New));
        let Seen::Again(hash) = memo.text("hello") else {
            panic!("seen once before")
        };
        memo.remember("hello", hash, &marked(1));
        for _ in 0..3 {
            assert!(matches!(memo.text("hello"), Seen::Known(h) if *memo.known(h) == marked(1)));
        }
        // Another engine: nothing is known, also when the first one is served again.
        memo.serve(8);
        assert!(matches!(memo.text("hello"), Seen::New));
        memo.serve(7);
        assert!(matches!(memo.text("hello"), Seen::New));
        assert!(matches!(memo.text("hello"), Seen::Again(_)));
        // Too long to remember: never noted.
        let long = "x".repeat(MAX_KEY + 1);
        assert!(matches!(memo.text(&long), Seen::New));
        assert!(matches!(memo.text(&long), Seen::New));
    }

    /// More distinct texts than slots, each seen twice and remembered, so they evict each other:
    /// whatever is still known must be the text's own.
    #[test]
    fn colliding_texts_get_their_own_analyses() {
        let mut memo = Memo::default();
        memo.serve(1);
        let texts: Vec<String> = (0..3 * TEXT_SLOTS).map(|i| format!("text {i}")).collect();
        for (i, text) in texts.iter().enumerate() {
            memo.text(text);
            if let Seen::Again(hash) = memo.text(text) {
                memo.remember(text, hash, &marked(i));
            }
        }
        let mut known = 0;
        for (i, text) in texts.iter().enumerate().rev() {
            if let Seen::Known(h) = memo.text(text) {
                assert_eq!(*memo.known(h), marked(i), "{text}");
                known += 1;
            }
        }
        assert!(known >= TEXT_SLOTS / 2, "{known} known");
    }
}
