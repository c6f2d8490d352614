//! fastai's `ClassificationInterpretation` for Woofcam: run a model over a labelled split
//! and keep, per photo, what it predicted and its loss, for accuracy, per-class accuracy,
//! the confusion matrix, `most_confused` and `plot_top_losses` ([`plot`] draws the last
//! two's pictures).
//!
//! [`run_batches`] feeds the photos through the data pipeline's validation transform in
//! batches, on worker threads, and reports progress; `eval` and `export` (its f16 check)
//! both use it.

pub mod plot;
mod report;

pub use report::{EvalReport, TopLoss};

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use woofcam::metadata::ModelMetadata;

use crate::data::loader::Skipped;
use crate::data::{Dataset, Item, Loader, LoaderConfig, Split, Transform};

/// One photo's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    pub path: PathBuf,
    /// Model class indices.
    pub actual: usize,
    pub predicted: usize,
    /// Cross-entropy: `-ln p(actual)`.
    pub loss: f32,
    /// Probability of the predicted class (what fastai's `plot_top_losses` shows).
    pub probability: f32,
}

/// Per-class numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    pub id: String,
    pub name: String,
    pub images: usize,
    pub correct: usize,
    /// `None` for a class with no photos in the split.
    pub accuracy: Option<f64>,
}

/// A pair of classes the model mixes up, fastai's `most_confused`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub actual: String,
    pub predicted: String,
    pub count: usize,
}

/// Everything learned from one pass over a split.
#[derive(Clone, Debug)]
pub struct Interpretation {
    /// Class ids (folder names) in model order.
    pub ids: Vec<String>,
    /// Class names in model order.
    pub names: Vec<String>,
    /// `confusion[actual][predicted]`: photo counts.
    pub confusion: Vec<Vec<usize>>,
    pub predictions: Vec<Prediction>,
}

impl Interpretation {
    pub fn new(meta: &ModelMetadata) -> Self {
        let n = meta.classes.len();
        Self {
            ids: meta.classes.iter().map(|c| c.id.clone()).collect(),
            names: meta.class_names(),
            confusion: vec![vec![0; n]; n],
            predictions: Vec::new(),
        }
    }

    /// Records one photo from its logits.
    pub fn add(&mut self, path: &Path, actual: usize, logits: &[f32]) {
        let (predicted, loss, probability) = outcome(logits, actual);
        self.confusion[actual][predicted] += 1;
        self.predictions.push(Prediction { path: path.to_path_buf(), actual, predicted, loss, probability });
    }

    pub fn total(&self) -> usize {
        self.predictions.len()
    }

    pub fn correct(&self) -> usize {
        (0..self.confusion.len()).map(|c| self.confusion[c][c]).sum()
    }

    /// Fraction of photos predicted right (0 when there were none).
    pub fn accuracy(&self) -> f64 {
        if self.total() == 0 { 0.0 } else { self.correct() as f64 / self.total() as f64 }
    }

    /// Mean cross entropy over the photos, the epoch table's `valid_loss` (0 when none).
    pub fn mean_loss(&self) -> f64 {
        let sum: f64 = self.predictions.iter().map(|p| f64::from(p.loss)).sum();
        sum / self.total().max(1) as f64
    }

    pub fn per_class(&self) -> Vec<ClassScore> {
        (0..self.confusion.len())
            .map(|c| {
                let images: usize = self.confusion[c].iter().sum();
                let correct = self.confusion[c][c];
                let accuracy = (images > 0).then(|| correct as f64 / images as f64);
                ClassScore { id: self.ids[c].clone(), name: self.names[c].clone(), images, correct, accuracy }
            })
            .collect()
    }

