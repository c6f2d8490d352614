//! The distillation teacher with its real weights: it loads the TensorFlow.js export,
//! refuses a damaged one clearly, matches an independent PyTorch implementation, and
//! classifies Imagewoof val photos as well as published, also from 128 and 160 px batches,
//! and better from the training loader's own 224 px views than from its 128 px batches.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use woofcam::image::{DecodeLimits, Fit, Normalization, decode, resize, to_chw};
use woofcam::labels::IMAGEWOOF;
use woofcam_testkit::{imagewoof, shared};
use woofcam_trainer::data::{Split, SplitMix64, Transform};
use woofcam_trainer::teacher::{MobileNetConfig, Teacher, TeacherError, TfjsWeights};

/// Photos per class in most tests here: 100 in all.
const PHOTOS_PER_CLASS: usize = 10;

fn model_dir() -> PathBuf {
    shared().join("models/mobilenet_v1_0.75_224")
}

/// The teacher in `dir`, answering for Imagewoof's classes in their folder order.
fn load(dir: &Path) -> Result<Teacher, TeacherError> {
    Teacher::load(dir, &IMAGEWOOF.map(|b| b.synset), &Device::flex())
}

/// The first `per_class` val photos of each class (sorted by file name) with their class
/// index: a fixed subset.
fn val_photos(per_class: usize) -> Vec<(image::RgbImage, usize)> {
    let mut photos = Vec::new();
    for (label, breed) in IMAGEWOOF.iter().enumerate() {
        let dir = imagewoof().join("val").join(breed.synset);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        for file in files.into_iter().take(per_class) {
            let photo = decode(&std::fs::read(&file).unwrap(), DecodeLimits::default()).unwrap();
            photos.push((photo.rgb, label));
        }
    }
    photos
}

/// The fraction of `photos` whose argmax over the teacher's ten logits is the label, each
/// photo brought to `size` x `size` (short side to `size`, centre crop) and normalised as
/// the training pipeline does.
fn accuracy(teacher: &Teacher, photos: &[(image::RgbImage, usize)], size: u32) -> f64 {
    accuracy_of(teacher, photos, size, |photo| resize(photo, size, size, Fit::CenterCrop))
}

/// The same with each photo brought to `size` x `size` by `view`.
fn accuracy_of(
    teacher: &Teacher,
    photos: &[(image::RgbImage, usize)],
    size: u32,
    view: impl Fn(&image::RgbImage) -> image::RgbImage,
) -> f64 {
    let device = Device::flex();
    let norm = Normalization::IMAGENET;
    let mut correct = 0;
    for chunk in photos.chunks(25) {
        let values: Vec<f32> = chunk.iter().flat_map(|(photo, _)| to_chw(&view(photo), &norm)).collect();
        let side = size as usize;
        let batch = Tensor::<4>::from_data(TensorData::new(values, [chunk.len(), 3, side, side]), &device);
        let logits = teacher.class_logits(batch, &norm);
        assert_eq!(logits.dims(), [chunk.len(), IMAGEWOOF.len()]);
        let predicted = logits.argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
        correct += chunk.iter().zip(predicted).filter(|((_, label), p)| *p == *label as i64).count();
    }
    correct as f64 / photos.len() as f64
}

#[test]
fn imagewoof_accuracy_at_224_matches_the_published_model() {
    let teacher = load(&model_dir()).unwrap();
    let photos = val_photos(PHOTOS_PER_CLASS);
    let start = Instant::now();
    let acc = accuracy(&teacher, &photos, 224);
    println!(
        "teacher at 224 (centre crop): {:.1}% of {} val photos in {:.1?}",
        100.0 * acc,
        photos.len(),
        start.elapsed()
    );
    // The models README measured 94.3% on 300 photos; this fixed subset of 100 gave 94%.
    assert!(acc >= 0.88, "accuracy {acc}");
}

#[test]
fn imagewoof_accuracy_from_training_sized_batches() {
    // The training loop hands over its 128 or 160 px batches; the teacher upsamples them.
    let teacher = load(&model_dir()).unwrap();
    let photos = val_photos(PHOTOS_PER_CLASS);
    for size in [128, 160] {
        let acc = accuracy(&teacher, &photos, size);
        println!("teacher from {size} px batches (upsampled to 224): {:.1}%", 100.0 * acc);
        assert!(acc >= 0.75, "accuracy at {size}: {acc}");
    }
}

