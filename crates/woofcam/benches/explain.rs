//! Time of one explanation of a 224x224 photo on the CPU backend (Burn's flex):
//! prediction alone, Grad-CAM alone, Guided Backprop alone, and all three methods from
//! one pass (including the host-side maps a user sees). Prints one JSON line (ms, median),
//! with the CPU and the GEMM kernels it ran.
//! `tests/reference/bench_explain.py` runs this beside PyTorch and prints the ratios.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use woofcam::explain::{Request, Target, Upsampling, explain, guided_gradcam};
use woofcam::model::ResNetConfig;

fn median_ms(runs: usize, mut job: impl FnMut()) -> f64 {
    for _ in 0..2 {
        job(); // warm-up: allocator pools, lazy kernels
    }
    let times = (0..runs)
        .map(|_| {
            let start = Instant::now();
            job();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    woofcam_testkit::median(times)
}

fn main() {
    let runs = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let device = Device::flex();
    // torchvision's resnet34 (1000 classes), as in the PyTorch reference.
    let model = ResNetConfig::torchvision_resnet34(1000).init(&device).valid();
    let input = Tensor::<4>::random([1, 3, 224, 224], Distribution::Normal(0.0, 1.0), &device);
    let layer = model.default_layer().cut;
    let pass = |gradcam: bool, guided_backprop: bool| {
        let request = Request { layer, target: Target::Predicted, gradcam, guided_backprop };
        explain(&model, input.clone(), request).unwrap().read().unwrap()
    };

    let predict = median_ms(runs, || {
        pass(false, false);
    });
    let gradcam = median_ms(runs, || {
        let data = pass(true, false);
        std::hint::black_box(data.gradcam.unwrap().heatmap(224, 224, Upsampling::Bilinear));
    });
    let guided_backprop = median_ms(runs, || {
        std::hint::black_box(pass(false, true));
    });
    let all_three = median_ms(runs, || {
        let data = pass(true, true);
        let cam = data.gradcam.unwrap();
        let guided = data.guided_backprop.unwrap();
        std::hint::black_box((cam.heatmap(224, 224, Upsampling::Bilinear), guided_gradcam(&cam, &guided)));
    });
    println!(
        "{{\"predict_ms\": {predict:.1}, \"gradcam_ms\": {gradcam:.1}, \"guided_backprop_ms\": {guided_backprop:.1}, \"all_three_ms\": {all_three:.1}, \"runs\": {runs}, {}}}",
        woofcam_testkit::machine_json_fields()
    );
}
