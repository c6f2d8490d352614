//! Moving weights in and out of the network.
//!
//! - Woofcam's own format: a burnpack file (what the trainer exports and the viewer loads).
//! - PyTorch state dicts as safetensors, with torchvision's key names (`conv1.weight`,
//!   `layer1.0.downsample.0.weight`, `fc.weight`) or fastai's `cnn_learner` names
//!   (`0.4.0.conv1.weight` for the body, `1.2.weight`..`1.8.weight` for the head).
//!   [`to_torch_safetensors`] writes them back, for loading a Woofcam model in PyTorch;
//!   the trainer reads `.pth` checkpoints with [`apply_torch_tensors`] and [`check_torch_load`].

use burn::store::{
    ApplyResult, BurnpackStore, HalfPrecisionAdapter, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter,
    SafetensorsStore,
};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::model::ResNet;

use std::collections::BTreeMap;

use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{BurnToPyTorchAdapter, FloatCastAdapter, ModuleAdapter, PathFilter};
use burn::tensor::DType;

use crate::metadata::ModelMetadata;
use crate::model::HeadKind;

/// Key names of a PyTorch state dict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorchLayout {
    /// `torchvision.models.resnet34()`.
    Torchvision,
    /// fastai's `cnn_learner(dls, resnet34)`: `nn.Sequential(body, head)`.
    Fastai,
}

impl TorchLayout {
    /// Regex rewrites from the PyTorch key to this crate's parameter path.
    fn remapping(self) -> Vec<(&'static str, &'static str)> {
        let mut rules = match self {
            TorchLayout::Torchvision => vec![(r"^(conv1|bn1|layer[1-4])\.", "body.$1."), (r"^fc\.", "head.fc.")],
            TorchLayout::Fastai => vec![
                (r"^0\.0\.", "body.conv1."),
                (r"^0\.1\.", "body.bn1."),
                (r"^0\.4\.", "body.layer1."),
                (r"^0\.5\.", "body.layer2."),
                (r"^0\.6\.", "body.layer3."),
                (r"^0\.7\.", "body.layer4."),
                (r"^1\.2\.", "head.bn1."),
                (r"^1\.4\.", "head.linear1."),
                (r"^1\.6\.", "head.bn2."),
                (r"^1\.8\.", "head.linear2."),
            ],
        };
        rules.push((r"\.downsample\.0\.", ".downsample.conv."));
        rules.push((r"\.downsample\.1\.", ".downsample.bn."));
        rules
    }
}

/// Loads a PyTorch state dict saved as safetensors into `model`, which must have the
/// matching head and class count. Every parameter of the model must be present.
pub fn load_torch_safetensors(mut model: ResNet, bytes: Vec<u8>, layout: TorchLayout) -> Result<ResNet, Error> {
    let mut remapper = KeyRemapper::new();
    for (from, to) in layout.remapping() {
        remapper = remapper.add_pattern(from, to).map_err(|e| Error::Weights(e.to_string()))?;
    }
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .remap(remapper)
        .skip_enum_variants(true)
        .with_from_adapter(PyTorchToBurnAdapter);
    let result = model.load_from(&mut store).map_err(|e| Error::Weights(e.to_string()))?;
    check_complete(&result)?;
    Ok(model)
}

/// How exported weights are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    /// Half the size; BatchNorm statistics stay f32 (their variances underflow in f16).
    F16,
}