#[test]
fn the_loaders_own_views_score_better_than_upsampled_training_batches() {
    // What the trainer does: the loader renders each sample's view twice, at the network's
    // 128 px and at the teacher's 224. Here the validation transform (no augmentation) of
    // `--resize 160 --size 128`.
    let teacher = load(&model_dir()).unwrap();
    // 400 photos: on the usual 100 the gap is one photo (91% and 90%).
    let photos = val_photos(40);
    let transform = Transform::new(160, 128);
    let side = Teacher::INPUT_SIZE as u32;
    let view =
        |photo: &image::RgbImage| transform.images(photo, Split::Valid, &mut SplitMix64::new(0), &[side]).remove(0);
    let own_view = accuracy_of(&teacher, &photos, side, view);
    let upsampled =
        accuracy_of(&teacher, &photos, 128, |photo| transform.image(photo, Split::Valid, &mut SplitMix64::new(0)));
    println!(
        "teacher on its own 224 px views: {:.1}%, on the 128 px batches: {:.1}%",
        100.0 * own_view,
        100.0 * upsampled
    );
    // Measured: 93.0% and 92.0% (a photo resized straight to 224 px: 94.0%).
    assert!(own_view >= 0.9 && own_view > upsampled, "own views {own_view}, upsampled {upsampled}");
}

#[test]
fn logits_match_the_pytorch_reference() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/teacher/mobilenet_logits.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run tests/reference/mobilenet_reference.py)", path.display()));
    let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected: Vec<f32> = fixture["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();

    let device = Device::flex();
    let network = MobileNetConfig::new().init(&device).load_tfjs(&TfjsWeights::read(&model_dir()).unwrap()).unwrap();
    // The input pattern both sides compute (see the script's docstring), already in [-1, 1].
    let size = 224;
    let mut values = Vec::with_capacity(3 * size * size);
    for c in 0..3 {
        for h in 0..size {
            for w in 0..size {
                let (c, h, w) = (c as f64, h as f64, w as f64);
                values.push((0.071 * h * (c + 1.0) + 0.037 * w * (3.0 - c) + 0.5 * c).sin() as f32);
            }
        }
    }
    let input = Tensor::<4>::from_data(TensorData::new(values, [1, 3, size, size]), &device);
    let logits = network.forward(input).into_data().try_to_vec::<f32>().unwrap();

    assert_eq!(logits.len(), expected.len());
    let scale = expected.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
    let worst = logits.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / scale;
    println!("worst logit difference to PyTorch: {worst:.2e} of max |logit| {scale}");
    assert!(worst < 1e-3, "worst relative difference {worst}");
    let top5: Vec<u64> = fixture["top5"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    assert_eq!(order[..5].iter().map(|&i| i as u64).collect::<Vec<_>>(), top5);
}

#[test]
fn autodiff_batches_give_the_same_constant_logits() {
    let teacher = load(&model_dir()).unwrap();
    let norm = Normalization::IMAGENET;
    let device = Device::flex();
    let batch = Tensor::<4>::random([2, 3, 128, 128], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
    let plain = teacher.class_logits(batch.clone(), &norm);
    let tracked = teacher.class_logits(batch.autodiff().require_grad(), &norm);
    assert!(!tracked.is_autodiff());
    plain.into_data().assert_approx_eq::<f32>(&tracked.into_data(), burn::tensor::Tolerance::default());
}

/// A writable copy of the model folder.
fn model_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(model_dir()).unwrap() {
        let path = entry.unwrap().path();
        let copy = dir.path().join(path.file_name().unwrap());
        // Written, not copied: the shared originals are read-only, and so would be the copies.
        std::fs::write(&copy, std::fs::read(&path).unwrap()).unwrap();
    }
    dir
}

#[test]
fn a_truncated_shard_is_refused_by_name() {
    // group29 holds conv_preds: kernel [1, 1, 768, 1000] and bias [1000].
    let dir = model_copy();
    let shard = dir.path().join("group29-shard1of1");
    std::fs::OpenOptions::new().write(true).open(&shard).unwrap().set_len(3_075_900).unwrap();
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, TeacherError::ShardSize { expected: 3_076_000, actual: 3_075_900, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("group29-shard1of1") && message.contains("truncated"), "{message}");
}

#[test]
fn a_missing_folder_or_manifest_is_named() {
    let missing = Path::new("/nonexistent/mobilenet");
    let err = load(missing).unwrap_err();
    assert!(matches!(&err, TeacherError::MissingDir(p) if p == missing), "{err:?}");

    let empty = tempfile::tempdir().unwrap();
    let err = load(empty.path()).unwrap_err();
    assert!(matches!(&err, TeacherError::Io { path, .. } if path.ends_with("model.json")), "{err:?}");
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = model_copy();
    let manifest = dir.path().join("model.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"conv_dw_7_bn/moving_variance\"", "\"conv_dw_7_bn/renamed\"")).unwrap();
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(&err, TeacherError::MissingTensor(name) if name == "conv_dw_7_bn/moving_variance"), "{err:?}");
}
