//! Training throughput of ResNet34 (fastai head, 10 classes) on the CPU backend (Burn's
//! flex): images/s of whole training steps (forward in train mode, backward, Ranger step)
//! at batch 32, where a step's time goes, and what the distillation teacher (MobileNet v1
//! on the same batch, upsampled to 224) adds. Prints one JSON line per input size, with the
//! CPU and the GEMM kernels it ran.
//! `tests/reference/bench_train.py` runs this beside PyTorch and prints the ratios.
//!
//!     cargo bench -p woofcam-trainer --bench train_step -- [SIZE...]   (default 128 224)

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use woofcam::image::Normalization;
use woofcam::labels::IMAGEWOOF;
use woofcam::model::ResNetConfig;
use woofcam_trainer::device::Backend;
use woofcam_trainer::ranger::RangerConfig;
use woofcam_trainer::teacher::Teacher;
use woofcam_trainer::train::loss::cross_entropy;

const BATCH: usize = 32;

fn teacher_dir() -> std::path::PathBuf {
    woofcam_testkit::shared().join("models/mobilenet_v1_0.75_224")
}

fn seconds(job: impl FnOnce()) -> f64 {
    let start = Instant::now();
    job();
    start.elapsed().as_secs_f64()
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![128, 224] } else { sizes };
    let steps: usize = std::env::var("BENCH_STEPS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let device = Backend::Cpu.device().expect("the CPU backend").autodiff();
    for size in sizes {
        let mut model = ResNetConfig::fastai_resnet34(10).init(&device);
        let mut optimizer = RangerConfig::new().init();
        let images = Tensor::<4>::random([BATCH, 3, size, size], Distribution::Normal(0.0, 1.0), &device);
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new((0..BATCH as i64).map(|i| i % 10).collect(), [BATCH]), &device);
        let (mut forward, mut backward, mut step) = (0.0, 0.0, 0.0);
        // One warm-up step (allocator pools, optimiser state), then the timed ones.
        for i in 0..=steps {
            let mut loss = None;
            let f = seconds(|| {
                let l = cross_entropy(model.forward(images.clone()), labels.clone());
                let _: f32 = l.clone().into_scalar();
                loss = Some(l);
            });
            let mut grads = None;
            let b = seconds(|| grads = Some(GradientsParams::from_grads(loss.take().unwrap().backward(), &model)));
            let s = seconds(|| {
                model = optimizer.step(1e-3, model.clone(), grads.take().unwrap());
                // Burn is lazy on some backends; reading one weight makes the step happen here.
                let _ = model.head.num_classes();
            });
            if i > 0 {
                (forward, backward, step) = (forward + f, backward + b, step + s);
            }
        }
        let total = forward + backward + step;
        let teacher = Teacher::load(&teacher_dir(), &IMAGEWOOF.map(|b| b.synset), &device)
            .expect("the MobileNet teacher in ../shared/models");
        let plain = images.clone().without_autodiff();
        let soft_targets = || teacher.class_logits(plain.clone(), &Normalization::IMAGENET).into_data();
        soft_targets();
        let teacher_s = (0..steps).map(|_| seconds(|| drop(soft_targets()))).sum::<f64>();
        println!(
            "{{\"size\": {size}, \"batch\": {BATCH}, \"steps\": {steps}, \"images_per_s\": {:.2}, \"forward_ms\": {:.0}, \"backward_ms\": {:.0}, \"optimizer_ms\": {:.0}, \"teacher_ms\": {:.0}, {}}}",
            (steps * BATCH) as f64 / total,
            forward / steps as f64 * 1000.0,
            backward / steps as f64 * 1000.0,
            step / steps as f64 * 1000.0,
            teacher_s / steps as f64 * 1000.0,
            woofcam_testkit::machine_json_fields(),
        );
    }
}
