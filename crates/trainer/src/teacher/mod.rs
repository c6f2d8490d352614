//! A knowledge-distillation teacher: Google's ImageNet MobileNet v1 (width 0.75, 224 px,
//! 2.6 M parameters), loaded from its TensorFlow.js export, giving the Imagewoof classes'
//! logits for the batches the training loop already has.
//!
//! Imagewoof's ten breeds are ImageNet classes, so an ImageNet classifier restricted to
//! those ten outputs is already a good Imagewoof classifier (94% on val at 224 px) whose
//! soft targets the student can learn from.
//!
//! - [`TfjsWeights`] reads `model.json`'s weights manifest and the float32 shards;
//! - [`MobileNet`] is the network, [`MobileNet::load_tfjs`] fills it;
//! - [`imagenet_indices`] maps the student's synsets to ImageNet outputs;
//! - [`Teacher`] ties them together and converts the student's input;
//! - [`accuracy_by_provenance`] measures it on photos it trained on and photos it did not.

mod classes;
mod error;
mod mobilenet;
mod provenance;
mod tfjs;

use std::path::Path;

use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Int, Tensor, TensorData};
use woofcam::image::Normalization;

pub use classes::imagenet_indices;
pub use error::TeacherError;
pub use mobilenet::{ConvBnRelu6, DepthwiseSeparable, MobileNet, MobileNetConfig};
pub use provenance::{ByProvenance, IMAGENET_VAL_PREFIX, Tally, accuracy_by_provenance, from_imagenet_val};
pub use tfjs::TfjsWeights;

/// The pretrained MobileNet, ready to score the student's batches.
#[derive(Debug)]
pub struct Teacher {
    network: MobileNet,
    /// ImageNet output index of each of the student's classes, in the student's order.
    classes: Tensor<1, Int>,
    device: Device,
}

impl Teacher {
    /// The input size the published weights were trained at: the size of the views the
    /// training loader renders for the teacher (on 400 val photos: 93.0% from those views,
    /// 92.0% from the network's 128 px views upsampled).
    pub const INPUT_SIZE: usize = 224;

    /// Loads the TensorFlow.js export in `dir` (`model.json` and its shards) onto `device`
    /// (always without autodiff: the teacher is never trained), to answer for the student's
    /// `classes`, given as ImageNet synsets in the student's order (its data folders).
    ///
    /// # Errors
    ///
    /// A missing folder or file, a damaged or truncated shard, a model whose tensors do
    /// not match MobileNet v1 0.75, or a class the teacher has no output for (see
    /// [`TeacherError`]).
    pub fn load<S: AsRef<str>>(dir: &Path, classes: &[S], device: &Device) -> Result<Self, TeacherError> {
        let device = device.clone().without_autodiff();
        let weights = TfjsWeights::read(dir)?;
        let network = MobileNetConfig::new().init(&device).load_tfjs(&weights)?;
        let indices: Vec<i64> = imagenet_indices(classes)?.into_iter().map(|i| i as i64).collect();
        let classes = Tensor::from_data(TensorData::new(indices, [classes.len()]), &device);
        Ok(Self { network, classes, device })
    }

    /// The teacher's logits `[N, classes]` for the student's classes, in the order given to
    /// [`Teacher::load`], for a batch `[N, 3, H, W]` normalised as the
    /// training pipeline does it (`(pixel / 255 - mean) / std`).
    ///
    /// The batch is brought back to MobileNet's `pixel / 127.5 - 1` (one multiply-add per
    /// channel) and, unless it already is 224x224, resized to it bilinearly (fewer pixels
    /// than the photo has cost the teacher accuracy: render it a view at
    /// [`Teacher::INPUT_SIZE`] instead). An autodiff
    /// batch is taken off the graph first: the teacher's forward records nothing, and its
    /// logits are a constant to the student's loss.
    ///
    /// # Panics
    ///
    /// If the batch does not have 3 channels.
    pub fn class_logits(&self, batch: Tensor<4>, normalization: &Normalization) -> Tensor<2> {
        let x = batch.without_autodiff().to_device(&self.device);
        // pixel / 255 = x * std + mean, so pixel / 127.5 - 1 = x * 2 std + (2 mean - 1).
        let scale = Tensor::<1>::from_floats(normalization.std.map(|s| 2.0 * s), &self.device);
        let shift = Tensor::<1>::from_floats(normalization.mean.map(|m| 2.0 * m - 1.0), &self.device);
        let x = x * scale.reshape([1, 3, 1, 1]) + shift.reshape([1, 3, 1, 1]);
        let [_, _, height, width] = x.dims();
        let x = if [height, width] == [Self::INPUT_SIZE, Self::INPUT_SIZE] {
            x
        } else {
            let options = InterpolateOptions::new(InterpolateMode::Bilinear)
                .with_align_corners(false)
                .with_output_size([Self::INPUT_SIZE, Self::INPUT_SIZE]);
            interpolate(x, options)
        };
        self.network.forward(x).select(1, self.classes.clone())
    }
}
