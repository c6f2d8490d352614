//! `woofcam eval` on a small slice of Imagewoof's val split: the printed numbers, the two
//! PNGs and eval.json agree with each other; bad input ends in a clear message.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod support;
use support::{cli, fails, fixtures, imagewoof, ok, samoyed, text};

/// A model with non-trivial weights: the fastai fixture checkpoint, imported at 64 px.
fn model(dir: &Path) -> PathBuf {
    let weights = dir.join("model.bpk");
    let fixture = fixtures().join("fastai_resnet34.pth");
    ok(&["import", fixture.to_str().unwrap(), "--out", weights.to_str().unwrap(), "--size", "64"]);
    weights
}

/// Distinct colours in an image, and the share of its pixels that are not white.
fn colours(image: &image::RgbImage) -> (usize, f64) {
    let mut seen: Vec<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    let inked = seen.iter().filter(|p| **p != [255; 3]).count() as f64 / seen.len() as f64;
    seen.sort_unstable();
    seen.dedup();
    (seen.len(), inked)
}

#[test]
fn eval_prints_and_writes_matching_numbers_and_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let weights = model(dir.path());
    let out = dir.path().join("eval");
    let output = cli(&[
        "eval",
        "--weights",
        weights.to_str().unwrap(),
        "--data",
        imagewoof().to_str().unwrap(),
        "--limit-per-class",
        "2",
        "--top-losses",
        "4",
        "--batch",
        "8",
        "--min-confused",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("evaluated 20 photos of val (2 per class at most) (centre squares), 0 skipped"),
        "{stdout}"
    );
    // Progress goes to stderr, with a speed.
    assert!(stderr.contains("eval: batch 3/3, 20 photos,") && stderr.contains("images/s"), "{stderr}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).unwrap()).unwrap();
    let accuracy = report["accuracy"].as_f64().unwrap();
    let correct = report["correct"].as_u64().unwrap();
    assert!(
        stdout.contains(&format!("accuracy {accuracy:.4} ({correct}/20), error rate {:.4}", 1.0 - accuracy)),
        "{stdout}\n{report}"
    );
    let matrix: Vec<Vec<u64>> = serde_json::from_value(report["confusion_matrix"].clone()).unwrap();
    assert_eq!(matrix.len(), 10);
    assert_eq!(matrix.iter().flatten().sum::<u64>(), 20);
    assert_eq!((0..10).map(|i| matrix[i][i]).sum::<u64>(), correct);
    assert!(matrix.iter().all(|row| row.iter().sum::<u64>() == 2), "{matrix:?}");
    let per_class = report["per_class"].as_array().unwrap();
    assert_eq!(per_class[8]["name"], "Samoyed");
    assert_eq!(per_class[8]["images"], 2);
    let top = report["top_losses"].as_array().unwrap();
    assert_eq!(top.len(), 4);
    assert!(top[0]["loss"].as_f64().unwrap() >= top[3]["loss"].as_f64().unwrap());
    assert_eq!(report["fit"], "crop");
    // The per-class table and the confused pairs are printed.
    assert!(stdout.contains("Samoyed") && stdout.contains("photos  correct  accuracy"), "{stdout}");
    if correct < 20 {
        assert!(stdout.contains(" -> "), "{stdout}");
    }

    let matrix_png = image::open(out.join("confusion_matrix.png")).unwrap().to_rgb8();
    assert!(matrix_png.width() > 10 * 36 && matrix_png.height() > 10 * 36, "{:?}", matrix_png.dimensions());
    // Cells on two colours at least (this model predicts one class for nearly everything),
    // text in black and white; the cells alone cover over a third of the picture.
    let (count, inked) = colours(&matrix_png);
    assert!(count >= 4 && inked > 0.33, "the confusion matrix looks blank: {count} colours, {inked:.2} inked");
    let grid = image::open(out.join("top_losses.png")).unwrap().to_rgb8();
    // 4 photos: 2 x 2 cells of (192 + 4) x (192 + 32 + 4), plus a 4 px margin.
    assert_eq!(grid.dimensions(), (2 * 196 + 4, 2 * 228 + 4));
    let (count, inked) = colours(&grid);
    assert!(count > 100 && inked > 0.9, "the top-losses grid looks blank: {count} colours, {inked:.2} inked");
}

/// `--fit squish` measures what the viewer sees: a wide photo, evaluated squished, gets the
/// probabilities `woofcam explain` (which feeds photos as the viewer does) prints for it.
#[test]
fn eval_fit_squish_gives_the_viewers_answer() {
    let dir = tempfile::tempdir().unwrap();
    let weights = model(dir.path());
    let [train, folder] = ["train", "val"].map(|split| dir.path().join("woof").join(split).join("n02111889"));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::create_dir_all(&train).unwrap();
    // Three times as wide as high: a centre square would keep only its middle third.
    let samoyed = image::open(samoyed()).unwrap().to_rgb8();
    let wide = folder.join("wide.png");
    image::imageops::resize(&samoyed, 192, 64, image::imageops::FilterType::Triangle).save(&wide).unwrap();
    std::fs::copy(&wide, train.join("wide.png")).unwrap();
    let eval = |fit: &str| {
        let out = dir.path().join(fit);
        let data = dir.path().join("woof");
        let stdout = ok(&[
            "eval",
            "--weights",
            weights.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--fit",
            fit,
            "--top-losses",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]);
        let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).unwrap()).unwrap();
        (stdout, report)
    };
    let (stdout, squished) = eval("squish");
    assert!(stdout.contains("evaluated 1 photo of val (whole photos squished)"), "{stdout}");
    assert_eq!(squished["fit"], "squish");
    let top = &squished["top_losses"][0];
    let (predicted, probability) = (top["predicted"].as_str().unwrap(), top["probability"].as_f64().unwrap());

    let explained = ok(&[
        "explain",
        wide.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
        "--fit",
        "squish",
        "--out",
        dir.path().join("explained").to_str().unwrap(),
    ]);
    let first = explained.lines().find(|l| l.trim_start().starts_with("1. ")).expect("a top-1 line");
    let percent: f64 = first.trim_end().trim_end_matches('%').rsplit(' ').next().unwrap().parse().unwrap();
    assert!(first.contains(predicted), "explain: {first}, eval: {predicted}");
    assert!((100.0 * probability - percent).abs() <= 0.006, "explain {percent}%, eval {probability}");

    // The centre square is another picture of the dog, with its own answer.
    let (_, cropped) = eval("crop");
    assert_ne!(cropped["loss"], squished["loss"]);
}

#[test]
fn eval_refuses_a_folder_of_other_classes_and_weights_without_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let weights = model(dir.path());
    let data = dir.path().join("pets");
    let photo = samoyed();
    for split in ["train", "val"] {
        for class in ["cat", "n02111889"] {
            let folder = data.join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::copy(&photo, folder.join("a.jpg")).unwrap();
        }
    }
    let args = ["eval", "--weights", weights.to_str().unwrap(), "--data", data.to_str().unwrap()];
    let stderr = fails(&args);
    assert!(stderr.contains("the data folder's class `cat` is not one of the model's classes"), "{stderr}");

    let output = cli(&["eval", "--weights", weights.to_str().unwrap(), "--data", "/no/such/woof"]);
    assert!(text(&output.stderr).contains("data folder /no/such/woof does not exist"), "{}", text(&output.stderr));

    std::fs::remove_file(weights.with_extension("json")).unwrap();
    let stderr = fails(&args);
    assert!(stderr.contains("cannot read the model metadata"), "{stderr}");
}
