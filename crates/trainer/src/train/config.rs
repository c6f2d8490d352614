//! The recipe of a run: everything that decides its result, saved with the run so that
//! `--resume` continues the same run and the model card can quote it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use woofcam::image::Fit;

use crate::data::FolderOptions;
use crate::device::Backend;

/// One `fit_flat_cos` call: so many epochs at one peak learning rate, with the body frozen
/// or not (the notebook: 5 frozen epochs at 1e-3, then 5 unfrozen at 1e-4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub epochs: usize,
    pub lr: f64,
    pub frozen: bool,
}

impl Phase {
    pub fn name(&self) -> &'static str {
        if self.frozen { "frozen" } else { "unfrozen" }
    }
}

/// Which epoch's model a run keeps as `best.bpk`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The lowest valid error rate (fastai's `SaveModelCallback(monitor='error_rate')`): the
    /// validation photos choose the model, so they no longer measure it independently.
    #[default]
    Best,
    /// The last epoch, whatever the validation photos say: they only watch the run.
    Last,
}

impl Keep {
    /// As `--keep` and the recipe spell it.
    pub fn name(self) -> &'static str {
        match self {
            Keep::Best => "best",
            Keep::Last => "last",
        }
    }
}

/// Soft targets from a teacher network (see [`crate::teacher`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillConfig {
    /// The teacher's folder (TensorFlow.js MobileNet v1).
    pub teacher: PathBuf,
    pub alpha: f64,
    pub temperature: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The Imagewoof-style folder (`train/<class>/*`, `val/<class>/*`).
    pub data: PathBuf,
    /// At most this many images per class and split (quick runs and tests).
    pub max_per_class: Option<usize>,
    /// At most this many per class of the validation split that each epoch is scored on
    /// (the first ones in path order), or none: the whole split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_per_class: Option<usize>,
    /// Validate on this percentage of each class of the train split, held out from training,
    /// instead of the validation split (see [`FolderOptions::holdout_percent`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_percent: Option<f64>,
    /// fastai's item transform `Resize(resize)`.
    pub resize: u32,
    /// How `Resize` makes a photo square (fastai's `ResizeMethod`); a recipe without one
    /// cropped, fastai's default.
    #[serde(default = "fastai_crop")]
    pub fit: Fit,
    /// The network's input size after augmentation.
    pub size: u32,
    pub batch_size: usize,
    /// `resnet34` or `resnet18`.
    pub architecture: String,
    /// A torchvision ImageNet checkpoint for the body, if any.
    pub pretrained: Option<PathBuf>,
    /// A Woofcam model to start every weight from (see `woofcam train --init`), or none.
    #[serde(default)]
    pub init: Option<PathBuf>,
    pub phases: Vec<Phase>,
    pub distill: Option<DistillConfig>,
    /// Label smoothing of the cross-entropy term (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_smoothing: f64,
    /// Mixup's Beta(alpha, alpha) for every training batch (see [`super::mixup`]), or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixup: Option<f64>,
    /// Which epoch `best.bpk` holds; a recipe without it (format version 1) kept the best.
    #[serde(default)]
    pub keep: Keep,
    /// Decides the initial weights, the data order, every augmentation and dropout.
    pub seed: u64,
    pub backend: Backend,
}

