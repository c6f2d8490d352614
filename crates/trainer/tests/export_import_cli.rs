//! `woofcam import` and `woofcam export` against PyTorch: checkpoints PyTorch and fastai
//! wrote (tests/fixtures/torch, made by tests/reference/torch_roundtrip.py) must import to
//! the logits PyTorch computed, and a safetensors export must be exactly the state dict a
//! strict `load_state_dict` of fastai's / torchvision's model takes. Also the burnpack
//! export's f16-or-f32 choice, its int8 encoding, and clear errors for bad input.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;
use woofcam::metadata::ModelMetadata;
use woofcam::model::HeadKind;
use woofcam::weights::Precision;

mod support;
use support::{fails, fixtures, imagewoof, metadata, ok};

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap()).unwrap()
}

/// The input both sides compute: element i is f32(((i * 7919 + 13) % 2000) / 1000 - 1).
fn formula_input(shape: [usize; 4]) -> TensorData {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n as u64).map(|i| (((i * 7919 + 13) % 2000) as f64 / 1000.0 - 1.0) as f32).collect();
    TensorData::new(values, shape)
}

/// The model's logits for the fixture input, flattened.
fn logits(weights: &Path) -> (Vec<f32>, ModelMetadata) {
    let device = Device::flex();
    let (model, meta) = woofcam_trainer::model_file::load(weights, &device).unwrap();
    let shape: Vec<usize> =
        expected()["input"]["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let input = Tensor::from_data(formula_input([shape[0], shape[1], shape[2], shape[3]]), &device);
    (model.forward(input).into_data().try_to_vec().unwrap(), meta)
}

/// `woofcam export` with `--precision auto` (the default) deciding on 10 val photos.
fn export_checked_on_10_photos(weights: &Path, out: &Path, extra: &[&str]) -> String {
    let data = imagewoof();
    let mut args = vec!["export", "--weights", weights.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend(["--data", data.to_str().unwrap(), "--check-images", "10"]);
    args.extend(extra);
    ok(&args)
}

fn floats(value: &Value) -> Vec<f32> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items.iter().rev()),
            other => out.push(other.as_f64().unwrap() as f32),
        }
    }
    out
}

/// Largest |a - b| relative to the largest |b|.
fn relative_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f32, |m, x| m.max(x.abs()));
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// (key, shape, dtype) of every tensor in a safetensors file, sorted by key.
fn safetensors_spec(path: &Path) -> Vec<(String, Vec<u64>, String)> {
    let bytes = std::fs::read(path).unwrap();
    let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, Value> = serde_json::from_slice(&bytes[8..8 + length]).unwrap();
    let mut spec: Vec<_> = header
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, v)| {
            let shape = v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect();
            (k.clone(), shape, v["dtype"].as_str().unwrap().to_string())
        })
        .collect();
    spec.sort();
    spec
}

fn expected_spec(case: &Value) -> Vec<(String, Vec<u64>, String)> {
    let mut spec: Vec<_> = case["state_dict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let shape = entry[1].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect();
            (entry[0].as_str().unwrap().to_string(), shape, entry[2].as_str().unwrap().to_string())
        })
        .collect();
    spec.sort();
    spec
}

/// Imports a fixture checkpoint at 64 px; returns the weights path.
fn import(dir: &Path, file: &str) -> (PathBuf, String) {
    let weights = dir.join(format!("{file}.bpk"));
    let stdout =
        ok(&["import", fixtures().join(file).to_str().unwrap(), "--out", weights.to_str().unwrap(), "--size", "64"]);
    (weights, stdout)
}

#[test]
fn import_of_fastai_learn_save_gives_pytorchs_logits() {
    let dir = tempfile::tempdir().unwrap();
    let (weights, stdout) = import(dir.path(), "fastai_resnet34.pth");
    assert!(stdout.contains("state dict under `model` (fastai's learn.save)"), "{stdout}");
    assert!(stdout.contains("fastai key names, resnet34 with fastai head, 10 classes"), "{stdout}");
    let (ours, meta) = logits(&weights);
    assert_eq!((meta.head, meta.input_size, meta.classes.len()), (HeadKind::Fastai, [64, 64], 10));
    assert_eq!(meta.classes[8].name, "Samoyed");
    let theirs = floats(&expected()["fastai"]["logits"]);
    let diff = relative_diff(&ours, &theirs);
    assert!(diff < 1e-4, "relative logit difference {diff}\nours {ours:?}\ntheirs {theirs:?}");
}

