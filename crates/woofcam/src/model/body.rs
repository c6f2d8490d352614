//! The convolutional body of a torchvision ResNet (BasicBlock variants: ResNet18/34).
//!
//! The body is a straight chain of *units* (stem conv, stem BatchNorm, stem ReLU, max pool,
//! then every residual block in order). A [`Cut`] is a position in that chain, so any
//! unit's output can be the layer an explainer looks at: [`ResNetBody::forward_until`]
//! runs the units before the cut and [`ResNetBody::forward_from`] the ones after it.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::batch_norm::batch_norm_forward;
use super::block::{BasicBlock, conv};
use super::conv::conv_forward;
use super::relu::{ReluMode, relu};

/// Block counts and widths of a BasicBlock ResNet.
#[derive(Config, Debug, PartialEq)]
pub struct ResNetBodyConfig {
    /// Residual blocks in `layer1`..`layer4`.
    pub blocks: [usize; 4],
}

impl ResNetBodyConfig {
    /// torchvision's `resnet34`: 3, 4, 6 and 3 blocks.
    pub fn resnet34() -> Self {
        Self::new([3, 4, 6, 3])
    }

    /// torchvision's `resnet18`: two blocks per stage (small and quick, for tests).
    pub fn resnet18() -> Self {
        Self::new([2, 2, 2, 2])
    }

    pub fn init(&self, device: &Device) -> ResNetBody {
        let mut in_channels = STEM_CHANNELS;
        let mut layer = |stage: usize| {
            let out_channels = STAGE_CHANNELS[stage];
            let stride = if stage == 0 { 1 } else { 2 };
            (0..self.blocks[stage])
                .map(|i| {
                    let block = BasicBlock::new(in_channels, out_channels, if i == 0 { stride } else { 1 }, device);
                    in_channels = out_channels;
                    block
                })
                .collect()
        };
        ResNetBody {
            conv1: conv(3, STEM_CHANNELS, 7, 2, 3, device),
            bn1: BatchNormConfig::new(STEM_CHANNELS).init(device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1: layer(0),
            layer2: layer(1),
            layer3: layer(2),
            layer4: layer(3),
        }
    }
}

pub(crate) const STEM_CHANNELS: usize = 64;
pub(crate) const STAGE_CHANNELS: [usize; 4] = [64, 128, 256, 512];
/// The stem's units before the first block: conv1, bn1, relu, maxpool.
pub(crate) const STEM_UNITS: usize = 4;

/// The body; field names follow torchvision so checkpoints map over by name.
#[derive(Module, Debug)]
pub struct ResNetBody {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub maxpool: MaxPool2d,
    pub layer1: Vec<BasicBlock>,
    pub layer2: Vec<BasicBlock>,
    pub layer3: Vec<BasicBlock>,
    pub layer4: Vec<BasicBlock>,
}

/// A position in the body's chain of units: the output of the first `n` units.
/// `Cut(0)` is the input image, [`ResNetBody::end`] the body's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cut(pub usize);

impl ResNetBody {
    pub fn layers(&self) -> [&[BasicBlock]; 4] {
        [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
    }

    /// Blocks per stage, as in the config the body was made from.
    pub fn blocks(&self) -> [usize; 4] {
        self.layers().map(<[BasicBlock]>::len)
    }

    /// The cut after the last unit: the whole body.
    pub fn end(&self) -> Cut {
        Cut(STEM_UNITS + self.blocks().iter().sum::<usize>())
    }

    /// The full body: `[N, 3, H, W]` to `[N, 512, H/32, W/32]`.
    pub fn forward(&self, x: Tensor<4>, mode: ReluMode) -> Tensor<4> {
        self.forward_until(x, self.end(), mode)
    }

    /// Runs the units before `cut`.
    pub fn forward_until(&self, x: Tensor<4>, cut: Cut, mode: ReluMode) -> Tensor<4> {
        self.run(x, 0..cut.0, mode)
    }

    /// Runs the units from `cut` to the end of the body.
    pub fn forward_from(&self, x: Tensor<4>, cut: Cut, mode: ReluMode) -> Tensor<4> {
        self.run(x, cut.0..self.end().0, mode)
    }

    fn run(&self, mut x: Tensor<4>, units: std::ops::Range<usize>, mode: ReluMode) -> Tensor<4> {
        for unit in units {
            x = match unit {
                0 => conv_forward(&self.conv1, x),
                1 => batch_norm_forward(&self.bn1, x),
                2 => relu(x, mode),
                3 => self.maxpool.forward(x),
                n => self.block(n - STEM_UNITS).forward(x, mode),
            };
        }
        x
    }

    /// The `index`-th residual block counted across all stages.
    fn block(&self, mut index: usize) -> &BasicBlock {
        for layer in self.layers() {
            if index < layer.len() {
                return &layer[index];
            }
            index -= layer.len();
        }
        panic!("block index out of range: cuts come from ResNetBody::end or layer lookup");
    }
}
