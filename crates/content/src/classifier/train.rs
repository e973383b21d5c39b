//! Training: deterministic AdaGrad logistic regression and a threshold chosen by cross-validation.
//!
//! Everything here runs on one thread in an order fixed by [`TrainOptions::seed`], in `f64`, so the
//! same examples and options give the same model file, byte for byte, on any build profile.

use super::{
    DENSE, DENSE_PRIOR, Model, ModelError, ModelErrorKind, ModelInfo, Sink, dense_features, visit,
};
use crate::{ContentEngine, Scratch};

/// Training knobs. The defaults are what the shipped model was trained with.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    /// The hashed table has `2^hash_bits` weights (8..=24).
    pub hash_bits: u8,
    /// Passes over the examples.
    pub epochs: u32,
    /// AdaGrad's base step.
    pub learning_rate: f64,
    /// L2 penalty per update.
    pub l2: f64,
    /// Folds of the cross-validation that picks the threshold (at least 2).
    pub folds: u32,
    /// The largest out-of-fold false-positive rate on ham the threshold may allow.
    pub max_fpr: f64,
    /// Seed of the example order.
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            hash_bits: 18,
            epochs: 10,
            learning_rate: 0.2,
            l2: 1e-4,
            folds: 5,
            max_fpr: 0.003,
            seed: 0x5eed_5a11_c0de_0001,
        }
    }
}

/// What training did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// The model's training record (examples, cross-validated figures).
    pub info: ModelInfo,
    /// The decision threshold chosen.
    pub threshold: f64,
    /// The out-of-fold spam probability of each example, in the order given.
    pub out_of_fold: Vec<f64>,
}

/// Trains [`Model`]s.
#[derive(Clone, Debug, Default)]
pub struct Trainer {
    options: TrainOptions,
}

/// A labelled text to train on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainingExample<'a> {
    /// The message as sent.
    pub text: &'a str,
    /// Spam or not.
    pub spam: bool,
    /// How much its loss counts (1 for an ordinary example).
    pub weight: f64,
    /// Whether its out-of-fold score counts when the threshold is chosen. Texts written to teach
    /// the model what a sample of traffic lacks are not a sample of traffic: counting them would
    /// tune the threshold to them.
    pub sets_threshold: bool,
    /// A legitimate text the threshold must not flag: the threshold is placed above its
    /// out-of-fold score. For the business texts that stand for traffic that must never be
    /// blocked.
    pub guard: bool,
}

impl<'a> TrainingExample<'a> {
    /// An example of weight 1.
    pub fn new(text: &'a str, spam: bool) -> TrainingExample<'a> {
        TrainingExample {
            text,
            spam,
            weight: 1.0,
            sets_threshold: true,
            guard: false,
        }
    }
}

/// One example's features: sorted, merged `(index, value)` pairs; the bias is the last index.
struct Example {
    x: Vec<(u32, f64)>,
    y: f64,
    weight: f64,
}

struct CollectSink {
    shift: u32,
    groups: [Vec<(u32, f64)>; 3],
}

impl Sink for CollectSink {
    fn feature(&mut self, group: usize, hash: u64) {
        let sign = if hash >> (self.shift - 1) & 1 == 0 {
            1.0
        } else {
            -1.0
        };
        self.groups[group].push(((hash >> self.shift) as u32, sign));
    }
}

impl Trainer {
    /// A trainer with these options.
    pub fn new(options: TrainOptions) -> Trainer {
        Trainer { options }
    }

    /// The options.
    pub fn options(&self) -> &TrainOptions {
        &self.options
    }

