//! `spamward train` and `spamward eval-content`: the content classifier, trained and measured on
//! labelled texts.
//!
//! Both commands take the SMS collection's side of the one fixed split (`spamward_core::corpus`)
//! and keep the first of texts that share a split key, so a duplicate never counts twice and the
//! test side never leaks into training.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use spamward_content::{ContentEngine, Model, Scratch, TrainOptions, Trainer, TrainingExample};
use spamward_core::corpus::{Split, parse_sms_tsv, split_key, split_of};

/// Input formats of labelled texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatasetFormat {
    /// The SMS Spam Collection: `ham<TAB>text` or `spam<TAB>text`, one per line.
    SmsTsv,
    /// One text per line, every line with the label given by `--label`; blank lines and lines
    /// starting with `#` are skipped.
    Lines,
}

/// Which side of the split to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// The training side (about 70% of distinct texts).
    Train,
    /// The test side (about 30%).
    Test,
    /// Every text.
    All,
}

/// A label for `--format lines`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LabelArg {
    /// Every line is spam.
    Spam,
    /// Every line is legitimate.
    Ham,
}

/// `spamward train`.
#[derive(Args)]
pub struct TrainArgs {
    /// The labelled texts.
    #[arg(long)]
    dataset: PathBuf,
    /// Their format (training reads the SMS collection's format).
    #[arg(long, value_enum, default_value = "sms-tsv")]
    format: TrainFormat,
    /// Where to write the model.
    #[arg(long)]
    out: PathBuf,
}

/// Training formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TrainFormat {
    /// The SMS Spam Collection: `ham<TAB>text` or `spam<TAB>text`, one per line.
    SmsTsv,
}

/// `spamward eval-content`.
#[derive(Args)]
pub struct EvalContentArgs {
    /// The labelled texts.
    #[arg(long)]
    dataset: PathBuf,
    /// Their format: `sms-tsv`, or `lines` (one text per line, all labelled `--label`).
    #[arg(long, value_enum, default_value = "sms-tsv")]
    format: DatasetFormat,
    /// The label of every line, for `--format lines`.
    #[arg(long, value_enum)]
    label: Option<LabelArg>,
    /// Which side of the split to measure on (default: `test` for sms-tsv, `all` for lines).
    #[arg(long, value_enum)]
    split: Option<SplitArg>,
    /// A model file to use instead of the shipped one.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Print this many of the worst mistakes (false positives and false negatives).
    #[arg(long, default_value_t = 0)]
    show_errors: usize,
    /// Print the figures as JSON (the last line is still `content F1: X`).
    #[arg(long)]
    json: bool,
}

/// Distinct labelled texts of one side of the split.
fn load(
    path: &Path,
    format: DatasetFormat,
    label: Option<LabelArg>,
    split: SplitArg,
) -> Result<Vec<(String, bool)>> {
    let data =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let all: Vec<(String, bool)> = match format {
        DatasetFormat::SmsTsv => parse_sms_tsv(&data)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            .into_iter()
            .map(|l| (l.text, l.spam))
            .collect(),
        DatasetFormat::Lines => {
            let Some(label) = label else {
                bail!("--format lines needs --label spam or --label ham");
            };
            data.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| (l.to_string(), label == LabelArg::Spam))
                .collect()
        }
    };
    let mut seen = std::collections::HashSet::new();
    Ok(all
        .into_iter()
        .filter(|(text, _)| match split {
            SplitArg::All => true,
            SplitArg::Train => split_of(text) == Split::Train,
            SplitArg::Test => split_of(text) == Split::Test,
        })
        .filter(|(text, _)| seen.insert(split_key(text)))
        .collect())
}

