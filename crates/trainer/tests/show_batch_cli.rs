//! `woofcam show-batch` on the real Imagewoof folder: a PNG grid of the expected size, and
//! a clear message for a folder that is not a data set.

mod support;
use support::{fails, imagewoof, ok};

#[test]
fn show_batch_writes_a_labelled_grid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid.png");
    let data = imagewoof();
    let stdout = ok(&[
        "show-batch",
        data.to_str().unwrap(),
        "--size",
        "96",
        "--n",
        "6",
        "--max-per-class",
        "2",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    let grid = image::open(&out).unwrap().to_rgb8();
    // 6 samples -> 3 columns x 2 rows of (96 + 4) x (96 + 22 + 4) cells plus a 4 px margin.
    assert_eq!(grid.dimensions(), (3 * 100 + 4, 2 * 122 + 4));
    assert!(stdout.contains("6 samples, 0 skipped"), "{stdout}");
}

#[test]
fn show_batch_valid_split_works_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("valid.png");
    let data = imagewoof();
    ok(&[
        "show-batch",
        data.to_str().unwrap(),
        "--split",
        "valid",
        "--size",
        "64",
        "--resize",
        "64",
        "--n",
        "1",
        "--max-per-class",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(image::image_dimensions(&out).unwrap(), (64 + 8, 64 + 22 + 8));
}

#[test]
fn show_batch_names_a_missing_split() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("train/a")).unwrap();
    let stderr = fails(&["show-batch", dir.path().to_str().unwrap(), "--out", "x.png"]);
    assert!(stderr.contains("has no `val` folder"), "{stderr}");
}