    /// Trains on `examples`, analysing each with `engine`, and picks the threshold by
    /// cross-validation on the same examples.
    pub fn train(
        &self,
        engine: &ContentEngine,
        examples: &[TrainingExample<'_>],
    ) -> Result<(Model, TrainReport), ModelError> {
        let o = &self.options;
        let spam = examples.iter().filter(|e| e.spam).count();
        if spam == 0 || spam == examples.len() {
            return Err(ModelError::new(ModelErrorKind::NeedBothClasses));
        }
        if !(8..=24).contains(&o.hash_bits) {
            return Err(ModelError::new(ModelErrorKind::Invalid(format!(
                "hash_bits {} is outside 8..=24",
                o.hash_bits
            ))));
        }
        let table = 1usize << o.hash_bits;
        let mut scratch = Scratch::new();
        let data: Vec<Example> = examples
            .iter()
            .map(|e| {
                let a = engine.analyze_with(e.text, &mut scratch);
                scratch.tokens.tokenize(&a.normalized.text);
                scratch.tokens.shape(e.text);
                let mut sink = CollectSink {
                    shift: 64 - u32::from(o.hash_bits),
                    groups: Default::default(),
                };
                visit(&scratch.tokens, &a, &mut sink);
                let mut x = Vec::new();
                for (gi, g) in sink.groups.into_iter().enumerate() {
                    if g.is_empty() {
                        continue;
                    }
                    let scale = super::group_scale(gi, g.len() as u32);
                    x.extend(g.into_iter().map(|(i, s)| (i, s * scale)));
                }
                x.sort_by_key(|p| p.0);
                x.dedup_by(|b, a| {
                    if a.0 == b.0 {
                        a.1 += b.1;
                        true
                    } else {
                        false
                    }
                });
                let dense = dense_features(&scratch.tokens, &a);
                for (j, v) in dense.into_iter().enumerate() {
                    if v != 0.0 {
                        x.push(((table + j) as u32, v));
                    }
                }
                x.push(((table + DENSE) as u32, 1.0));
                Example {
                    x,
                    y: if e.spam { 1.0 } else { 0.0 },
                    weight: if e.weight.is_finite() {
                        e.weight.max(0.0)
                    } else {
                        0.0
                    },
                }
            })
            .collect();

        // Cross-validation: fold of an example = its position in a seeded shuffle, modulo k.
        let k = o.folds.max(2) as usize;
        let order = shuffled(data.len(), o.seed);
        let mut fold_of = vec![0usize; data.len()];
        for (pos, &i) in order.iter().enumerate() {
            fold_of[i] = pos % k;
        }
        let mut oof = vec![0.0; data.len()];
        for f in 0..k {
            let train: Vec<usize> = (0..data.len()).filter(|&i| fold_of[i] != f).collect();
            let w = self.fit(&data, &train, table);
            for i in (0..data.len()).filter(|&i| fold_of[i] == f) {
                oof[i] = super::sigmoid(dot(&w, &data[i].x));
            }
        }
        let (scores, labels): (Vec<f64>, Vec<bool>) = examples
            .iter()
            .zip(&oof)
            .filter(|(e, _)| e.sets_threshold)
            .map(|(e, &p)| (p, e.spam))
            .unzip();
        let floor = examples
            .iter()
            .zip(&oof)
            .filter(|(e, _)| e.guard && !e.spam)
            .map(|(_, &p)| p)
            .fold(0.0, f64::max);
        let cut = choose_threshold(&scores, &labels, o.max_fpr, floor);

        let all: Vec<usize> = (0..data.len()).collect();
        let w = self.fit(&data, &all, table);
        let max = w[..table].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 {
            max / f64::from(i16::MAX)
        } else {
            0.0
        };
        let q: Vec<i16> = w[..table]
            .iter()
            .map(|&v| {
                if scale > 0.0 {
                    (v / scale).round() as i16
                } else {
                    0
                }
            })
            .collect();
        let mut dense = [0.0; DENSE];
        dense.copy_from_slice(&w[table..table + DENSE]);
        let info = ModelInfo {
            examples: data.len() as u32,
            spam: spam as u32,
            epochs: o.epochs,
            folds: k as u32,
            cv_precision: cut.precision,
            cv_recall: cut.recall,
            cv_f1: cut.f1,
            cv_fpr: cut.fpr,
            nonzero_weights: q.iter().filter(|&&v| v != 0).count() as u32,
        };
        let model = Model {
            hash_bits: o.hash_bits,
            table: q,
            table_scale: scale,
            dense,
            bias: w[table + DENSE],
            threshold: cut.threshold,
            info: info.clone(),
        };
        Ok((
            model,
            TrainReport {
                info,
                threshold: cut.threshold,
                out_of_fold: oof,
            },
        ))
    }

    /// AdaGrad on the logistic loss over the examples at `idx`, in a seeded order per epoch.
    fn fit(&self, data: &[Example], idx: &[usize], table: usize) -> Vec<f64> {
        let o = &self.options;
        let n = table + DENSE + 1;
        let bias = (table + DENSE) as u32;
        let mut w = vec![0.0f64; n];
        w[table..table + DENSE].copy_from_slice(&DENSE_PRIOR);
        let mut prior = vec![0.0f64; n];
        prior[table..table + DENSE].copy_from_slice(&DENSE_PRIOR);
        let mut g2 = vec![0.0f64; n];
        for epoch in 0..o.epochs {
            let order = shuffled(
                idx.len(),
                o.seed ^ u64::from(epoch + 1).wrapping_mul(0x9E37),
            );
            for &p in &order {
                let e = &data[idx[p]];
                let g = (super::sigmoid(dot(&w, &e.x)) - e.y) * e.weight;
                for &(j, x) in &e.x {
                    let j_ = j as usize;
                    let mut grad = g * x;
                    if j != bias {
                        grad += o.l2 * (w[j_] - prior[j_]);
                    }
                    g2[j_] += grad * grad;
                    w[j_] -= o.learning_rate * grad / (g2[j_].sqrt() + 1e-9);
                }
            }
        }
        w
    }
}

fn dot(w: &[f64], x: &[(u32, f64)]) -> f64 {
    x.iter().map(|&(j, v)| w[j as usize] * v).sum()
}

/// `0..n` in a seeded Fisher-Yates order (xorshift64*).
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut s = seed | 1;
    for i in (1..n).rev() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let r = s.wrapping_mul(0x2545_F491_4F6C_DD1D);
        v.swap(i, (r % (i as u64 + 1)) as usize);
    }
    v
}