impl TrainArgs {
    /// Trains on the training side and writes the model.
    pub fn run(self) -> Result<bool> {
        let TrainFormat::SmsTsv = self.format;
        let started = Instant::now();
        let corpus = load(&self.dataset, DatasetFormat::SmsTsv, None, SplitArg::Train)?;
        let business: Vec<TrainingExample> =
            spamward_content::classifier::business_training_examples().collect();
        let mut examples: Vec<TrainingExample> = corpus
            .iter()
            .map(|(t, s)| TrainingExample::new(t, *s))
            .collect();
        examples.extend(business.iter().copied());
        let engine = ContentEngine::builder().without_model().build();
        let options = TrainOptions::default();
        let (model, report) = Trainer::new(options.clone()).train(&engine, &examples)?;
        let bytes = model.to_bytes();
        std::fs::write(&self.out, &bytes)
            .with_context(|| format!("cannot write {}", self.out.display()))?;
        let info = &report.info;
        let spam = corpus.iter().filter(|e| e.1).count();
        let mut o = std::io::stdout().lock();
        writeln!(
            o,
            "trained on {} distinct texts of the training side of {} ({} spam, {} ham) and {} business texts (ham, weight {})",
            corpus.len(),
            self.dataset.display(),
            spam,
            corpus.len() - spam,
            business.len(),
            spamward_content::classifier::BUSINESS_TRAINING_WEIGHT
        )?;
        writeln!(
            o,
            "logistic regression, 2^{} hashed weights ({} non-zero) + {} dense, {} epochs",
            options.hash_bits,
            info.nonzero_weights,
            spamward_content::classifier::DENSE_FEATURES.len(),
            info.epochs
        )?;
        writeln!(
            o,
            "threshold {:.4} from {}-fold cross-validation at ham FPR <= {}: precision {:.4} recall {:.4} F1 {:.4} FPR {:.4}",
            report.threshold,
            info.folds,
            options.max_fpr,
            info.cv_precision,
            info.cv_recall,
            info.cv_f1,
            info.cv_fpr
        )?;
        writeln!(
            o,
            "wrote {} ({} bytes) in {:.1} s",
            self.out.display(),
            bytes.len(),
            started.elapsed().as_secs_f64()
        )?;
        Ok(true)
    }
}

/// The figures `eval-content` prints.
#[derive(Serialize)]
struct ContentEval {
    dataset: String,
    split: &'static str,
    texts: usize,
    spam: usize,
    ham: usize,
    threshold: f64,
    true_positives: usize,
    false_positives: usize,
    false_negatives: usize,
    true_negatives: usize,
    precision: f64,
    recall: f64,
    f1: f64,
    false_positive_rate: f64,
    roc_auc: Option<f64>,
    /// Rule id → hits on spam and on ham.
    rules: BTreeMap<String, RuleCount>,
}

#[derive(Default, Serialize)]
struct RuleCount {
    spam: usize,
    ham: usize,
}

impl EvalContentArgs {
    /// Classifies every text and prints the figures; the last line is `content F1: X`.
    pub fn run(self) -> Result<bool> {
        let split = self.split.unwrap_or(match self.format {
            DatasetFormat::SmsTsv => SplitArg::Test,
            DatasetFormat::Lines => SplitArg::All,
        });
        let texts = load(&self.dataset, self.format, self.label, split)?;
        if texts.is_empty() {
            bail!("no texts to evaluate in {}", self.dataset.display());
        }
        let engine = match &self.model {
            None => ContentEngine::default(),
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let model =
                    Model::from_bytes(&bytes).with_context(|| format!("{}", path.display()))?;
                ContentEngine::builder().model(model).build()
            }
        };
        let Some(model) = engine.model() else {
            bail!("the shipped model does not load; pass --model FILE");
        };
        let threshold = model.threshold();
        let mut scratch = Scratch::new();
        let mut rules: BTreeMap<String, RuleCount> = engine
            .rules()
            .rules()
            .iter()
            .map(|r| (r.id.to_string(), RuleCount::default()))
            .collect();
        let mut scored = Vec::with_capacity(texts.len());
        for (text, spam) in &texts {
            let a = engine.analyze_with(text, &mut scratch);
            for hit in &a.rule_hits {
                let c = rules.entry(hit.id.to_string()).or_default();
                if *spam {
                    c.spam += 1;
                } else {
                    c.ham += 1;
                }
            }
            scored.push((a.spam_probability.unwrap_or(0.0), *spam));
        }
        let count = |spam: bool, flagged: bool| {
            scored
                .iter()
                .filter(|(p, s)| *s == spam && (*p >= threshold) == flagged)
                .count()
        };
        let (tp, fp, fneg, tn) = (
            count(true, true),
            count(false, true),
            count(true, false),
            count(false, false),
        );
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fneg);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        rules.retain(|_, c| c.spam + c.ham > 0);
        let e = ContentEval {
            dataset: self.dataset.display().to_string(),
            split: match split {
                SplitArg::Train => "train",
                SplitArg::Test => "test",
                SplitArg::All => "all",
            },
            texts: texts.len(),
            spam: tp + fneg,
            ham: fp + tn,
            threshold,
            true_positives: tp,
            false_positives: fp,
            false_negatives: fneg,
            true_negatives: tn,
            precision,
            recall,
            f1,
            false_positive_rate: ratio(fp, fp + tn),
            roc_auc: roc_auc(&scored),
            rules,
        };
        let mut o = std::io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(&mut o, &e)?;
            writeln!(o)?;
        } else {
            print(&mut o, &e)?;
            if self.show_errors > 0 {
                print_errors(&mut o, &texts, &scored, threshold, self.show_errors)?;
            }
        }
        writeln!(o, "content F1: {:.4}", e.f1)?;
        Ok(true)
    }
}

