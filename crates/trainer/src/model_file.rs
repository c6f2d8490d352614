//! Loading exported weights: `NAME.bpk` (burnpack) with `NAME.json` (metadata) beside it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::module::Module;
use burn::tensor::Device;
use woofcam::metadata::ModelMetadata;
use woofcam::model::ResNet;
use woofcam::weights::from_burnpack;

/// The metadata file that belongs to a weights file.
pub fn metadata_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// Loads a model in eval mode on `device`.
pub fn load(weights: &Path, device: &Device) -> Result<(ResNet, ModelMetadata)> {
    let meta_path = metadata_path(weights);
    let text = std::fs::read_to_string(&meta_path)
        .with_context(|| format!("cannot read the model metadata {} (it sits beside the weights file)", meta_path.display()))?;
    let meta = ModelMetadata::from_json(&text).with_context(|| format!("in {}", meta_path.display()))?;
    let bytes = std::fs::read(weights).with_context(|| format!("cannot read the weights {}", weights.display()))?;
    let model = from_burnpack(meta.config()?.init(device), bytes, meta.dtype).with_context(|| format!("in {}", weights.display()))?;
    Ok((model.valid(), meta))
}
