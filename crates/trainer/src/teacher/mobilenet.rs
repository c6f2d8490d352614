//! MobileNet v1 (Howard et al. 2017) with the layer layout of Keras' `MobileNet`, the model
//! Google published for TensorFlow.js: a strided 3x3 convolution, 13 depthwise-separable
//! blocks, global average pooling and a 1x1 convolution to the ImageNet classes.
//!
//! Two details decide whether the published weights give the published accuracy:
//!
//! - TensorFlow's `'same'` padding. For a stride-2 3x3 convolution on an even input it
//!   pads one row and column at the bottom/right only, where PyTorch-style symmetric
//!   padding would pad all four sides and shift every window by a pixel. Burn's
//!   [`PaddingConfig2d::Same`] computes TensorFlow's rule from the input size at every
//!   forward (`total = max((ceil(in / s) - 1) * s + k - in, 0)`, `before = total / 2`,
//!   the rest after), and `conv2d` pads an asymmetric case explicitly before a
//!   convolution with no padding; symmetric cases (every stride-1 layer) pad inside the
//!   kernel, with no copy of the activation.
//! - BatchNorm's epsilon is Keras' 1e-3, not Burn's (and PyTorch's) default 1e-5.
//!
//! The teacher is never trained, so each BatchNorm is the fixed per-channel affine map
//! `(y - mean) * gamma / sqrt(var + eps) + beta` and is folded into the convolution before
//! it at load time (scaled kernel, plus a bias). Burn's inference BatchNorm makes four
//! passes over an activation (subtract, divide, multiply, add); MobileNet has 27 of them
//! on large, cheap-to-convolve activations; folding them saved about 15% of the CPU time
//! of a batch (measured here: 2.2 s to 1.9 s on one core for 32 images at 224 px).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu6;
use burn::tensor::{Device, Tensor};

use super::TeacherError;
use super::tfjs::TfjsWeights;

/// Output channels of the first convolution at width 1.
const STEM_CHANNELS: usize = 32;

/// Each depthwise-separable block's pointwise output channels at width 1, and its
/// depthwise stride.
const BLOCKS: [(usize, usize); 13] = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
];

/// Keras' BatchNormalization default, which the published weights were trained with.
const BN_EPSILON: f64 = 1e-3;

#[derive(Config, Debug)]
pub struct MobileNetConfig {
    /// The width multiplier (Keras' `alpha`): every layer has `int(channels * width)` channels.
    #[config(default = 0.75)]
    pub width: f64,
    #[config(default = 1000)]
    pub num_classes: usize,
}

/// Keras' convolution + BatchNorm + ReLU6, with the BatchNorm folded into the
/// convolution's kernel and bias.
#[derive(Module, Debug)]
pub struct ConvBnRelu6 {
    pub conv: Conv2d,
}

/// A depthwise 3x3 convolution (one filter per channel) and a pointwise 1x1 convolution
/// that mixes the channels, each followed by BatchNorm and ReLU6.
#[derive(Module, Debug)]
pub struct DepthwiseSeparable {
    pub depthwise: ConvBnRelu6,
    pub pointwise: ConvBnRelu6,
}

#[derive(Module, Debug)]
pub struct MobileNet {
    /// Keras' `conv1` / `conv1_bn`.
    pub stem: ConvBnRelu6,
    /// Keras' `conv_dw_{i}` / `conv_pw_{i}` with their `_bn`, for i = 1..=13.
    pub blocks: Vec<DepthwiseSeparable>,
    /// Keras' `conv_preds`: a 1x1 convolution on the pooled 1x1 map, i.e. a dense layer.
    pub classifier: Linear,
}

impl MobileNetConfig {
    /// A network with untrained weights; [`MobileNet::load_tfjs`] fills them.
    pub fn init(&self, device: &Device) -> MobileNet {
        let stem_channels = self.channels(STEM_CHANNELS);
        let stem = ConvBnRelu6 { conv: conv(3, stem_channels, 3, 2, 1, device) };
        let mut channels = stem_channels;
        let blocks = BLOCKS
            .iter()
            .map(|&(out, stride)| {
                let out = self.channels(out);
                let block = DepthwiseSeparable {
                    depthwise: ConvBnRelu6 { conv: conv(channels, channels, 3, stride, channels, device) },
                    pointwise: ConvBnRelu6 { conv: conv(channels, out, 1, 1, 1, device) },
                };
                channels = out;
                block
            })
            .collect();
        let classifier = LinearConfig::new(channels, self.num_classes).init(device);
        MobileNet { stem, blocks, classifier }
    }

    /// Keras' `int(channels * alpha)`.
    fn channels(&self, at_width_one: usize) -> usize {
        (at_width_one as f64 * self.width) as usize
    }
}

/// A square convolution with TensorFlow's `'same'` padding; its bias holds the folded
/// BatchNorm's shift.
fn conv(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .init(device)
}

impl ConvBnRelu6 {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu6(self.conv.forward(x))
    }
}

impl DepthwiseSeparable {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pointwise.forward(self.depthwise.forward(x))
    }
}

