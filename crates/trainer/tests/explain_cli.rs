//! `woofcam explain` and `woofcam arch` used the way a person uses them: a real photo from
//! Imagewoof's val split, exported weights on disk, PNGs out; and every kind of bad input
//! ending in a clear message, never a panic.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use woofcam::metadata::ModelMetadata;
use woofcam::weights::{Precision, to_burnpack};

mod support;
use support::{cli, fails, metadata, ok, samoyed, text};

/// Writes an (untrained) fastai ResNet34 as `model.bpk` + `model.json` into `dir`.
fn export_model(dir: &Path) -> PathBuf {
    let meta = ModelMetadata::imagewoof(128);
    let model = meta.config().unwrap().init(&Device::flex()).valid();
    let weights = dir.join("model.bpk");
    std::fs::write(&weights, to_burnpack(&model, Precision::F32).unwrap()).unwrap();
    std::fs::write(dir.join("model.json"), meta.to_json()).unwrap();
    weights
}

#[test]
fn explain_writes_every_method_and_prints_the_top_five() {
    let dir = tempfile::tempdir().unwrap();
    let weights = export_model(dir.path());
    let out = dir.path().join("out");
    let stdout = ok(&[
        "explain",
        samoyed().to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
        "--layer",
        "[0,-2]",
        "--class",
        "samoyed",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(stdout.lines().filter(|l| l.trim_end().ends_with('%')).count(), 5, "{stdout}");
    assert!(stdout.contains("explaining `Samoyed` at layer3 [0,6]"), "{stdout}");

    let photo = image::open(samoyed()).unwrap();
    for method in ["gradcam", "guided-backprop", "guided-gradcam"] {
        let overlay = image::open(out.join(format!("ILSVRC2012_val_00000590.{method}.overlay.png"))).unwrap().to_rgb8();
        assert_eq!(overlay.dimensions(), (photo.width(), photo.height()), "{method}");
        let side = image::open(out.join(format!("ILSVRC2012_val_00000590.{method}.side.png"))).unwrap().to_rgb8();
        assert_eq!(side.width(), 3 * photo.width() + 2 * woofcam::image::SIDE_BY_SIDE_GAP, "{method}");
        // The overlay must differ from the photo: a blank map would leave it unchanged.
        let differs = overlay.pixels().zip(photo.to_rgb8().pixels()).filter(|(a, b)| a != b).count();
        assert!(differs > overlay.len() / 3 / 10, "{method}: only {differs} pixels changed");
    }
}

#[test]
fn a_blank_grad_cam_is_explained_in_words() {
    // An untrained model (seed 42, 224 px): on this photo, the layer4 map for English
    // foxhound has no positive cell (or, on some CPU's rounding, one within a hair of zero),
    // while the top class has evidence.
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.bpk");
    ok(&["init", "--out", weights.to_str().unwrap(), "--size", "224", "--seed", "42"]);
    let photo = samoyed();
    // The printed lines and the map's largest value.
    let explain = |class: &str| {
        let out = dir.path().join(class);
        let json = out.join("map.json");
        #[rustfmt::skip]
        let stdout = ok(&["explain", photo.to_str().unwrap(), "--weights", weights.to_str().unwrap(),
            "--class", class, "--method", "gradcam", "--out", out.to_str().unwrap(), "--json", json.to_str().unwrap()]);
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let values = report["gradcamRaw"]["values"].as_array().unwrap();
        let max = values.iter().map(|v| v.as_f64().unwrap()).fold(f64::MIN, f64::max);
        (stdout, max)
    };
    let (top, peak) = explain("old english sheepdog");
    assert!(top.contains("explaining `Old English sheepdog` at layer4"), "{top}");
    assert!(peak > 0.0 && !top.contains("note:"), "{top}");
    let (blank, max) = explain("english foxhound");
    assert!(max < 1e-4 * peak, "English foxhound's map peaks at {max}, the top class's at {peak}");
    // The note says exactly what the numbers say.
    let note = "note: Grad-CAM is zero everywhere: at layer4, no region raises the score of English foxhound";
    assert_eq!(blank.contains(note), max <= 0.0, "map peak {max}:\n{blank}");
}

#[test]
fn bad_input_gives_a_clear_error_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let weights = export_model(dir.path());
    let real = std::fs::read(samoyed()).unwrap();
    let mut tiny_png = Vec::new();
    image::RgbImage::new(1, 1).write_to(&mut std::io::Cursor::new(&mut tiny_png), image::ImageFormat::Png).unwrap();
    let files: [(&str, Vec<u8>, &str); 4] = [
        ("empty.jpg", vec![], "the file is empty"),
        ("notes.jpg", b"these are my notes, not a photo".to_vec(), "not an image the decoder knows"),
        ("half.jpg", real[..real.len() / 2].to_vec(), "damaged or cut short"),
        ("dot.png", tiny_png, "1x1 pixels"),
    ];
    for (name, bytes, message) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let stderr = fails(&[
            "explain",
            path.to_str().unwrap(),
            "--weights",
            weights.to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
        ]);
        assert!(stderr.contains(message), "{name}: {stderr}");
    }

    let photo = samoyed();
    let cases: [(&[&str], &str); 5] = [
        (&["--class", "10"], "class 10 is out of range: the model has 10 classes"),
        (&["--class", "poodle"], "unknown class `poodle`"),
        (&["--layer", "layer5"], "unknown layer `layer5`"),
        (&["--layer", "[0,9]"], "unknown layer `[0,9]`"),
        (&["--alpha", "1.5"], "--alpha must be between 0 and 1"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["explain", photo.to_str().unwrap(), "--weights", weights.to_str().unwrap()];
        args.extend_from_slice(extra);
        let stderr = fails(&args);
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
    }
}

#[test]
fn broken_weights_give_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let weights = export_model(dir.path());
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let stderr = fails(&["explain", samoyed().to_str().unwrap(), "--weights", weights.to_str().unwrap()]);
    assert!(stderr.contains("model.bpk"), "{stderr}");

    std::fs::remove_file(dir.path().join("model.json")).unwrap();
    let output = cli(&["explain", samoyed().to_str().unwrap(), "--weights", weights.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cannot read the model metadata"), "{stderr}");
}

#[test]
fn init_writes_a_model_that_explain_loads() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("models/untrained.bpk");
    ok(&["init", "--out", weights.to_str().unwrap(), "--size", "96"]);
    let meta = metadata(&weights);
    assert_eq!(meta.input_size, [96, 96]);
    ok(&[
        "explain",
        samoyed().to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
        "--method",
        "gradcam",
        "--out",
        dir.path().to_str().unwrap(),
        "--json",
        dir.path().join("numbers.json").to_str().unwrap(),
    ]);
    assert!(dir.path().join("ILSVRC2012_val_00000590.gradcam.overlay.png").exists());
    assert!(!dir.path().join("ILSVRC2012_val_00000590.guided-backprop.overlay.png").exists());
    let numbers: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("numbers.json")).unwrap()).unwrap();
    assert_eq!(numbers["logits"].as_array().unwrap().len(), 10);
    assert_eq!((&numbers["layer"], &numbers["gradcamRaw"]["height"]), (&"layer4".into(), &3.into())); // 96 px / 32
    // The page's report: the five most probable classes, most probable first, the explained
    // one (the prediction) among them.
    let report: woofcam::explain::Report = serde_json::from_value(numbers).expect("the page's report format");
    assert_eq!((report.format_version, report.top.len()), (woofcam::explain::Report::FORMAT_VERSION, 5));
    assert!(report.top.windows(2).all(|w| w[0].probability >= w[1].probability));
    assert_eq!((report.top[0].class, &report.top[0].name), (report.class, &report.class_name));
}

#[test]
fn arch_lists_every_layer_with_its_shape() {
    let stdout = ok(&["arch", "--size", "224"]);
    assert!(stdout.contains("layer3     [0,6]      256 x 14 x 14"), "{stdout}");
    assert!(stdout.contains("layer4.2   [0,7,2]    512 x 7 x 7"), "{stdout}");
    assert!(stdout.contains("maxpool    [0,3]      64 x 56 x 56"), "{stdout}");
}
