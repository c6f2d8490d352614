//! The committed default model (`models/imagewoof-resnet34.bpk`, which the site and
//! `explain-sample` load): its metadata, and its accuracy on a fixed slice of val photos fed
//! as the viewer feeds them, so that a broken export or a change to the pre-processing shows
//! up as a failing test rather than as a worse demo.

mod support;

use std::path::PathBuf;

use support::{eval_json, imagewoof, metadata};
use woofcam::weights::Precision;

fn default_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/imagewoof-resnet34.bpk")
}

/// Photos right of the first 20 per class (200), whole photos squished as the viewer does,
/// measured when the model was committed (`woofcam eval --fit squish --limit-per-class 20`;
/// the model card gives the full-val figures).
const RECORDED_CORRECT: u64 = 157;

/// Another CPU's rounding may move a photo whose top two logits nearly tie; more than this
/// many is a real change.
const MARGIN: u64 = 3;

#[test]
fn metadata_says_what_the_viewer_needs() {
    let meta = metadata(&default_model());
    assert_eq!(meta.architecture, "resnet34");
    assert_eq!(meta.input_size, [160, 160]);
    // int8 quarters what the site downloads. Its export compared it with f32 on the whole val
    // split, the viewer's way: the top class kept for at least 99.5% of the photos, the
    // accuracy within 0.2 points.
    assert_eq!(meta.dtype, Precision::Int8);
    let export = &meta.training.as_ref().expect("a training record")["export"];
    assert_eq!((export["check_images"].as_u64(), export["check_fit"].as_str()), (Some(3929), Some("squish")));
    let same = export["same_top1_int8"].as_f64().unwrap() / 3929.0;
    assert!(same >= 0.995, "the top class kept for {:.2}% of the photos", 100.0 * same);
    let accuracy = |key: &str| export[key].as_f64().unwrap();
    let change = accuracy("val_accuracy_int8") - accuracy("val_accuracy_f32");
    assert!(change.abs() <= 0.002, "int8 moved the accuracy by {:.2} points", 100.0 * change);
    let by_id = |id: &str| meta.classes.iter().find(|c| c.id == id).map(|c| c.name.as_str());
    // The label swap of the well-known notebook: ImageNet's names, by synset.
    assert_eq!(by_id("n02093754"), Some("Border terrier"));
    assert_eq!(by_id("n02096294"), Some("Australian terrier"));
    assert_eq!(meta.classes.len(), 10);
    // The card is written from this record: every run behind the model.
    assert!(meta.training.as_ref().is_some_and(|t| t["started_from"].is_object()), "no chain of runs recorded");
}

#[test]
fn accuracy_on_twenty_per_class_the_viewers_way_is_the_recorded_figure() {
    let out = tempfile::tempdir().unwrap();
    let eval = eval_json(&default_model(), &imagewoof(), out.path(), &["--limit-per-class", "20", "--fit", "squish"]);
    assert_eq!(eval["images"], 200);
    let correct = eval["correct"].as_u64().unwrap();
    assert!(
        correct.abs_diff(RECORDED_CORRECT) <= MARGIN,
        "{correct} of 200 right, {RECORDED_CORRECT} when the model was committed"
    );
}