#[test]
fn import_of_a_float16_torchvision_state_dict_gives_pytorchs_logits() {
    let dir = tempfile::tempdir().unwrap();
    let (weights, stdout) = import(dir.path(), "torchvision_resnet34.pth");
    assert!(stdout.contains("torchvision key names, resnet34 with torchvision head, 10 classes, f16"), "{stdout}");
    let (ours, meta) = logits(&weights);
    assert_eq!(meta.head, HeadKind::Torchvision);
    let theirs = floats(&expected()["torchvision"]["logits"]);
    let diff = relative_diff(&ours, &theirs);
    assert!(diff < 1e-4, "relative logit difference {diff}\nours {ours:?}\ntheirs {theirs:?}");
}

#[test]
fn safetensors_export_is_the_state_dict_pytorch_loads_and_imports_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let expected = expected();
    for (file, case, layout) in
        [("fastai_resnet34.pth", "fastai", "fastai"), ("torchvision_resnet34.pth", "torchvision", "torchvision")]
    {
        let (weights, _) = import(dir.path(), file);
        let exported = dir.path().join(format!("{case}.safetensors"));
        let stdout = ok(&[
            "export",
            "--weights",
            weights.to_str().unwrap(),
            "--format",
            "safetensors",
            "--out",
            exported.to_str().unwrap(),
        ]);
        assert!(stdout.contains(&format!("{layout} key names")), "{stdout}");

        // Exactly the keys, shapes and dtypes of PyTorch's own state dict: a strict load
        // takes it. The fixture script loaded such an export in PyTorch and recorded this:
        assert_eq!(safetensors_spec(&exported), expected_spec(&expected[case]), "{case}");
        let check = &expected[case]["export_check"];
        assert_eq!(check["strict_load"], true, "{case}");
        let relative = check["max_abs_diff"].as_f64().unwrap() / check["max_abs_logit"].as_f64().unwrap();
        assert!(relative < 1e-4, "{case}: PyTorch's logits of the export moved by {relative}");

        // Importing the export gives the same model, metadata included.
        let back = dir.path().join(format!("{case}-back.bpk"));
        let stdout = ok(&["import", exported.to_str().unwrap(), "--out", back.to_str().unwrap()]);
        assert!(stdout.contains("safetensors state dict"), "{stdout}");
        let (first, first_meta) = logits(&weights);
        let (second, second_meta) = logits(&back);
        assert_eq!(first, second, "{case}");
        assert_eq!((first_meta.input_size, first_meta.classes), (second_meta.input_size, second_meta.classes));
    }
}

#[test]
fn export_auto_picks_f16_when_the_logits_allow_it() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("untrained.bpk");
    ok(&["init", "--out", checkpoint.to_str().unwrap(), "--size", "64"]);
    let out = dir.path().join("viewer/model.bpk");
    let stdout = export_checked_on_10_photos(&checkpoint, &out, &[]);
    assert!(stdout.contains("max |logit f16 - logit f32| = "), "{stdout}");
    assert!(stdout.contains("over 10 photos x 10 classes"), "{stdout}");
    assert!(stdout.contains("precision: f16 (within the tolerance)"), "{stdout}");
    let meta = metadata(&out);
    assert_eq!(meta.dtype, Precision::F16);
    let training = meta.training.unwrap();
    assert_eq!(training["val_images"], 10);
    assert!(training["val_accuracy"].as_f64().is_some(), "{training}");
    assert!(training["export"]["max_logit_diff_f16"].as_f64().unwrap() <= 1e-2, "{training}");
    let (full, half) = (std::fs::metadata(&checkpoint).unwrap().len(), std::fs::metadata(&out).unwrap().len());
    assert!(half < full * 6 / 10, "f16 {half} bytes, f32 {full}");
    // What the viewer will load still loads.
    woofcam_trainer::model_file::load(&out, &Device::flex()).unwrap();
}

#[test]
fn export_auto_keeps_f32_when_f16_moves_the_logits() {
    let dir = tempfile::tempdir().unwrap();
    let (weights, _) = import(dir.path(), "fastai_resnet34.pth");
    let out = dir.path().join("exported.bpk");
    let stdout = export_checked_on_10_photos(&weights, &out, &["--tolerance", "1e-6"]);
    assert!(stdout.contains("precision: f32 (f16 moves the logits more than the tolerance)"), "{stdout}");
    let meta = metadata(&out);
    assert_eq!(meta.dtype, Precision::F32);
    // The import's record travels on, with this export's measurements added.
    let training = meta.training.unwrap();
    assert!(training["imported_from"].as_str().unwrap().ends_with("fastai_resnet34.pth"), "{training}");
    assert!(training["export"]["max_logit_diff_f16"].as_f64().unwrap() > 1e-6, "{training}");
}

