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
    // f16 halves what the site downloads; the export checked the logits stayed within 1e-2.
    assert_eq!(meta.dtype, Precision::F16);
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
