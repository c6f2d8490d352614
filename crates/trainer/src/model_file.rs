//! Loading exported weights: `NAME.bpk` (burnpack) with `NAME.json` (metadata) beside it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::module::Module;
use burn::tensor::Device;
use woofcam::metadata::ModelMetadata;
use woofcam::model::ResNet;
use woofcam::weights::{from_burnpack, to_burnpack};

/// The metadata file that belongs to a weights file.
pub fn metadata_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// Loads a model in eval mode on `device`.
pub fn load(weights: &Path, device: &Device) -> Result<(ResNet, ModelMetadata)> {
    let (model, meta) = read(weights, device)?;
    Ok((model.valid(), meta))
}

/// Loads a model as it was saved, in training mode on `device` (an autodiff device to go on
/// training it); its parameter ids are the saved ones, which the optimiser state refers to.
pub fn read(weights: &Path, device: &Device) -> Result<(ResNet, ModelMetadata)> {
    let meta = read_metadata(weights)?;
    let bytes = std::fs::read(weights).with_context(|| format!("cannot read the weights {}", weights.display()))?;
    let model = from_burnpack(meta.config()?.init(device), bytes, meta.dtype)
        .with_context(|| format!("in {}", weights.display()))?;
    Ok((model, meta))
}

/// The metadata of the weights file `weights` (`NAME.json` beside `NAME.bpk`), without the weights.
pub fn read_metadata(weights: &Path) -> Result<ModelMetadata> {
    let meta_path = metadata_path(weights);
    let text = std::fs::read_to_string(&meta_path).with_context(|| {
        format!("cannot read the model metadata {} (it sits beside the weights file)", meta_path.display())
    })?;
    ModelMetadata::from_json(&text).with_context(|| format!("in {}", meta_path.display()))
}

/// Writes weights and metadata, each atomically (write a temporary file, then rename), so
/// an interrupted write never leaves a half file under the real name.
pub fn save(model: &ResNet, meta: &ModelMetadata, weights: &Path) -> Result<()> {
    write_atomically(weights, &to_burnpack(model, meta.dtype)?)?;
    write_atomically(&metadata_path(weights), meta.to_json().as_bytes())
}

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes).with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot move {} into place", path.display()))
}
