//! torchvision's `BasicBlock`: two 3x3 convolutions and a residual connection.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::relu::{ReluMode, relu};

/// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`, parameter names as in torchvision.
#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    /// A strided 1x1 projection where the block changes resolution or width.
    pub downsample: Option<Downsample>,
}

/// The projection shortcut (torchvision's `downsample`: `Sequential(conv1x1, bn)`).
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl BasicBlock {
    pub fn new(in_channels: usize, out_channels: usize, stride: usize, device: &Device) -> Self {
        let downsample = (stride != 1 || in_channels != out_channels).then(|| Downsample {
            conv: conv(in_channels, out_channels, 1, stride, 0, device),
            bn: BatchNormConfig::new(out_channels).init(device),
        });
        Self {
            conv1: conv(in_channels, out_channels, 3, stride, 1, device),
            bn1: BatchNormConfig::new(out_channels).init(device),
            conv2: conv(out_channels, out_channels, 3, 1, 1, device),
            bn2: BatchNormConfig::new(out_channels).init(device),
            downsample,
        }
    }

    pub fn forward(&self, x: Tensor<4>, mode: ReluMode) -> Tensor<4> {
        let shortcut = match &self.downsample {
            Some(down) => down.bn.forward(down.conv.forward(x.clone())),
            None => x.clone(),
        };
        let out = relu(self.bn1.forward(self.conv1.forward(x)), mode);
        let out = self.bn2.forward(self.conv2.forward(out));
        // The ReLU after the addition is guided too: Guided Backprop applies its rule at
        // every ReLU of the network.
        relu(out + shortcut, mode)
    }
}

/// A bias-free square convolution, as every convolution in a ResNet is (BatchNorm follows).
pub(crate) fn conv(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
        .with_bias(false)
        .init(device)
}
