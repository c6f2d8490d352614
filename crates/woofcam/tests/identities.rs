//! Exact identities of Grad-CAM with torchvision's head (global average pool + fc):
//! the score is `y_c = sum_k W_kc mean_ij A_kij + b_c`, so at layer4
//! `w_k = W_kc / (h w)`, the map is the classic CAM (Zhou et al. 2016) divided by `h w`,
//! and the pre-ReLU map sums to `y_c - b_c`.

mod support;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use support::fixture::{Fixture, state_dict_keys};
use support::formula::state_dict_safetensors;
use woofcam::explain::{Request, Target, explain};
use woofcam::model::{ReluMode, ResNetConfig};
use woofcam::weights::{TorchLayout, load_torch_safetensors};
use woofcam_testkit::assert_close;

#[test]
fn gradcam_at_layer4_is_cam_over_hw_and_sums_to_logit_minus_bias() {
    let device = Device::flex();
    let weights = state_dict_safetensors(&state_dict_keys("torchvision_resnet34.keys.json"));
    let model = load_torch_safetensors(
        ResNetConfig::torchvision_resnet34(1000).init(&device),
        weights,
        TorchLayout::Torchvision,
    )
    .unwrap()
    .valid();
    let fixture = Fixture::open("torchvision_resnet34.safetensors");
    let input = Tensor::<4>::from_data(TensorData::new(fixture.values("input").to_vec(), [1, 3, 160, 128]), &device);
    let layer = model.default_layer();

    for class in [169, 0, 999, 500] {
        let request = Request { layer: layer.cut, target: Target::Class(class), gradcam: true, guided_backprop: false };
        let data = explain(&model, input.clone(), request).unwrap().read().unwrap();
        let cam = data.gradcam.unwrap();

        let activations = model.features(input.clone(), layer.cut, ReluMode::Standard); // [1, 512, h, w]
        let [_, channels, h, w] = activations.dims();
        let woofcam::model::Head::Torchvision(head) = &model.head else { unreachable!() };
        let fc_column = head.fc.weight.val().slice([0..channels, class..class + 1]).reshape([1, channels, 1, 1]);
        let classic_cam: Vec<f32> =
            (activations * fc_column).sum_dim(1).reshape([h * w]).into_data().try_to_vec().unwrap();
        let expected: Vec<f32> = classic_cam.iter().map(|v| v / (h * w) as f32).collect();
        assert_close(&format!("class {class}: map = CAM / hw"), &cam.raw.values, &expected, 1e-5);

        let bias: Vec<f32> = head.fc.bias.as_ref().unwrap().val().into_data().try_to_vec().unwrap();
        let sum: f32 = cam.raw.values.iter().sum();
        let expected_sum = data.logits[class] - bias[class];
        assert!(
            (sum - expected_sum).abs() <= 1e-5 * data.logits[class].abs().max(1.0),
            "class {class}: map sums to {sum}, logit - bias = {expected_sum}"
        );
    }
}