fn print(o: &mut impl Write, e: &ContentEval) -> Result<()> {
    writeln!(
        o,
        "{} ({} side): {} distinct texts, {} spam, {} ham; threshold {:.4}",
        e.dataset, e.split, e.texts, e.spam, e.ham, e.threshold
    )?;
    writeln!(
        o,
        "spam caught {} of {}, ham flagged {} of {}",
        e.true_positives, e.spam, e.false_positives, e.ham
    )?;
    writeln!(
        o,
        "precision {:.4}  recall {:.4}  F1 {:.4}  ham FPR {:.4}  ROC AUC {}",
        e.precision,
        e.recall,
        e.f1,
        e.false_positive_rate,
        e.roc_auc.map_or("-".into(), |a| format!("{a:.4}"))
    )?;
    writeln!(o, "\n  {:<36} {:>6} {:>6}", "rule", "spam", "ham")?;
    let mut rows: Vec<_> = e.rules.iter().collect();
    rows.sort_by(|a, b| {
        (b.1.spam + b.1.ham)
            .cmp(&(a.1.spam + a.1.ham))
            .then(a.0.cmp(b.0))
    });
    for (id, c) in rows {
        writeln!(o, "  {id:<36} {:>6} {:>6}", c.spam, c.ham)?;
    }
    Ok(())
}

fn print_errors(
    o: &mut impl Write,
    texts: &[(String, bool)],
    scored: &[(f64, bool)],
    threshold: f64,
    n: usize,
) -> Result<()> {
    let mut fps: Vec<usize> = (0..texts.len())
        .filter(|&i| !scored[i].1 && scored[i].0 >= threshold)
        .collect();
    fps.sort_by(|&a, &b| scored[b].0.total_cmp(&scored[a].0));
    let mut fns: Vec<usize> = (0..texts.len())
        .filter(|&i| scored[i].1 && scored[i].0 < threshold)
        .collect();
    fns.sort_by(|&a, &b| scored[a].0.total_cmp(&scored[b].0));
    writeln!(o, "\nham flagged as spam:")?;
    for &i in fps.iter().take(n) {
        writeln!(o, "  {:.4}  {}", scored[i].0, texts[i].0)?;
    }
    writeln!(o, "spam missed:")?;
    for &i in fns.iter().take(n) {
        writeln!(o, "  {:.4}  {}", scored[i].0, texts[i].0)?;
    }
    Ok(())
}

/// The probability that a random spam scores above a random ham (ties count half); `None` unless
/// both classes are present.
fn roc_auc(scored: &[(f64, bool)]) -> Option<f64> {
    let mut v: Vec<(f64, bool)> = scored.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pos = v.iter().filter(|x| x.1).count() as f64;
    let neg = v.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    // Mann-Whitney U with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            j += 1;
        }
        let avg = (i + 1 + j) as f64 / 2.0;
        rank_sum += avg * v[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

#[cfg(test)]
mod tests {
    use super::roc_auc;

    #[test]
    fn auc() {
        assert_eq!(roc_auc(&[(0.9, true), (0.1, false)]), Some(1.0));
        assert_eq!(roc_auc(&[(0.1, true), (0.9, false)]), Some(0.0));
        assert_eq!(roc_auc(&[(0.5, true), (0.5, false)]), Some(0.5));
        assert_eq!(roc_auc(&[(0.5, true)]), None);
    }
}