#[test]
fn export_int8_is_a_quarter_of_f32_and_measures_what_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (weights, _) = import(dir.path(), "fastai_resnet34.pth");
    let out = dir.path().join("int8.bpk");
    let stdout = export_checked_on_10_photos(&weights, &out, &["--precision", "int8", "--check-maps", "2"]);
    assert!(stdout.contains("max |logit int8 - logit f32| = "), "{stdout}");
    assert!(stdout.contains("same top class in int8 and f32: "), "{stdout}");
    assert!(stdout.contains("Grad-CAM at layer4, int8 vs f32: at most "), "{stdout}");
    assert!(stdout.contains("over 2 photos"), "{stdout}");
    assert!(stdout.contains("precision: int8 (as asked)"), "{stdout}");
    let meta = metadata(&out);
    assert_eq!(meta.dtype, Precision::Int8);
    let export = &meta.training.unwrap()["export"];
    assert_eq!((export["check_images"].clone(), export["check_maps"].clone()), (10.into(), 2.into()), "{export}");
    assert_eq!(export["check_fit"], "squish", "{export}");
    let same = export["same_top1_int8"].as_u64().unwrap();
    assert!(same <= 10, "{export}");
    let map_diff = export["max_gradcam_diff_int8"].as_f64().unwrap();
    assert!(map_diff.is_finite() && map_diff >= 0.0, "{export}");
    let (full, small) = (std::fs::metadata(&weights).unwrap().len(), std::fs::metadata(&out).unwrap().len());
    assert!(small < full * 3 / 10, "int8 {small} bytes, f32 {full}");

    // The int8 model computes what f32 does, within what its rounding allows.
    let (expected, _) = logits(&weights);
    let (got, _) = logits(&out);
    let spread = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = got.iter().zip(&expected).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 2e-2 * spread, "logits moved by {worst}, the largest is {spread}");
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("model.bpk");
    ok(&["init", "--out", checkpoint.to_str().unwrap(), "--size", "64"]);
    let out = dir.path().join("out.bpk");
    let (weights, out_s) = (checkpoint.to_str().unwrap(), out.to_str().unwrap());

    let stderr = fails(&["export", "--weights", weights, "--out", out_s]);
    assert!(
        stderr.contains("--precision auto compares f16 with f32 on validation photos: pass --data DIR"),
        "{stderr}"
    );
    let stderr =
        fails(&["export", "--weights", weights, "--out", out_s, "--format", "safetensors", "--layout", "torchvision"]);
    assert!(stderr.contains("the torchvision layout has no key names for fastai's head"), "{stderr}");
    let stderr =
        fails(&["export", "--weights", weights, "--out", out_s, "--format", "safetensors", "--precision", "int8"]);
    assert!(stderr.contains("a safetensors export is f32"), "{stderr}");
    let stderr = fails(&["export", "--weights", weights, "--out", out_s, "--precision", "f16", "--check-images", "0"]);
    assert!(stderr.contains("expected a positive number of photos or `all`"), "{stderr}");

    // A data folder whose classes the model does not have.
    let data = dir.path().join("pets");
    for split in ["train", "val"] {
        for class in ["cat", "dog"] {
            let folder = data.join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join("a.jpg"), b"not a photo").unwrap();
        }
    }
    let stderr = fails(&["export", "--weights", weights, "--out", out_s, "--data", data.to_str().unwrap()]);
    assert!(stderr.contains("the data folder's class `cat` is not one of the model's classes"), "{stderr}");

    // Import: a file that is no checkpoint, a checkpoint with a class count nothing names.
    let notes = dir.path().join("notes.pth");
    std::fs::write(&notes, b"these are my notes").unwrap();
    let stderr = fails(&["import", notes.to_str().unwrap(), "--out", out_s]);
    assert!(stderr.contains("is neither a PyTorch checkpoint"), "{stderr}");
    let fastai = fixtures().join("fastai_resnet34.pth");
    let stderr = fails(&["import", fastai.to_str().unwrap(), "--out", out_s, "--data", data.to_str().unwrap()]);
    assert!(stderr.contains("the checkpoint has 10 classes but"), "{stderr}");
    let stderr = fails(&["import", dir.path().join("missing.pth").to_str().unwrap(), "--out", out_s]);
    assert!(stderr.contains("cannot read the checkpoint"), "{stderr}");

    // Export of weights whose metadata is gone.
    std::fs::remove_file(checkpoint.with_extension("json")).unwrap();
    let stderr = fails(&["export", "--weights", weights, "--out", out_s, "--precision", "f32"]);
    assert!(stderr.contains("cannot read the model metadata"), "{stderr}");
}