/// A decision threshold and the figures at it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Cut {
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub fpr: f64,
}

/// The threshold of best F1 among those whose false-positive rate on ham is at most `max_fpr` and
/// that are above `floor`, halfway between the lowest score flagged and the next one down (or the
/// floor).
pub(crate) fn choose_threshold(scores: &[f64], spam: &[bool], max_fpr: f64, floor: f64) -> Cut {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let positives = spam.iter().filter(|&&s| s).count() as f64;
    let negatives = scores.len() as f64 - positives;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut best = Cut {
        threshold: 1.0,
        ..Cut::default()
    };
    for (rank, &i) in order.iter().enumerate() {
        if spam[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let next = order.get(rank + 1).map(|&j| scores[j]);
        if next == Some(scores[i]) {
            continue; // ties are flagged together
        }
        let fpr = if negatives > 0.0 { fp / negatives } else { 0.0 };
        if fpr > max_fpr || scores[i] <= floor {
            break;
        }
        let precision = tp / (tp + fp);
        let recall = if positives > 0.0 { tp / positives } else { 0.0 };
        let f1 = if tp > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        if f1 > best.f1 {
            best = Cut {
                threshold: (scores[i] + next.unwrap_or(0.0).max(floor)) / 2.0,
                precision,
                recall,
                f1,
                fpr,
            };
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_respects_the_fpr_bound() {
        let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
        let spam = [true, false, true, true, false, false];
        let strict = choose_threshold(&scores, &spam, 0.0, 0.0);
        assert!((strict.threshold - 0.85).abs() < 1e-12);
        assert_eq!(strict.fpr, 0.0);
        let loose = choose_threshold(&scores, &spam, 0.34, 0.0);
        assert!((loose.threshold - 0.55).abs() < 1e-12);
        assert!((loose.recall - 1.0).abs() < 1e-12);
        let floored = choose_threshold(&scores, &spam, 0.34, 0.65);
        assert!((floored.threshold - 0.675).abs() < 1e-12);
    }

    #[test]
    fn shuffle_is_a_fixed_permutation() {
        let a = shuffled(100, 7);
        assert_eq!(a, shuffled(100, 7));
        assert_ne!(a, shuffled(100, 8));
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
    }
}
