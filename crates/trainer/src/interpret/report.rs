//! `eval.json`: what `woofcam eval` measured, in the form `woofcam card` reads back. One
//! type serves the writer and the reader, so the two cannot disagree.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use woofcam::image::Fit;
use woofcam::metadata::ClassInfo;

use super::{ClassScore, Confusion};
use crate::data::loader::Skipped;
use crate::format_version;

/// One evaluation of a model on a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    #[serde(default = "format_version::version_1")]
    pub format_version: u32,
    pub weights: PathBuf,
    pub data: PathBuf,
    /// `val` or `train`.
    pub split: String,
    /// The first this-many photos of each class, or all of them.
    pub limit_per_class: Option<usize>,
    /// The network's input, `[height, width]`.
    pub input_size: [usize; 2],
    /// The square each photo was brought to before resizing to the input.
    pub resize: u32,
    #[serde(default = "crate::train::config::fastai_crop")]
    pub fit: Fit,
    /// Photos measured (those that decoded).
    pub images: usize,
    pub skipped: Vec<Skipped>,
    pub correct: usize,
    pub accuracy: f64,
    pub error_rate: f64,
    /// Mean cross-entropy, the epoch table's `valid_loss`.
    pub loss: f64,
    /// The model's classes, in its output order.
    pub classes: Vec<ClassInfo>,
    pub per_class: Vec<ClassScore>,
    /// `confusion_matrix[actual][predicted]`: photo counts, in the model's class order.
    pub confusion_matrix: Vec<Vec<usize>>,
    /// Every pair of classes mixed up at least once, most often first.
    pub most_confused: Vec<Confusion>,
    pub top_losses: Vec<TopLoss>,
}

/// A photo the model got most wrong (fastai's `top_losses`), with class names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopLoss {
    pub path: PathBuf,
    pub actual: String,
    pub predicted: String,
    /// Cross-entropy of the actual class.
    pub loss: f32,
    /// Probability of the predicted class.
    pub probability: f32,
}

impl EvalReport {
    /// The layout written now. Version 1 (files without the field) may lack `fit`: its
    /// photos were cropped.
    pub const FORMAT_VERSION: u32 = 2;

    /// `eval.json` in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("eval.json")
    }

    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let path = Self::path(dir);
        let text = serde_json::to_string_pretty(self).context("serialising eval.json")?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// The report in `dir`, refusing one written by a newer Woofcam.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = Self::path(dir);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read {} (run `woofcam eval --out {}` first)", path.display(), dir.display())
        })?;
        let report: Self = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an eval.json that `woofcam eval` writes", path.display()))?;
        format_version::check(&path, report.format_version, Self::FORMAT_VERSION)?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> EvalReport {
        EvalReport {
            format_version: EvalReport::FORMAT_VERSION,
            weights: "m.bpk".into(),
            data: "data".into(),
            split: "val".into(),
            limit_per_class: Some(2),
            input_size: [160, 160],
            resize: 160,
            fit: Fit::Squish,
            images: 3,
            skipped: vec![Skipped { path: "bad.jpg".into(), reason: "not a photo".into() }],
            correct: 2,
            accuracy: 2.0 / 3.0,
            error_rate: 1.0 / 3.0,
            loss: 0.5,
            classes: vec![
                ClassInfo { id: "n1".into(), name: "A".into() },
                ClassInfo { id: "n2".into(), name: "B".into() },
            ],
            per_class: vec![
                ClassScore { id: "n1".into(), name: "A".into(), images: 3, correct: 2, accuracy: Some(2.0 / 3.0) },
                ClassScore { id: "n2".into(), name: "B".into(), images: 0, correct: 0, accuracy: None },
            ],
            confusion_matrix: vec![vec![2, 1], vec![0, 0]],
            most_confused: vec![Confusion { actual: "A".into(), predicted: "B".into(), count: 1 }],
            top_losses: vec![TopLoss {
                path: "a.jpg".into(),
                actual: "A".into(),
                predicted: "B".into(),
                loss: 1.5,
                probability: 0.7,
            }],
        }
    }

    #[test]
    fn a_report_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        report().write(dir.path()).unwrap();
        assert_eq!(EvalReport::read(dir.path()).unwrap(), report());
    }

    #[test]
    fn a_version_1_report_without_fit_was_cropped() {
        let mut value = serde_json::to_value(report()).unwrap();
        let object = value.as_object_mut().unwrap();
        object.remove("format_version");
        object.remove("fit");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(EvalReport::path(dir.path()), value.to_string()).unwrap();
        let read = EvalReport::read(dir.path()).unwrap();
        assert_eq!((read.format_version, read.fit), (1, Fit::CenterCrop));
    }

    #[test]
    fn a_newer_report_or_another_file_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let missing = EvalReport::read(dir.path()).unwrap_err();
        assert!(format!("{missing:#}").contains("run `woofcam eval"), "{missing:#}");
        std::fs::write(EvalReport::path(dir.path()), "{\"accuracy\": 1}").unwrap();
        let other = EvalReport::read(dir.path()).unwrap_err();
        assert!(format!("{other:#}").contains("is not an eval.json"), "{other:#}");
        let mut newer = report();
        newer.format_version = EvalReport::FORMAT_VERSION + 1;
        newer.write(dir.path()).unwrap();
        let err = EvalReport::read(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("update Woofcam"), "{err:#}");
    }
}
