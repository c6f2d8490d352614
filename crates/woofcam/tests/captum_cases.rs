//! captum's own hand-weighted unit tests for GuidedBackprop, LayerGradCam and
//! GuidedGradCam, ported: their expected numbers are exact, so these check the explainers'
//! definitions independently of ResNet. Model and cases: `tests/reference/captum_tiny_cases.md`.

mod support;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use woofcam::explain::{Explainable, ExplanationData, Request, Target, explain, guided_gradcam};
use woofcam::model::{ReluMode, relu};
use woofcam_testkit::assert_close;

/// captum's `BasicModel_ConvNet_One_Conv`: conv(1->2, 3x3, ones, bias [-50, -75]), ReLU,
/// flatten, fc(8->4, every row [1,1,1,1,1,-1,-1,-1], no bias), ReLU.
#[derive(Module, Debug)]
struct OneConv {
    conv1: Conv2d,
    fc1: Linear,
}

/// Where to read activations: the input, conv1's output, relu1's output.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum At {
    Input,
    Conv1,
    Relu1,
}

impl OneConv {
    fn new(device: &Device) -> Self {
        let mut conv1 = Conv2dConfig::new([1, 2], [3, 3]).init(device);
        conv1.weight = Param::from_tensor(Tensor::ones([2, 1, 3, 3], device));
        conv1.bias = Some(Param::from_tensor(Tensor::from_floats([-50.0, -75.0], device)));
        let mut fc1 = LinearConfig::new(8, 4).init(device);
        // Burn stores Linear weights as [in, out]: each output's row is a column here.
        let row = [1.0f32, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0];
        let weights: Vec<f32> = row.iter().flat_map(|&w| [w; 4]).collect();
        fc1.weight = Param::from_tensor(Tensor::from_data(TensorData::new(weights, [8, 4]), device));
        fc1.bias = Some(Param::from_tensor(Tensor::zeros([4], device)));
        Self { conv1, fc1 }
    }
}

impl Explainable for OneConv {
    type Cut = At;

    fn features(&self, x: Tensor<4>, cut: At, mode: ReluMode) -> Tensor<4> {
        let x = if cut >= At::Conv1 { self.conv1.forward(x) } else { x };
        if cut >= At::Relu1 { relu(x, mode) } else { x }
    }

    fn scores(&self, a: Tensor<4>, cut: At, mode: ReluMode) -> Tensor<2> {
        let a = if cut < At::Conv1 { self.conv1.forward(a) } else { a };
        let a = if cut < At::Relu1 { relu(a, mode) } else { a };
        relu(self.fc1.forward(a.flatten(1, 3)), mode)
    }

    fn num_classes(&self) -> usize {
        4
    }
}

/// captum's standard input: 0..16 as a 4x4 image, plus `offset`.
fn arange(offset: f32) -> Vec<f32> {
    (0..16).map(|v| v as f32 + offset).collect()
}

fn run(input: Vec<f32>, at: At) -> ExplanationData {
    let device = Device::flex();
    let model = OneConv::new(&device).valid();
    let input = Tensor::from_data(TensorData::new(input, [1, 1, 4, 4]), &device);
    let request = Request { layer: at, target: Target::Class(0), gradcam: true, guided_backprop: true };
    explain(&model, input, request).unwrap().read().unwrap()
}

const EXACT: f32 = 1e-6;

#[test]
fn gb1_simple_input_conv() {
    let data = run(arange(0.0), At::Conv1);
    let expected = [0., 1., 1., 1., 1., 3., 3., 2., 1., 3., 3., 2., 1., 2., 2., 1.];
    assert_close("GB-1", &data.guided_backprop.unwrap().0.values, &expected, EXACT);
}

#[test]
fn gb2_multi_input_conv_as_one_input() {
    let data = run(arange(1.0), At::Conv1);
    let expected = [1., 2., 2., 1., 2., 4., 4., 2., 2., 4., 4., 2., 1., 2., 2., 1.];
    assert_close("GB-2", &data.guided_backprop.unwrap().0.values, &expected, EXACT);
}

#[test]
fn gc2_gradcam_at_conv1_with_its_weights() {
    let cam = run(arange(0.0), At::Conv1).gradcam.unwrap();
    assert_close("GC-2/GC-3 channel weights", &cam.weights, &[0.75, -0.5], EXACT);
    assert_close("GC-2", &cam.raw.values, &[11.25, 13.5, 20.25, 22.5], EXACT);
}

#[test]
fn gc5_gradcam_at_relu1() {
    let cam = run(arange(0.0), At::Relu1).gradcam.unwrap();
    assert_close("GC-5", &cam.raw.values, &[0.0, 4.0, 28.0, 32.5], EXACT);
}

#[test]
fn gc6_gc7_gradcam_at_the_input_keeps_negatives_until_relu() {
    let mut input = arange(0.0);
    input[5] = -4.0;
    let cam = run(input.clone(), At::Input).gradcam.unwrap();
    let expected: Vec<f32> = input.iter().map(|x| 0.5625 * x).collect();
    assert_close("GC-6 (pre-ReLU)", &cam.raw.values, &expected, EXACT);
    let relu: Vec<f32> = expected.iter().map(|v| v.max(0.0)).collect();
    assert_close("GC-7 (ReLU)", &cam.map().values, &relu, EXACT);
    assert_eq!(cam.map().values[5], 0.0);
}

#[test]
fn gc8_gc9_multi_input_as_one_input() {
    let cam = run(arange(1.0), At::Conv1).gradcam.unwrap();
    assert_close("GC-8", &cam.raw.values, &[14.5, 19.0, 32.5, 37.0], EXACT);
    let cam = run(arange(1.0), At::Relu1).gradcam.unwrap();
    assert_close("GC-9", &cam.raw.values, &[4.0, 13.0, 32.5, 37.0], EXACT);
}

#[test]
fn ggc5_guided_gradcam_bilinear() {
    let data = run(arange(0.0), At::Relu1);
    let ggc = guided_gradcam(data.gradcam.as_ref().unwrap(), data.guided_backprop.as_ref().unwrap());
    let expected = [
        0.0, 1.0, 3.0, 4.0, //
        7.0, 24.09375, 30.28125, 22.25, //
        21.0, 66.28125, 72.84375, 50.75, //
        28.0, 58.25, 62.75, 32.5,
    ];
    assert_close("GGC-5", &ggc.values, &expected, EXACT);
}

#[test]
fn scores_match_captum_intermediates() {
    // fc1 gives 54 for every output on `arange`.
    let data = run(arange(0.0), At::Conv1);
    assert_close("logits", &data.logits, &[54.0; 4], EXACT);
}