    /// Off-diagonal pairs seen at least `min_count` times, most frequent first (ties in
    /// class order), as fastai's `most_confused(min_val)`.
    pub fn most_confused(&self, min_count: usize) -> Vec<Confusion> {
        let mut pairs: Vec<(usize, usize, usize)> = Vec::new();
        for (actual, row) in self.confusion.iter().enumerate() {
            for (predicted, &count) in row.iter().enumerate() {
                if actual != predicted && count >= min_count.max(1) {
                    pairs.push((actual, predicted, count));
                }
            }
        }
        pairs.sort_by(|a, b| b.2.cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
        pairs
            .into_iter()
            .map(|(a, p, count)| Confusion { actual: self.names[a].clone(), predicted: self.names[p].clone(), count })
            .collect()
    }

    /// The `k` photos with the highest loss, highest first.
    pub fn top_losses(&self, k: usize) -> Vec<&Prediction> {
        let mut ranked: Vec<&Prediction> = self.predictions.iter().collect();
        ranked.sort_by(|a, b| b.loss.total_cmp(&a.loss).then_with(|| a.path.cmp(&b.path)));
        ranked.truncate(k);
        ranked
    }
}

/// (argmax, cross-entropy of `actual`, probability of the argmax) from logits, computed in
/// f64 with the log-sum-exp shift so large logits do not overflow.
pub fn outcome(logits: &[f32], actual: usize) -> (usize, f32, f32) {
    let predicted = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
    let max = f64::from(logits[predicted]);
    let log_sum = logits.iter().map(|&l| (f64::from(l) - max).exp()).sum::<f64>().ln() + max;
    let loss = log_sum - f64::from(logits[actual]);
    let probability = (max - log_sum).exp();
    (predicted, loss as f32, probability as f32)
}

/// For each class of `data` (by index), the model's index of the same class, matched by id
/// (the folder name, e.g. a synset). Refuses a folder with a class the model does not have.
pub fn model_labels(data: &Dataset, meta: &ModelMetadata) -> Result<Vec<usize>> {
    let mut labels = Vec::with_capacity(data.classes.len());
    for class in &data.classes {
        match meta.classes.iter().position(|c| c.id == class.folder) {
            Some(index) => labels.push(index),
            None => {
                let known: Vec<&str> = meta.classes.iter().map(|c| c.id.as_str()).collect();
                bail!(
                    "the data folder's class `{}` is not one of the model's classes; the model knows {} \
                     (the folder has {})",
                    class.folder,
                    known.join(", "),
                    data.classes.iter().map(|c| c.folder.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    Ok(labels)
}

/// One batch of network inputs with the photos they came from.
pub struct BatchInput<'a> {
    /// `len` CHW images of `size` x `size`, normalised, one after another.
    pub images: Vec<f32>,
    pub len: usize,
    pub size: usize,
    /// Labels of the photos (whatever indices the items carried).
    pub labels: Vec<usize>,
    pub paths: Vec<&'a Path>,
}

/// What a [`run_batches`] pass saw.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub images: usize,
    pub skipped: Vec<Skipped>,
    pub seconds: f64,
}

/// Print a progress line every this many batches.
pub const PROGRESS_EVERY: usize = 10;

/// Feeds `items` through `transform`'s validation path (resize and centre crop, no
/// augmentation) in batches of `batch_size` in listed order, calling `each` per batch, and
/// prints a progress line (to stderr) every [`PROGRESS_EVERY`] batches. Unreadable photos
/// are left out and returned in [`RunSummary::skipped`].
pub fn run_batches(
    items: &[Item],
    transform: Transform,
    batch_size: usize,
    what: &str,
    mut each: impl FnMut(BatchInput<'_>) -> Result<()>,
) -> Result<RunSummary> {
    let batch_size = batch_size.max(1);
    let size = transform.size as usize;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let config = LoaderConfig { batch_size, workers, prefetch: 2, seed: 0, drop_last: false, teacher_size: None };
    let loader = Loader::new(items.to_vec(), Split::Valid, transform, config);
    let total_batches = items.len().div_ceil(batch_size);
    let start = Instant::now();
    let mut summary = RunSummary::default();
    for (index, batch) in loader.epoch(0).enumerate() {
        // Valid batches keep the listed order; a batch's photos are its slice of the items
        // minus the skipped ones.
        let chunk = &items[index * batch_size..((index + 1) * batch_size).min(items.len())];
        let paths: Vec<&Path> = chunk
            .iter()
            .map(|item| item.path.as_path())
            .filter(|path| !batch.skipped.iter().any(|s| s.path == *path))
            .collect();
        if paths.len() != batch.len {
            bail!("batch {index}: {} photos came back for {} paths", batch.len, paths.len());
        }
        summary.images += batch.len;
        summary.skipped.extend(batch.skipped.iter().cloned());
        if batch.len > 0 {
            each(BatchInput { images: batch.images, len: batch.len, size, labels: batch.labels, paths })?;
        }
        let done = index + 1;
        if done % PROGRESS_EVERY == 0 || done == total_batches {
            let seconds = start.elapsed().as_secs_f64();
            eprintln!(
                "{what}: batch {done}/{total_batches}, {} photos, {:.1} images/s",
                summary.images,
                summary.images as f64 / seconds.max(1e-9)
            );
        }
    }
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interpretation() -> Interpretation {
        let mut meta = ModelMetadata::imagewoof(64);
        meta.classes.truncate(3);
        let mut interp = Interpretation::new(&meta);
        // actual 0: right twice, once taken for 2; actual 1: taken for 2 twice; actual 2: right.
        for (actual, logits) in [
            (0, [3.0, 0.0, 0.0]),
            (0, [2.0, 1.0, 0.0]),
            (0, [0.0, 0.0, 5.0]),
            (1, [0.0, 0.0, 1.0]),
            (1, [0.0, -1.0, 9.0]),
            (2, [0.0, 0.0, 1.0]),
        ] {
            interp.add(Path::new(&format!("{actual}-{}.jpg", logits[2])), actual, &logits);
        }
        interp
    }

    #[test]
    fn loss_and_probability_match_softmax() {
        let (predicted, loss, probability) = outcome(&[1.0, 2.0, 3.0], 0);
        let sum = 1f64.exp() + 2f64.exp() + 3f64.exp();
        assert_eq!(predicted, 2);
        assert!((f64::from(loss) - (sum.ln() - 1.0)).abs() < 1e-6);
        assert!((f64::from(probability) - 3f64.exp() / sum).abs() < 1e-6);
        // Huge logits neither overflow nor give NaN.
        let (_, loss, probability) = outcome(&[1e30, -1e30], 1);
        assert!(loss.is_finite() || loss == f32::INFINITY);
        assert_eq!(probability, 1.0);
    }

    #[test]
    fn counts_accuracy_and_confusions() {
        let interp = interpretation();
        assert_eq!((interp.correct(), interp.total()), (3, 6));
        assert_eq!(interp.confusion, [[2, 0, 1], [0, 0, 2], [0, 0, 1]]);
        let per_class: Vec<_> = interp.per_class().iter().map(|c| (c.images, c.correct)).collect();
        assert_eq!(per_class, [(3, 2), (2, 0), (1, 1)]);
        let confused = interp.most_confused(1);
        assert_eq!(confused.len(), 2);
        assert_eq!(
            (confused[0].actual.as_str(), confused[0].predicted.as_str(), confused[0].count),
            ("Rhodesian ridgeback", "Beagle", 2)
        );
        assert_eq!(interp.most_confused(2).len(), 1);
        // The photo of class 1 scored 9 for class 2 has the highest loss.
        assert_eq!(interp.top_losses(1)[0].path, Path::new("1-9.jpg"));
        assert_eq!(interp.top_losses(100).len(), 6);
    }
}