impl MobileNet {
    /// Class scores (pre-softmax) for images `[N, 3, H, W]` scaled to [-1, 1]
    /// (`pixel / 127.5 - 1`); the published weights expect H = W = 224.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.blocks.iter().fold(self.stem.forward(images), |x, block| block.forward(x));
        let [n, c, h, w] = x.dims();
        let pooled = x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c]);
        self.classifier.forward(pooled)
    }

    /// Replaces every weight with the Keras model's of the same name, checking each
    /// tensor's shape against this network.
    ///
    /// # Errors
    ///
    /// [`TeacherError::MissingTensor`] or [`TeacherError::TensorShape`] for the first
    /// tensor that is absent or of another shape.
    pub fn load_tfjs(mut self, weights: &TfjsWeights) -> Result<Self, TeacherError> {
        self.stem = self.stem.load_tfjs(weights, "conv1", Kernel::Regular)?;
        for (i, block) in std::mem::take(&mut self.blocks).into_iter().enumerate() {
            let n = i + 1;
            self.blocks.push(DepthwiseSeparable {
                depthwise: block.depthwise.load_tfjs(weights, &format!("conv_dw_{n}"), Kernel::Depthwise)?,
                pointwise: block.pointwise.load_tfjs(weights, &format!("conv_pw_{n}"), Kernel::Regular)?,
            });
        }
        let [cin, cout] = self.classifier.weight.shape().dims();
        let device = self.classifier.weight.device();
        self.classifier.weight = Param::from_data(weights.dense_kernel("conv_preds/kernel", [cin, cout])?, &device);
        self.classifier.bias = Some(Param::from_data(weights.vector("conv_preds/bias", cout)?, &device));
        Ok(self)
    }
}

/// How a convolution's kernel is stored in TensorFlow.
#[derive(Clone, Copy)]
enum Kernel {
    /// HWIO.
    Regular,
    /// `[h, w, channels, 1]`.
    Depthwise,
}

impl ConvBnRelu6 {
    /// Loads Keras' `{name}/kernel` (or `{name}/depthwise_kernel`) and folds `{name}_bn/*`
    /// into it: `scale = gamma / sqrt(moving_variance + eps)` multiplies the kernel's output
    /// channel, and `beta - moving_mean * scale` becomes the bias.
    fn load_tfjs(mut self, weights: &TfjsWeights, name: &str, kernel: Kernel) -> Result<Self, TeacherError> {
        let [cout, cin_per_group, kh, kw] = self.conv.weight.shape().dims();
        let device = self.conv.weight.device();
        let data = match kernel {
            Kernel::Regular => weights.conv_kernel(&format!("{name}/kernel"), [kh, kw, cin_per_group, cout])?,
            Kernel::Depthwise => weights.depthwise_kernel(&format!("{name}/depthwise_kernel"), [kh, kw, cout])?,
        };
        let bn = |field: &str| -> Result<Tensor<1>, TeacherError> {
            Ok(Tensor::from_data(weights.vector(&format!("{name}_bn/{field}"), cout)?, &device))
        };
        let scale = bn("gamma")? / (bn("moving_variance")? + BN_EPSILON).sqrt();
        let shift = bn("beta")? - bn("moving_mean")? * scale.clone();
        let kernel = Tensor::<4>::from_data(data, &device) * scale.reshape([cout, 1, 1, 1]);
        self.conv.weight = Param::from_tensor(kernel);
        self.conv.bias = Some(Param::from_tensor(shift));
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;

    use super::*;

    /// A one-channel 3x3 all-ones stride-2 convolution built like the network's, applied
    /// to `x[r][c] = side * r + c + 1`.
    fn window_sums(side: usize) -> Vec<f32> {
        let device = Device::flex();
        let mut layer = conv(1, 1, 3, 2, 1, &device);
        layer.weight = Param::from_data(TensorData::new(vec![1.0_f32; 9], [1, 1, 3, 3]), &device);
        layer.bias = None;
        let values: Vec<f32> = (1..=side * side).map(|v| v as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 1, side, side]), &device);
        layer.forward(x).into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn stride_two_pads_bottom_right_on_even_inputs() {
        // 4x4: total padding (2 - 1) * 2 + 3 - 4 = 1 per axis, all of it after. The windows
        // are rows/columns {0,1,2} and {2,3,pad}:
        //   [0][0] = rows 0-2 x cols 0-2 = 54, [0][1] = rows 0-2 x cols 2-3 = 45,
        //   [1][0] = rows 2-3 x cols 0-2 = 72, [1][1] = rows 2-3 x cols 2-3 = 54.
        // Symmetric padding (PyTorch's padding=1) would give [0][0] = 1+2+5+6 = 14.
        assert_eq!(window_sums(4), [54.0, 45.0, 72.0, 54.0]);
    }

    #[test]
    fn stride_two_pads_both_sides_on_odd_inputs() {
        // 5x5: total (3 - 1) * 2 + 3 - 5 = 2, one before and one after; 3x3 output.
        // [0][0] = rows 0-1 x cols 0-1 = 1+2+6+7 = 16; [1][1] = rows 1-3 x cols 1-3 = 9 * 13;
        // [2][2] = rows 3-4 x cols 3-4 = 19+20+24+25 = 88.
        let sums = window_sums(5);
        assert_eq!(sums.len(), 9);
        assert_eq!([sums[0], sums[4], sums[8]], [16.0, 117.0, 88.0]);
    }

    #[test]
    fn layer_widths_follow_keras() {
        let net = MobileNetConfig::new().init(&Device::flex());
        assert_eq!(net.stem.conv.weight.shape().dims(), [24, 3, 3, 3]);
        assert_eq!(net.blocks[1].depthwise.conv.weight.shape().dims(), [48, 1, 3, 3]);
        assert_eq!(net.blocks[12].pointwise.conv.weight.shape().dims(), [768, 768, 1, 1]);
        assert_eq!(net.classifier.weight.shape().dims(), [768, 1000]);
        let strides: Vec<_> = net.blocks.iter().map(|b| b.depthwise.conv.stride[0]).collect();
        assert_eq!(strides, [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]);
    }
}
