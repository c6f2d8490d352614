//! Moving weights in and out of the network.
//!
//! - Woofcam's own format: a burnpack file (what the trainer exports and the viewer loads).
//! - PyTorch state dicts as safetensors, with torchvision's key names (`conv1.weight`,
//!   `layer1.0.downsample.0.weight`, `fc.weight`) or fastai's `cnn_learner` names
//!   (`0.4.0.conv1.weight` for the body, `1.2.weight`..`1.8.weight` for the head).

use burn::store::{
    ApplyResult, BurnpackStore, HalfPrecisionAdapter, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter,
    SafetensorsStore,
};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::model::ResNet;

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
}
