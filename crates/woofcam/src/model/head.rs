//! Classifier heads that turn the body's `[N, 512, h, w]` features into class scores.

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::relu::{ReluMode, relu};
use crate::model::body::STAGE_CHANNELS;

const FEATURES: usize = STAGE_CHANNELS[3];

/// Either head; the network's weights file says which one it has.
// A model holds one head for its lifetime, so the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Head {
    Torchvision(TorchvisionHead),
    Fastai(FastaiHead),
}

impl Head {
    pub fn forward(&self, features: Tensor<4>, mode: ReluMode) -> Tensor<2> {
        match self {
            Head::Torchvision(head) => head.forward(features),
            Head::Fastai(head) => head.forward(features, mode),
        }
    }

    pub fn num_classes(&self) -> usize {
        match self {
            Head::Torchvision(head) => head.fc.weight.dims()[1],
            Head::Fastai(head) => head.linear2.weight.dims()[1],
        }
    }
}

/// torchvision's head: global average pool, then `fc` (with bias).
#[derive(Module, Debug)]
pub struct TorchvisionHead {
    pub fc: Linear,
}

impl TorchvisionHead {
    pub fn new(num_classes: usize, device: &Device) -> Self {
        Self { fc: LinearConfig::new(FEATURES, num_classes).init(device) }
    }

    pub fn forward(&self, features: Tensor<4>) -> Tensor<2> {
        let pooled = features.mean_dim(3).mean_dim(2).flatten(1, 3);
        self.fc.forward(pooled)
    }
}

/// fastai's `create_head` for `cnn_learner`: AdaptiveConcatPool2d (max, then average),
/// Flatten, BatchNorm1d, Dropout(0.25), Linear(1024, 512, no bias), ReLU, BatchNorm1d,
/// Dropout(0.5), Linear(512, n, no bias). The Sequential's indices in a fastai checkpoint
/// are 2, 4, 6 and 8 for `bn1`, `linear1`, `bn2` and `linear2`.
#[derive(Module, Debug)]
pub struct FastaiHead {
    pub bn1: BatchNorm,
    pub dropout1: Dropout,
    pub linear1: Linear,
    pub bn2: BatchNorm,
    pub dropout2: Dropout,
    pub linear2: Linear,
}

/// Width of the hidden layer of fastai's head.
const HIDDEN: usize = 512;

impl FastaiHead {
    pub fn new(num_classes: usize, device: &Device) -> Self {
        let pooled = 2 * FEATURES;
        Self {
            bn1: BatchNormConfig::new(pooled).init(device),
            dropout1: DropoutConfig::new(0.25).init(),
            linear1: head_linear(pooled, HIDDEN, device),
            bn2: BatchNormConfig::new(HIDDEN).init(device),
            dropout2: DropoutConfig::new(0.5).init(),
            linear2: head_linear(HIDDEN, num_classes, device),
        }
    }

    pub fn forward(&self, features: Tensor<4>, mode: ReluMode) -> Tensor<2> {
        let [n, c, h, w] = features.dims();
        let flat = features.reshape([n, c, h * w]);
        // fastai concatenates max first, then average.
        let pooled = Tensor::cat(vec![flat.clone().max_dim(2), flat.mean_dim(2)], 1).reshape([n, 2 * c]);
        let x = self.linear1.forward(self.dropout1.forward(self.bn1.forward(pooled)));
        let x = relu(x, mode);
        self.linear2.forward(self.dropout2.forward(self.bn2.forward(x)))
    }
}

/// A bias-free linear layer of fastai's head, initialised as `cnn_learner` does
/// (`apply_init(head, nn.init.kaiming_normal_)`: fan-in, gain sqrt(2)).
fn head_linear(inputs: usize, outputs: usize, device: &Device) -> Linear {
    LinearConfig::new(inputs, outputs)
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: false })
        .init(device)
}
