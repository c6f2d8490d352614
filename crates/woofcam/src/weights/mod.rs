//! Moving weights in and out of the network, one file per format:
//!
//! - Woofcam's own format, here: a burnpack file (what the trainer exports and the viewer
//!   loads), in f32, f16 or [`int8`] (the download's size).
//! - [`torch`]: PyTorch state dicts, with torchvision's key names (`conv1.weight`,
//!   `layer1.0.downsample.0.weight`, `fc.weight`) or fastai's `cnn_learner` names
//!   (`0.4.0.conv1.weight` for the body, `1.2.weight`..`1.8.weight` for the head): read from
//!   safetensors here and from `.pth` checkpoints by the trainer, written as safetensors.
//! - [`safetensors`](mod@safetensors): the safetensors container those are written in.

mod int8;
mod safetensors;
mod torch;

use burn::store::burn_pack::{Reader, Writer};
use burn::store::{ApplyResult, BurnpackStore, FloatCastAdapter, HalfPrecisionAdapter, ModuleSnapshot};
use burn::tensor::DType;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::model::ResNet;
use crate::names::names;

pub use torch::{
    SAFETENSORS_METADATA_KEY, TorchLayout, apply_torch_tensors, check_torch_load, load_torch_safetensors,
    safetensors_metadata, to_torch_safetensors,
};

/// How exported weights are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    /// Half the size; BatchNorm statistics stay f32 (their variances underflow in f16).
    F16,
    /// A quarter of the size: convolution and linear weights as int8 with one scale per
    /// output channel, the rest as in f16 ([`int8`]). Widened to f32 when loaded.
    Int8,
}

names!(Precision { F32 => "f32", F16 => "f16", Int8 => "int8" });

/// Serialises the model's weights as burnpack bytes.
pub fn to_burnpack(model: &ResNet, precision: Precision) -> Result<Vec<u8>, Error> {
    let weights_error = |e: burn::store::burn_pack::Error| Error::Weights(e.to_string());
    if precision == Precision::Int8 {
        let full = model.collect(None, None, false);
        let half = model.collect(None, Some(Box::new(HalfPrecisionAdapter::new())), false);
        let bytes = Writer::new(int8::quantize(full, half)?).into_bytes().map_err(weights_error)?;
        return Ok(bytes.to_vec());
    }
    let mut store = BurnpackStore::from_bytes(None);
    if precision == Precision::F16 {
        store = store.with_to_adapter(HalfPrecisionAdapter::new());
    }
    model.save_into(&mut store).map_err(weights_error)?;
    let bytes = store.get_bytes().map_err(weights_error)?;
    Ok(bytes.to_vec())
}

/// Loads burnpack bytes written by [`to_burnpack`] with the same `precision` into `model`
/// (f16 and int8 weights are widened to f32).
pub fn from_burnpack(mut model: ResNet, bytes: Vec<u8>, precision: Precision) -> Result<ResNet, Error> {
    let bytes = burn::tensor::Bytes::from_bytes_vec(bytes);
    if precision == Precision::Int8 {
        let reader = Reader::from_bytes(bytes).map_err(|e| Error::Weights(e.to_string()))?;
        let tensors = int8::dequantize(reader.into_tensors().map_err(|e| Error::Weights(e.to_string()))?)?;
        let result = model.apply(tensors, None, Some(Box::new(FloatCastAdapter::to(DType::F32))), false);
        check_load(&result, Source::File, "", false)?;
        return Ok(model);
    }
    let mut store = BurnpackStore::from_bytes(Some(bytes));
    // The adapter converts in whichever direction the stored dtype calls for, so it must
    // only see f16 files.
    if precision == Precision::F16 {
        store = store.with_from_adapter(HalfPrecisionAdapter::new());
    }
    let result = model.load_from(&mut store).map_err(|e| Error::Weights(e.to_string()))?;
    check_load(&result, Source::File, "", false)?;
    Ok(model)
}

/// What a load read from, as its errors name it.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// Woofcam's own file, of one architecture and head.
    File,
    /// A PyTorch checkpoint, of some ResNet in some key layout.
    Checkpoint,
}

