//! PyTorch state dicts: torchvision's and fastai's key names for this crate's parameters,
//! read from safetensors (and, by the trainer, `.pth` checkpoints) and written as safetensors,
//! for loading a Woofcam model in PyTorch.

use std::collections::BTreeMap;

use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{
    ApplyResult, BurnToPyTorchAdapter, FloatCastAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot, PathFilter,
    PyTorchToBurnAdapter, SafetensorsStore,
};
use burn::tensor::DType;

use super::safetensors::{SafetensorsEntry, write_safetensors};
use super::{Source, check_load};
use crate::Error;
use crate::metadata::ModelMetadata;
use crate::model::{HeadKind, ResNet};

/// Key names of a PyTorch state dict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorchLayout {
    /// `torchvision.models.resnet34()`.
    Torchvision,
    /// fastai's `cnn_learner(dls, resnet34)`: `nn.Sequential(body, head)`.
    Fastai,
}

/// How a downsampling shortcut's two modules are named: (this crate's, PyTorch's).
const DOWNSAMPLE: [(&str, &str); 2] = [(".downsample.conv.", ".downsample.0."), (".downsample.bn.", ".downsample.1.")];

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

    /// The rewrites from PyTorch keys to this crate's parameter paths as a [`KeyRemapper`]:
    /// the inverse of [`TorchLayout::torch_key`], from the same table.
    pub fn key_remapper(self) -> Result<KeyRemapper, Error> {
        let prefixes =
            self.prefixes().iter().map(|(ours, theirs)| (format!("^{}", escape(theirs)), (*ours).to_string()));
        let shortcuts = DOWNSAMPLE.iter().map(|(ours, theirs)| (escape(theirs), (*ours).to_string()));
        let mut remapper = KeyRemapper::new();
        for (from, to) in prefixes.chain(shortcuts) {
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
        Some(DOWNSAMPLE.iter().fold(key, |key, (ours, theirs)| key.replace(ours, theirs)))
    }
}

/// A key prefix as a regex that matches it literally (keys hold digits, letters and dots).
fn escape(prefix: &str) -> String {
    prefix.replace('.', r"\.")
}

/// Loads a PyTorch state dict saved as safetensors into `model`, which must have the
/// matching head and class count. Every parameter of the model must be present.
pub fn load_torch_safetensors(mut model: ResNet, bytes: Vec<u8>, layout: TorchLayout) -> Result<ResNet, Error> {
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .remap(layout.key_remapper()?)
        .skip_enum_variants(true)
        .with_from_adapter(PyTorchToBurnAdapter);
    let result = model.load_from(&mut store).map_err(|e| Error::Weights(e.to_string()))?;
    check_load(&result, Source::Checkpoint, "", false)?;
    Ok(model)
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
    check_load(result, Source::Checkpoint, prefix, strict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ResNetBodyConfig, ResNetConfig};
    use crate::weights::tests::{logits, small};
    use burn::module::Module;
    use burn::tensor::{Device, Distribution, Tensor};

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
