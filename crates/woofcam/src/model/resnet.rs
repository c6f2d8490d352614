//! The whole classifier: a ResNet body and a head.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::body::{Cut, ResNetBody, ResNetBodyConfig};
use super::head::{FastaiHead, Head, TorchvisionHead};
use super::relu::ReluMode;

/// Which head sits on the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// Average pool and one linear layer, as in torchvision's ImageNet checkpoints.
    Torchvision,
    /// fastai's `cnn_learner` head (concat pooling, two BatchNorm/Dropout/Linear groups).
    Fastai,
}

#[derive(Config, Debug)]
pub struct ResNetConfig {
    pub body: ResNetBodyConfig,
    pub head: HeadKind,
    pub num_classes: usize,
}

impl ResNetConfig {
    /// ResNet34 with fastai's head: the network Woofcam trains and shows.
    pub fn fastai_resnet34(num_classes: usize) -> Self {
        Self::new(ResNetBodyConfig::resnet34(), HeadKind::Fastai, num_classes)
    }

    /// torchvision's `resnet34(num_classes)`.
    pub fn torchvision_resnet34(num_classes: usize) -> Self {
        Self::new(ResNetBodyConfig::resnet34(), HeadKind::Torchvision, num_classes)
    }

    pub fn init(&self, device: &Device) -> ResNet {
        let head = match self.head {
            HeadKind::Torchvision => Head::Torchvision(TorchvisionHead::new(self.num_classes, device)),
            HeadKind::Fastai => Head::Fastai(FastaiHead::new(self.num_classes, device)),
        };
        ResNet { body: self.body.init(device), head }
    }
}

#[derive(Module, Debug)]
pub struct ResNet {
    pub body: ResNetBody,
    pub head: Head,
}

impl ResNet {
    /// Class scores (pre-softmax) for a batch `[N, 3, H, W]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.body.forward(images, ReluMode::Standard), ReluMode::Standard)
    }

    pub fn num_classes(&self) -> usize {
        self.head.num_classes()
    }

    pub fn head_kind(&self) -> HeadKind {
        match self.head {
            Head::Torchvision(_) => HeadKind::Torchvision,
            Head::Fastai(_) => HeadKind::Fastai,
        }
    }

    /// The activations at `cut`.
    pub fn features(&self, images: Tensor<4>, cut: Cut, mode: ReluMode) -> Tensor<4> {
        self.body.forward_until(images, cut, mode)
    }

    /// Class scores computed from the activations at `cut`.
    pub fn scores(&self, features: Tensor<4>, cut: Cut, mode: ReluMode) -> Tensor<2> {
        self.head.forward(self.body.forward_from(features, cut, mode), mode)
    }
}
