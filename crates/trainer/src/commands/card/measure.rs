//! What the card measures beyond `eval.json`: the model's answer for photos of none of its
//! breeds, the teacher's accuracy by where in ImageNet each photo comes from, and which of the
//! measured photos a run watched during training.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Tensor;
use woofcam::explain::{Request, Target, explain};
use woofcam::image::{DecodeLimits, Fit, decode};

use crate::data::{Dataset, FolderOptions, Item};
use crate::device::Backend;
use crate::interpret::EvalReport;
use crate::model_file::load;
use crate::teacher::{ByProvenance, Teacher, accuracy_by_provenance};
use crate::train::TrainConfig;

/// What the model answers for a photo of none of its breeds: its most probable classes.
pub(super) struct OutsideAnswer {
    pub(super) photo: PathBuf,
    pub(super) top: Vec<(String, f32)>,
}

/// The teacher in `dir` on the photos `eval` measured, by where in ImageNet they come from.
pub(super) fn score_teacher(dir: &Path, eval: &EvalReport) -> Result<ByProvenance> {
    let data = Dataset::from_folder(&eval.data, FolderOptions::at_most(eval.limit_per_class))
        .with_context(|| format!("listing the photos {} measured, for the teacher", eval.data.display()))?;
    let synsets: Vec<&str> = data.classes.iter().map(|c| c.folder.as_str()).collect();
    let teacher = Teacher::load(dir, &synsets, &Backend::Cpu.device()?)
        .with_context(|| format!("cannot load the teacher in {}", dir.display()))?;
    let items = if eval.split == "train" { &data.train } else { &data.valid };
    accuracy_by_provenance(&teacher, items, 32)
}

/// The model's three most probable classes for each photo, from the whole photo squished to
/// the input size, as the viewer feeds it.
pub(super) fn answer_outside(weights: &Path, photos: &[PathBuf]) -> Result<Vec<OutsideAnswer>> {
    if photos.is_empty() {
        return Ok(Vec::new());
    }
    let device = Backend::Cpu.device()?;
    let (model, meta) = load(weights, &device)?;
    let names = meta.class_names();
    photos
        .iter()
        .map(|photo| {
            let bytes = std::fs::read(photo).with_context(|| format!("cannot read {}", photo.display()))?;
            let decoded = decode(&bytes, DecodeLimits::default()).with_context(|| format!("{}", photo.display()))?;
            let input = Tensor::from_data(meta.input(&decoded.rgb, Fit::Squish), &device);
            let request = Request {
                layer: model.default_layer().cut,
                target: Target::Predicted,
                gradcam: false,
                guided_backprop: false,
            };
            let data = explain(&model, input, request)?.read()?;
            let top = data.top_k(3).into_iter().map(|(class, p)| (names[class].clone(), p)).collect();
            Ok(OutsideAnswer { photo: photo.clone(), top })
        })
        .collect()
}

fn photo_key(item: &Item) -> Option<PhotoKey> {
    let class = item.path.parent()?.file_name()?.to_string_lossy().into_owned();
    Some((class, item.path.file_name()?.to_string_lossy().into_owned()))
}

/// The photos `eval` measured, listed once for every run's comparison; `None` when their
/// folder cannot be listed here.
pub(super) fn measured_photos(eval: &EvalReport) -> Option<HashSet<PhotoKey>> {
    let data = Dataset::from_folder(&eval.data, FolderOptions::at_most(eval.limit_per_class)).ok()?;
    let items = if eval.split == "train" { data.train } else { data.valid };
    Some(items.iter().filter_map(photo_key).collect())
}

/// How many of a run's validation photos (which chose its best epoch) are among the
/// `measured` ones, and how many it had; `None` when its folder cannot be listed here.
pub(super) fn shared_photos(recipe: &TrainConfig, measured: &HashSet<PhotoKey>) -> Option<(usize, usize)> {
    let validation = Dataset::from_folder(&recipe.data, recipe.folder_options()).ok()?.valid;
    let shared = validation.iter().filter_map(photo_key).filter(|k| measured.contains(k)).count();
    Some((shared, validation.len()))
}

/// A photo by class folder and file name: how a run's validation folder and the folder
/// `eval` measured are compared (one may hold links to, or copies of, the other's photos).
pub(super) type PhotoKey = (String, String);