/// Refuses a load that hit errors, left parameters without a value (among those starting
/// with `prefix`, e.g. `body.` for a body-only load), or, when `strict`, found tensors the
/// model has no place for (other than BatchNorm's `num_batches_tracked`).
fn check_load(result: &ApplyResult, source: Source, prefix: &str, strict: bool) -> Result<(), Error> {
    let (name, question) = match source {
        Source::File => ("file", "is it a ResNet34 of the right head?"),
        Source::Checkpoint => ("checkpoint", "is it a ResNet of this architecture and layout?"),
    };
    if let Some(error) = result.errors.first() {
        return Err(Error::Weights(format!("{error} ({} errors in all)", result.errors.len())));
    }
    let missing: Vec<&str> =
        result.missing.iter().map(|(path, _)| path.as_str()).filter(|p| p.starts_with(prefix)).collect();
    if !missing.is_empty() {
        return Err(Error::Weights(format!(
            "{} parameters are missing from the {name}, e.g. {}; {question}",
            missing.len(),
            missing.iter().take(5).copied().collect::<Vec<_>>().join(", ")
        )));
    }
    let unused: Vec<&str> =
        result.unused.iter().map(String::as_str).filter(|k| !k.ends_with(".num_batches_tracked")).collect();
    if strict && !unused.is_empty() {
        return Err(Error::Weights(format!(
            "{} tensors of the {name} have no place in the model, e.g. {}; is it another architecture?",
            unused.len(),
            unused.iter().take(5).copied().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{HeadKind, ResNetBodyConfig, ResNetConfig};
    use burn::module::Module;
    use burn::tensor::{Device, Distribution, Tensor};

    pub(super) fn small() -> ResNetConfig {
        ResNetConfig::new(ResNetBodyConfig::resnet18(), HeadKind::Fastai, 10)
    }

    pub(super) fn logits(model: &ResNet, input: &Tensor<4>) -> Vec<f32> {
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
    fn int8_burnpack_is_a_quarter_of_f32_and_close_to_it() {
        let device = Device::flex();
        let model = small().init(&device).valid();
        let input = Tensor::<4>::random([4, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
        let expected = logits(&model, &input);
        let f32_size = to_burnpack(&model, Precision::F32).unwrap().len();

        let bytes = to_burnpack(&model, Precision::Int8).unwrap();
        assert!(bytes.len() < f32_size * 3 / 10, "int8 file is {} bytes, f32 {f32_size}", bytes.len());
        let loaded = from_burnpack(small().init(&device), bytes, Precision::Int8).unwrap().valid();
        let got = logits(&loaded, &input);
        let spread = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, b) in got.iter().zip(&expected) {
            assert!((a - b).abs() < 2e-2 * spread.max(1.0), "{a} vs {b} (largest logit {spread})");
        }
        // A large convolution's weights are within half their channel's step of the original;
        // the stem's (a small tensor) are f16's rounding of it.
        let original = model.collect(None, None, false);
        let widened = loaded.collect(None, None, false);
        let weights = |tensors: &[burn::store::burn_pack::Tensor], name: &str| {
            int8::floats(&tensors.iter().find(|t| t.name == name).unwrap().to_bytes().unwrap())
        };
        let name = "body.layer4.1.conv2.weight";
        let (a, b) = (weights(&original, name), weights(&widened, name));
        let per_channel = a.len() / 512;
        for (channel, (a, b)) in a.chunks(per_channel).zip(b.chunks(per_channel)).enumerate() {
            let step = a.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            let worst = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(worst <= step / 2.0 * 1.001, "channel {channel}: off by {worst}, step {step}");
            assert!(worst > 0.0, "channel {channel} was not quantised");
        }
        let (a, b) = (weights(&original, "body.conv1.weight"), weights(&widened, "body.conv1.weight"));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= x.abs() / 1024.0 + 1e-7, "the stem in f16: {x} -> {y}");
        }
    }

    #[test]
    fn wrong_files_are_errors_not_panics() {
        let device = Device::flex();
        // A cut file and a file of another kind are refused, whatever the precision.
        for precision in [Precision::Int8, Precision::F32] {
            let bytes = to_burnpack(&small().init(&device), precision).unwrap();
            for cut in [bytes.len() / 2, bytes.len() * 9 / 10] {
                let truncated = bytes[..cut].to_vec();
                let loaded = from_burnpack(small().init(&device), truncated, precision);
                assert!(matches!(loaded, Err(Error::Weights(_))), "{precision} cut at {cut}");
            }
            assert!(from_burnpack(small().init(&device), b"not a burnpack".to_vec(), precision).is_err());
        }
        let bytes = to_burnpack(&small().init(&device), Precision::F32).unwrap();
        // A model of another shape (ResNet18 weights into a ResNet34) is refused.
        let resnet34 = ResNetConfig::fastai_resnet34(10).init(&device);
        assert!(from_burnpack(resnet34, bytes, Precision::F32).is_err());
    }
}
