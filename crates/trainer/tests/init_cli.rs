//! `woofcam init`: the seed decides the weights, so an untrained model a test makes (and
//! every map the test looks at) is the same on every machine.

mod support;
use burn::tensor::{Device, Tensor};
use support::ok;
use woofcam_trainer::model_file;

#[test]
fn the_same_seed_writes_the_same_weights_and_another_seed_other_weights() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    // The files themselves differ (each parameter has a fresh id), so compare what the
    // weights compute: eval-mode logits for one fixed input.
    let logits = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        ok(&["init", "--out", out.to_str().unwrap(), "--size", "64", "--seed", seed]);
        let (model, _) = model_file::load(&out, &device).unwrap();
        let input = Tensor::<4>::ones([1, 3, 64, 64], &device);
        model.forward(input).into_data().try_to_vec::<f32>().unwrap()
    };
    let (first, again, other) = (logits("a.bpk", "7"), logits("b.bpk", "7"), logits("c.bpk", "8"));
    assert_eq!(first, again, "seed 7 wrote different weights twice");
    assert_ne!(first, other, "seeds 7 and 8 wrote the same weights");
}
