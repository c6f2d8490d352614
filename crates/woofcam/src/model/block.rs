//! torchvision's `BasicBlock`: two 3x3 convolutions and a residual connection.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::batch_norm::batch_norm_forward;
use super::conv::conv_forward;
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
            bn2: zero_gamma(BatchNormConfig::new(out_channels).init(device)),
            downsample,
        }
    }

    pub fn forward(&self, x: Tensor<4>, mode: ReluMode) -> Tensor<4> {
        let shortcut = match &self.downsample {
            Some(down) => batch_norm_forward(&down.bn, conv_forward(&down.conv, x.clone())),
            None => x.clone(),
        };
        let out = relu(batch_norm_forward(&self.bn1, conv_forward(&self.conv1, x)), mode);
        let out = batch_norm_forward(&self.bn2, conv_forward(&self.conv2, out));
        // The ReLU after the addition is guided too: Guided Backprop applies its rule at
        // every ReLU of the network.
        relu(out + shortcut, mode)
    }
}

/// torchvision's `zero_init_residual=True` (Goyal et al. 2017, fastai's xresnet): the last
/// BatchNorm of each block starts at 0, so a fresh block is the identity. We train from
/// scratch (no ImageNet ResNet34 exists here), where this trains better, and it keeps a
/// fresh network's eval-mode activations from doubling in variance at each of the 16 blocks
/// (an untrained model had logits in the hundreds, too ill-conditioned to compare backends).
fn zero_gamma(mut bn: BatchNorm) -> BatchNorm {
    // A new parameter, not `gamma.map(..)`: that would keep a tensor without gradients.
    bn.gamma = Param::from_tensor(bn.gamma.val().zeros_like());
    bn
}

/// A bias-free square convolution, as every convolution in a ResNet is (BatchNorm follows),
/// initialised as torchvision's `resnet34(weights=None)` does: `kaiming_normal_(mode="fan_out",
/// nonlinearity="relu")`. Burn's default (PyTorch's `Conv2d` default) draws weights about 2.4x
/// smaller, which only matters when training from scratch, and there it does: with an Adam-style
/// optimiser the step relative to the weights grows as the weights shrink.
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
        .with_initializer(Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: true })
        .init(device)
}