/// Serialises the model's weights as burnpack bytes.
pub fn to_burnpack(model: &ResNet, precision: Precision) -> Result<Vec<u8>, Error> {
    let mut store = BurnpackStore::from_bytes(None);
    if precision == Precision::F16 {
        store = store.with_to_adapter(HalfPrecisionAdapter::new());
    }
    model.save_into(&mut store).map_err(|e| Error::Weights(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| Error::Weights(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// Loads burnpack bytes written by [`to_burnpack`] with the same `precision` into `model`
/// (f16 weights are widened to f32).
pub fn from_burnpack(mut model: ResNet, bytes: Vec<u8>, precision: Precision) -> Result<ResNet, Error> {
    let mut store = BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(bytes)));
    // The adapter converts in whichever direction the stored dtype calls for, so it must
    // only see f16 files.
    if precision == Precision::F16 {
        store = store.with_from_adapter(HalfPrecisionAdapter::new());
    }
    let result = model.load_from(&mut store).map_err(|e| Error::Weights(e.to_string()))?;
    check_complete(&result)?;
    Ok(model)
}

/// Refuses a load that hit errors or left any of the model's parameters without a value.
fn check_complete(result: &ApplyResult) -> Result<(), Error> {
    let (errors, missing) = (&result.errors, &result.missing);
    if let Some(error) = errors.first() {
        return Err(Error::Weights(format!("{error} ({} errors in all)", errors.len())));
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(5).map(|(path, _)| path.as_str()).collect();
        return Err(Error::Weights(format!(
            "{} parameters are missing from the file, e.g. {}; is it a ResNet34 of the right head?",
            missing.len(),
            shown.join(", ")
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// PyTorch state dicts out: the inverse of `load_torch_safetensors`.

impl TorchLayout {
    /// The layout whose names cover a model's head: fastai's for fastai's head, torchvision's
    /// for torchvision's (neither layout names the other's head).
    pub fn for_head(head: HeadKind) -> Self {
        match head {
            HeadKind::Torchvision => TorchLayout::Torchvision,
            HeadKind::Fastai => TorchLayout::Fastai,
        }
    }

    /// The head these key names belong to.
    pub fn head(self) -> HeadKind {
        match self {
            TorchLayout::Torchvision => HeadKind::Torchvision,
            TorchLayout::Fastai => HeadKind::Fastai,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TorchLayout::Torchvision => "torchvision",
            TorchLayout::Fastai => "fastai",
        }
    }

    /// The rewrites from PyTorch keys to this crate's parameter paths as a [`KeyRemapper`],
    /// for readers other than [`load_torch_safetensors`] (the trainer's `.pth` loader).
    pub fn key_remapper(self) -> Result<KeyRemapper, Error> {
        let mut remapper = KeyRemapper::new();
        for (from, to) in self.remapping() {
            remapper = remapper.add_pattern(from, to).map_err(|e| Error::Weights(e.to_string()))?;
        }
        Ok(remapper)
    }

    /// (this crate's path prefix, PyTorch key prefix) of every module with weights.
    fn prefixes(self) -> &'static [(&'static str, &'static str)] {
        match self {
            TorchLayout::Torchvision => &[
                ("body.conv1.", "conv1."),
                ("body.bn1.", "bn1."),
                ("body.layer1.", "layer1."),
                ("body.layer2.", "layer2."),
                ("body.layer3.", "layer3."),
                ("body.layer4.", "layer4."),
                ("head.fc.", "fc."),
            ],
            TorchLayout::Fastai => &[
                ("body.conv1.", "0.0."),
                ("body.bn1.", "0.1."),
                ("body.layer1.", "0.4."),
                ("body.layer2.", "0.5."),
                ("body.layer3.", "0.6."),
                ("body.layer4.", "0.7."),
                ("head.bn1.", "1.2."),
                ("head.linear1.", "1.4."),
                ("head.bn2.", "1.6."),
                ("head.linear2.", "1.8."),
            ],
        }
    }

    /// The PyTorch key of a parameter path of this crate, written with PyTorch's parameter
    /// names (`weight`/`bias` for BatchNorm, as [`BurnToPyTorchAdapter`] renames them);
    /// `None` where the layout has no name for it.
    pub fn torch_key(self, path: &str) -> Option<String> {
        let (ours, theirs) = self.prefixes().iter().find(|(ours, _)| path.starts_with(ours))?;
        let key = format!("{theirs}{}", &path[ours.len()..]);
        Some(key.replace(".downsample.conv.", ".downsample.0.").replace(".downsample.bn.", ".downsample.1."))
    }
}

/// Key of the Woofcam metadata (JSON) in a safetensors header's `__metadata__`.
pub const SAFETENSORS_METADATA_KEY: &str = "woofcam";

/// The model as a PyTorch state dict in safetensors, with `layout`'s key names, so that
/// `model.load_state_dict(safetensors.torch.load_file(..))` (strict) takes it: fastai's
/// `create_vision_model(resnet34, n)` for [`TorchLayout::Fastai`], torchvision's
/// `resnet34(num_classes=n)` for [`TorchLayout::Torchvision`]. Linear weights go back to
/// PyTorch's `[out, in]`, BatchNorm's `gamma`/`beta` to `weight`/`bias`, and every BatchNorm
/// gets the `num_batches_tracked` counter PyTorch's state dicts carry (0: eval mode ignores
/// it). Everything is f32. `metadata`, when given, goes into the header as JSON under
/// [`SAFETENSORS_METADATA_KEY`], next to `"format": "pt"`.
pub fn to_torch_safetensors(
    model: &ResNet,
    layout: TorchLayout,
    metadata: Option<&ModelMetadata>,
) -> Result<Vec<u8>, Error> {
    let head = model.head_kind();
    if layout.head() != head {
        return Err(Error::Weights(format!(
            "the {} layout has no key names for {} head; use the {} layout",
            layout.name(),
            match head {
                HeadKind::Fastai => "fastai's",
                HeadKind::Torchvision => "torchvision's",
            },
            TorchLayout::for_head(head).name()
        )));
    }
    let mut entries = Vec::new();
    for tensor in model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true) {
        let key = layout
            .torch_key(&tensor.name)
            .ok_or_else(|| Error::Weights(format!("no {} key name for `{}`", layout.name(), tensor.name)))?;
        let (_, dtype, shape, _, bytes) = tensor.into_parts().map_err(|e| Error::Weights(e.to_string()))?;
        let dtype = match dtype {
            DType::F32 => "F32",
            DType::F16 => "F16",
            other => return Err(Error::Weights(format!("cannot write `{key}` of type {other:?} for PyTorch"))),
        };
        if let Some(module) = key.strip_suffix(".running_var") {
            let counter = format!("{module}.num_batches_tracked");
            entries.push(SafetensorsEntry {
                key: counter,
                dtype: "I64",
                shape: vec![],
                bytes: 0i64.to_le_bytes().to_vec(),
            });
        }
        entries.push(SafetensorsEntry { key, dtype, shape: shape.to_vec(), bytes: bytes.to_vec() });
    }
    let mut header_metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    if let Some(meta) = metadata {
        header_metadata.insert(SAFETENSORS_METADATA_KEY.to_string(), meta.to_json());
    }
    Ok(write_safetensors(entries, &header_metadata))
}

/// The Woofcam metadata a [`to_torch_safetensors`] file carries, if any.
pub fn safetensors_metadata(bytes: &[u8]) -> Result<Option<ModelMetadata>, Error> {
    let bad = |why: &str| Error::Weights(format!("not a safetensors file: {why}"));
    let length = bytes.get(..8).ok_or_else(|| bad("shorter than its header length"))?;
    let length = u64::from_le_bytes(length.try_into().expect("8 bytes")) as usize;
    let header = bytes.get(8..8usize.saturating_add(length)).ok_or_else(|| bad("cut short in its header"))?;
    let header: serde_json::Value = serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
    match header.pointer(&format!("/__metadata__/{SAFETENSORS_METADATA_KEY}")).and_then(|v| v.as_str()) {
        Some(text) => ModelMetadata::from_json(text).map(Some),
        None => Ok(None),
    }
}

/// One tensor of a safetensors file: its key, dtype name, shape and little-endian bytes.
struct SafetensorsEntry {
    key: String,
    dtype: &'static str,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// The safetensors format: an 8-byte little-endian header length, the JSON header (padded
/// with spaces to a multiple of 8 bytes) and the tensors' bytes. The widest dtypes come
/// first, so every tensor starts at a multiple of its element size, as the official
/// writer arranges it.
fn write_safetensors(mut entries: Vec<SafetensorsEntry>, metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let width = |dtype: &str| {
        if dtype == "I64" {
            8
        } else if dtype == "F32" {
            4
        } else {
            2
        }
    };
    entries.sort_by(|a, b| width(b.dtype).cmp(&width(a.dtype)).then_with(|| a.key.cmp(&b.key)));
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!(metadata));
    let mut offset = 0;
    for entry in &entries {
        let end = offset + entry.bytes.len();
        let info = serde_json::json!({"dtype": entry.dtype, "shape": entry.shape, "data_offsets": [offset, end]});
        header.insert(entry.key.clone(), info);
        offset = end;
    }
    let mut text = serde_json::Value::Object(header).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + offset);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    for entry in entries {
        out.extend_from_slice(&entry.bytes);
    }
    out
}

/// Loads tensors read from any PyTorch source (already renamed to this crate's paths) into
/// `model` with PyTorch's conventions ([`load_torch_safetensors`]' adapter), widened to f32.
/// Returns the load's result for the caller to judge; see [`check_torch_load`].
pub fn apply_torch_tensors(model: &mut ResNet, tensors: Vec<PackTensor>, filter: Option<PathFilter>) -> ApplyResult {
    let adapter = PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32));
    model.apply(tensors, filter, Some(Box::new(adapter)), true)
}

/// Refuses a PyTorch load that hit errors, left parameters without a value (among those
/// starting with `prefix`, e.g. `body.` for a body-only load), or, when `strict`, found
/// tensors the model has no place for (other than BatchNorm's `num_batches_tracked`).
pub fn check_torch_load(result: &ApplyResult, prefix: &str, strict: bool) -> Result<(), Error> {
    if let Some(error) = result.errors.first() {
        return Err(Error::Weights(format!("{error} ({} errors in all)", result.errors.len())));
    }
    let missing: Vec<&str> =
        result.missing.iter().map(|(path, _)| path.as_str()).filter(|p| p.starts_with(prefix)).collect();
    if !missing.is_empty() {
        return Err(Error::Weights(format!(
            "{} parameters are missing from the checkpoint, e.g. {}; is it a ResNet of this architecture and layout?",
            missing.len(),
            missing.iter().take(5).copied().collect::<Vec<_>>().join(", ")
        )));
    }
    let unused: Vec<&str> =
        result.unused.iter().map(String::as_str).filter(|k| !k.ends_with(".num_batches_tracked")).collect();
    if strict && !unused.is_empty() {
        return Err(Error::Weights(format!(
            "{} tensors of the checkpoint have no place in the model, e.g. {}; is it another architecture?",
            unused.len(),
            unused.iter().take(5).copied().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HeadKind, ResNetBodyConfig, ResNetConfig};
    use burn::module::Module;
    use burn::tensor::{Device, Distribution, Tensor};

    fn small() -> ResNetConfig {
        ResNetConfig::new(ResNetBodyConfig::resnet18(), HeadKind::Fastai, 10)
    }

    fn logits(model: &ResNet, input: &Tensor<4>) -> Vec<f32> {
        model.forward(input.clone()).into_data().try_to_vec().unwrap()
    }

    #[test]
    fn burnpack_round_trips_exactly_in_f32_and_closely_in_f16() {
        let device = Device::flex();
        let model = small().init(&device).valid();
        let input = Tensor::<4>::random([1, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
        let expected = logits(&model, &input);

        let bytes = to_burnpack(&model, Precision::F32).unwrap();
        let f32_size = bytes.len();
        let loaded = from_burnpack(small().init(&device), bytes, Precision::F32).unwrap().valid();
        assert_eq!(logits(&loaded, &input), expected);

        let bytes = to_burnpack(&model, Precision::F16).unwrap();
        assert!(bytes.len() < f32_size * 6 / 10, "f16 file is {} bytes, f32 {f32_size}", bytes.len());
        let loaded = from_burnpack(small().init(&device), bytes, Precision::F16).unwrap().valid();
        for (a, b) in logits(&loaded, &input).iter().zip(&expected) {
            assert!((a - b).abs() < 1e-2 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn wrong_files_are_errors_not_panics() {
        let device = Device::flex();
        let bytes = to_burnpack(&small().init(&device), Precision::F32).unwrap();
        let truncated = bytes[..bytes.len() / 2].to_vec();
        assert!(matches!(from_burnpack(small().init(&device), truncated, Precision::F32), Err(Error::Weights(_))));
        assert!(from_burnpack(small().init(&device), b"not a burnpack".to_vec(), Precision::F32).is_err());
        // A model of another shape (ResNet18 weights into a ResNet34) is refused.
        let resnet34 = ResNetConfig::fastai_resnet34(10).init(&device);
        assert!(from_burnpack(resnet34, bytes, Precision::F32).is_err());
    }

    /// `model` with BatchNorm statistics and affine parameters drawn away from their
    /// defaults (0 / 1), so that a load that dropped or swapped any of them shows in the logits.
    fn with_random_statistics(mut model: ResNet) -> ResNet {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let tensors = model
            .collect(None, None, false)
            .into_iter()
            .map(|tensor| {
                let (low, high) = match tensor.name.rsplit('.').next().unwrap_or_default() {
                    "running_mean" | "beta" => (-0.2, 0.2),
                    "running_var" | "gamma" => (0.5, 1.5),
                    _ => return tensor,
                };
                let values: Vec<f32> = (0..tensor.shape.num_elements()).map(|_| low + (high - low) * next()).collect();
                let bytes = burn::tensor::Bytes::from_elems(values);
                PackTensor::new(tensor.name.clone(), DType::F32, tensor.shape.clone(), tensor.param_id, bytes)
            })
            .collect();
        let result = model.apply(tensors, None, None, false);
        assert!(result.errors.is_empty() && result.missing.is_empty(), "{result}");
        model
    }

    #[test]
    fn torch_safetensors_round_trips_exactly_in_both_layouts() {
        let device = Device::flex();
        let input = Tensor::<4>::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
        let cases = [
            (HeadKind::Fastai, TorchLayout::Fastai, "1.8.weight", "0.5.0.downsample.1.num_batches_tracked"),
            (HeadKind::Torchvision, TorchLayout::Torchvision, "fc.weight", "layer2.0.downsample.1.num_batches_tracked"),
        ];
        for (head, layout, last_linear, counter) in cases {
            let config = ResNetConfig::new(ResNetBodyConfig::resnet18(), head, 7);
            let model = with_random_statistics(config.init(&device)).valid();
            let expected = logits(&model, &input);
            let bytes = to_torch_safetensors(&model, layout, None).unwrap();

            // What PyTorch sees: its key names, [out, in] linear weights, the counters.
            let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            let last = file.tensor(last_linear).unwrap();
            assert_eq!(last.shape(), [7, 512], "{layout:?}");
            let counter = file.tensor(counter).unwrap();
            assert_eq!((counter.dtype(), counter.shape()), (safetensors::Dtype::I64, &[][..]));
            let blocks = file.names().iter().filter(|k| k.ends_with(".conv2.weight")).count();
            assert_eq!(blocks, 8, "{layout:?}: every block of a ResNet18");
            assert!(file.names().iter().all(|k| !k.contains("gamma") && !k.contains("body")), "{layout:?}");

            let loaded = load_torch_safetensors(config.init(&device), bytes, layout).unwrap().valid();
            assert_eq!(logits(&loaded, &input), expected, "{layout:?}");
        }
    }

    #[test]
    fn torch_layout_must_name_the_models_head() {
        let model = small().init(&Device::flex());
        let error = to_torch_safetensors(&model, TorchLayout::Torchvision, None).unwrap_err();
        assert!(error.to_string().contains("use the fastai layout"), "{error}");
        assert_eq!(TorchLayout::for_head(HeadKind::Torchvision), TorchLayout::Torchvision);
        assert_eq!(
            TorchLayout::Fastai.torch_key("body.layer4.0.downsample.bn.running_var").unwrap(),
            "0.7.0.downsample.1.running_var"
        );
        assert_eq!(TorchLayout::Torchvision.torch_key("head.fc.bias").unwrap(), "fc.bias");
        assert_eq!(TorchLayout::Torchvision.torch_key("head.linear2.weight"), None);
    }

    #[test]
    fn safetensors_export_carries_the_metadata() {
        let model = small().init(&Device::flex());
        let mut meta = crate::metadata::ModelMetadata::imagewoof(96);
        meta.architecture = "resnet18".into();
        let bytes = to_torch_safetensors(&model, TorchLayout::Fastai, Some(&meta)).unwrap();
        assert_eq!(safetensors_metadata(&bytes).unwrap(), Some(meta));
        let plain = to_torch_safetensors(&model, TorchLayout::Fastai, None).unwrap();
        assert_eq!(safetensors_metadata(&plain).unwrap(), None);
        assert!(safetensors_metadata(b"short").is_err());
        assert!(safetensors_metadata(&[255; 16]).is_err());
    }
}
