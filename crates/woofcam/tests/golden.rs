//! Our network and explainers against PyTorch, torchvision, pytorch-grad-cam and captum on
//! the same weights (by formula) and the same input (a real photo, 160x128).
//! The fixtures come from `tests/reference/make_golden.py`.

mod support;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use support::fixture::{Fixture, state_dict_keys};
use support::formula::state_dict_safetensors;
use woofcam::explain::{ExplanationData, Request, Target, Upsampling, explain, guided_gradcam};
use woofcam::model::{ResNet, ResNetConfig};
use woofcam::weights::{TorchLayout, load_torch_safetensors};
use woofcam_testkit::assert_close;

/// Logits and maps must match within this fraction of the reference's largest value.
const TOLERANCE: f32 = 1e-4;

fn model(config: ResNetConfig, keys: &str, layout: TorchLayout, device: &Device) -> ResNet {
    let weights = state_dict_safetensors(&state_dict_keys(keys));
    let model = config.init(device);
    load_torch_safetensors(model, weights, layout).expect("formula weights load").valid()
}

fn input(fixture: &Fixture, device: &Device) -> Tensor<4> {
    let shape: [usize; 4] = fixture.shape("input").try_into().unwrap();
    Tensor::from_data(TensorData::new(fixture.values("input").to_vec(), shape), device)
}

fn run(model: &ResNet, input: Tensor<4>, layer: &str, target: Target) -> ExplanationData {
    let request = Request { layer: model.layer(layer).unwrap().cut, target, gradcam: true, guided_backprop: true };
    explain(model, input, request).unwrap().read().unwrap()
}

#[test]
fn fastai_resnet34_matches_pytorch() {
    fastai_resnet34_matches_pytorch_on(&Device::flex());
}

/// The same on Burn's GPU backend: the crate's `wgpu` feature, or `fusion` for Burn's fused
/// kernels, which the GPU trainer uses. Any Vulkan device does, a software one too
/// (`apt-get install mesa-vulkan-drivers`): `cargo test -p woofcam --features fusion --test golden`.
#[cfg(feature = "wgpu")]
#[test]
fn fastai_resnet34_matches_pytorch_on_wgpu() {
    fastai_resnet34_matches_pytorch_on(&Device::wgpu(burn::tensor::DeviceKind::default()));
}

fn fastai_resnet34_matches_pytorch_on(device: &Device) {
    let fixture = Fixture::open("fastai_resnet34.safetensors");
    let model = model(ResNetConfig::fastai_resnet34(10), "fastai_resnet34.keys.json", TorchLayout::Fastai, device);
    let target = fixture.values("target")[0] as usize;
    let [_, _, height, width] = fixture.shape("input").try_into().unwrap();

    for (layer, name) in [("layer2", "layer2"), ("layer3", "layer3"), ("layer4", "layer4"), ("[0,6,2]", "layer3.2")] {
        let data = run(&model, input(&fixture, device), layer, Target::Class(target));
        assert_close("logits", &data.logits, fixture.values("logits"), TOLERANCE);
        assert_eq!(data.class, target);
        let cam = data.gradcam.as_ref().unwrap();
        assert_close(
            &format!("{name} weights"),
            &cam.weights,
            fixture.values(&format!("gradcam/{name}/weights")),
            TOLERANCE,
        );
        assert_close(
            &format!("{name} raw map"),
            &cam.raw.values,
            fixture.values(&format!("gradcam/{name}/raw")),
            TOLERANCE,
        );
        assert_close(
            &format!("{name} map"),
            &cam.map().values,
            fixture.values(&format!("gradcam/{name}/relu")),
            TOLERANCE,
        );
        let heatmap = cam.heatmap(height, width, Upsampling::Bilinear);
        assert_close(
            &format!("{name} pytorch-grad-cam heatmap"),
            &heatmap.values,
            fixture.values(&format!("gradcam/{name}/pgc")),
            TOLERANCE,
        );

        let gbp = data.guided_backprop.as_ref().unwrap();
        assert_close("guided backprop", &gbp.0.values, fixture.values("guided_backprop"), TOLERANCE);
        // captum's GuidedGradCam (bilinear) was run at these two layers.
        if matches!(name, "layer3" | "layer4") {
            let expected = fixture.values(&format!("guided_gradcam/{name}"));
            assert_close(&format!("{name} guided grad-cam"), &guided_gradcam(cam, gbp).values, expected, TOLERANCE);
        }
    }
}

#[test]
fn default_target_is_the_top_class() {
    let fixture = Fixture::open("fastai_resnet34.safetensors");
    let device = Device::flex();
    let model = model(ResNetConfig::fastai_resnet34(10), "fastai_resnet34.keys.json", TorchLayout::Fastai, &device);
    let data = run(&model, input(&fixture, &device), "layer4", Target::Predicted);
    assert_eq!(data.class, fixture.values("top1")[0] as usize);
    let map = data.gradcam.unwrap().map();
    assert_close("top-1 map", &map.values, fixture.values("gradcam/layer4/relu_top1"), TOLERANCE);
}

#[test]
fn torchvision_resnet34_matches_pytorch() {
    let fixture = Fixture::open("torchvision_resnet34.safetensors");
    let device = Device::flex();
    let model = model(
        ResNetConfig::torchvision_resnet34(1000),
        "torchvision_resnet34.keys.json",
        TorchLayout::Torchvision,
        &device,
    );
    let data = run(&model, input(&fixture, &device), "layer4", Target::Predicted);
    assert_close("logits", &data.logits, fixture.values("logits"), TOLERANCE);
    assert_eq!(data.class, fixture.values("target")[0] as usize);
    let cam = data.gradcam.as_ref().unwrap();
    assert_close("raw map", &cam.raw.values, fixture.values("gradcam/layer4/raw"), TOLERANCE);
    assert_close("map", &cam.map().values, fixture.values("gradcam/layer4/relu"), TOLERANCE);
    assert_close(
        "guided backprop",
        &data.guided_backprop.unwrap().0.values,
        fixture.values("guided_backprop"),
        TOLERANCE,
    );
}

#[test]
fn explanation_leaves_batchnorm_statistics_alone() {
    let fixture = Fixture::open("fastai_resnet34.safetensors");
    let device = Device::flex();
    let model = model(ResNetConfig::fastai_resnet34(10), "fastai_resnet34.keys.json", TorchLayout::Fastai, &device);
    let before: Vec<f32> = model.body.bn1.running_mean.value().into_data().try_to_vec().unwrap();
    let first = run(&model, input(&fixture, &device), "layer3", Target::Predicted);
    let second = run(&model, input(&fixture, &device), "layer3", Target::Predicted);
    let after: Vec<f32> = model.body.bn1.running_mean.value().into_data().try_to_vec().unwrap();
    assert_eq!(before, after);
    assert_eq!(first.logits, second.logits);
}