/// fastai's default `ResizeMethod.Crop`.
pub(crate) fn fastai_crop() -> Fit {
    Fit::CenterCrop
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl TrainConfig {
    pub fn total_epochs(&self) -> usize {
        self.phases.iter().map(|p| p.epochs).sum()
    }

    /// Which photos of the data folder the run trains on and watches.
    pub fn folder_options(&self) -> FolderOptions {
        FolderOptions {
            max_per_class: self.max_per_class,
            valid_per_class: self.valid_per_class,
            holdout_percent: self.holdout_percent,
        }
    }

    /// The phase of the run's `epoch` (counted over all phases) and the epoch within it.
    pub fn locate(&self, epoch: usize) -> Option<(usize, usize)> {
        let mut start = 0;
        for (index, phase) in self.phases.iter().enumerate() {
            if epoch < start + phase.epochs {
                return Some((index, epoch - start));
            }
            start += phase.epochs;
        }
        None
    }

    /// The `woofcam train` command that starts this run (`--out RUN`: the folder is not part
    /// of the recipe), or `None` for phases no command line gives (the command makes an
    /// optional frozen phase, then an optional unfrozen one).
    pub fn command_line(&self) -> Option<String> {
        let (frozen, unfrozen) = match self.phases.as_slice() {
            [f, u] if f.frozen && !u.frozen => (Some(f), Some(u)),
            [p] if p.frozen => (Some(p), None),
            [p] => (None, Some(p)),
            _ => return None,
        };
        let mut args: Vec<String> = vec!["woofcam".into(), "train".into()];
        let mut arg = |name: &str, value: String| args.extend([format!("--{name}"), value]);
        arg("data", self.data.display().to_string());
        arg("out", "RUN".into());
        if let Some(n) = self.max_per_class {
            arg("max-per-class", n.to_string());
        }
        if let Some(n) = self.valid_per_class {
            arg("valid-per-class", n.to_string());
        }
        if let Some(percent) = self.holdout_percent {
            arg("holdout", percent.to_string());
        }
        arg("resize", self.resize.to_string());
        if self.fit != Fit::CenterCrop {
            arg("fit", self.fit.name().into());
        }
        arg("size", self.size.to_string());
        arg("batch-size", self.batch_size.to_string());
        arg("arch", self.architecture.clone());
        if let Some(path) = &self.pretrained {
            arg("pretrained", path.display().to_string());
        }
        if let Some(path) = &self.init {
            arg("init", path.display().to_string());
        }
        // Always explicit: its default depends on --pretrained.
        arg("frozen-epochs", frozen.map_or(0, |p| p.epochs).to_string());
        if let Some(phase) = frozen {
            arg("frozen-lr", format!("{:e}", phase.lr));
        }
        arg("epochs", unfrozen.map_or(0, |p| p.epochs).to_string());
        if let Some(phase) = unfrozen {
            arg("lr", format!("{:e}", phase.lr));
        }
        if let Some(distill) = &self.distill {
            arg("teacher", distill.teacher.display().to_string());
            arg("distill-alpha", distill.alpha.to_string());
            arg("distill-temperature", distill.temperature.to_string());
        }
        if self.label_smoothing > 0.0 {
            arg("label-smoothing", self.label_smoothing.to_string());
        }
        if let Some(alpha) = self.mixup {
            arg("mixup", alpha.to_string());
        }
        if self.keep == Keep::Last {
            arg("keep", self.keep.name().into());
        }
        arg("seed", self.seed.to_string());
        arg("device", self.backend.name().into());
        Some(shlex::try_join(args.iter().map(String::as_str)).expect("no argument holds a NUL byte"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small recipe: two frozen epochs, then three unfrozen.
    pub(crate) fn sample() -> TrainConfig {
        TrainConfig {
            data: "d".into(),
            max_per_class: None,
            valid_per_class: None,
            holdout_percent: None,
            resize: 160,
            fit: Fit::CenterCrop,
            size: 128,
            batch_size: 32,
            architecture: "resnet34".into(),
            pretrained: None,
            init: None,
            phases: vec![Phase { epochs: 2, lr: 1e-3, frozen: true }, Phase { epochs: 3, lr: 1e-4, frozen: false }],
            distill: None,
            label_smoothing: 0.0,
            mixup: None,
            keep: Keep::Best,
            seed: 1,
            backend: Backend::Cpu,
        }
    }

    #[test]
    fn locate_walks_the_phases() {
        let config = sample();
        assert_eq!(config.total_epochs(), 5);
        let located: Vec<_> = (0..6).map(|e| config.locate(e)).collect();
        assert_eq!(located, [Some((0, 0)), Some((0, 1)), Some((1, 0)), Some((1, 1)), Some((1, 2)), None]);
    }

    #[test]
    fn keep_names_are_the_flag_and_recipe_spellings() {
        use clap::ValueEnum;
        for keep in Keep::value_variants() {
            assert_eq!(keep.to_possible_value().unwrap().get_name(), keep.name());
            assert_eq!(serde_json::to_string(keep).unwrap(), format!("\"{}\"", keep.name()));
        }
    }
}
