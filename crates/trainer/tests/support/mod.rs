//! What the trainer's command-line tests share: where the data and fixtures are, and
//! running the `woofcam` binary the way a person does.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use woofcam::metadata::ModelMetadata;

pub use woofcam_testkit::{imagewoof, samoyed};

/// PyTorch-made checkpoints and their expected outputs (`tests/reference/torch_roundtrip.py`).
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/torch")
}

/// Runs the `woofcam` binary with `args`.
pub fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_woofcam")).args(args).output().expect("woofcam runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `woofcam` and returns its stdout, failing the test with both streams otherwise.
pub fn ok(args: &[&str]) -> String {
    let output = cli(args);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{args:?}\nstdout: {stdout}\nstderr: {}", text(&output.stderr));
    stdout
}

/// Runs `woofcam` expecting a failure; returns stderr, checked for a panic.
pub fn fails(args: &[&str]) -> String {
    let output = cli(args);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{args:?} succeeded: {}", text(&output.stdout));
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    stderr
}

/// `woofcam eval` of `weights` on `data`'s val split with `options`, no top-losses grid;
/// returns the `eval.json` it wrote into `out`.
pub fn eval_json(weights: &Path, data: &Path, out: &Path, options: &[&str]) -> serde_json::Value {
    let (weights, data, out_arg) = (weights.to_str().unwrap(), data.to_str().unwrap(), out.to_str().unwrap());
    let fixed = ["eval", "--weights", weights, "--data", data, "--top-losses", "0", "--out", out_arg];
    ok(&[&fixed[..], options].concat());
    let path = out.join("eval.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The metadata written beside exported weights (`NAME.json` beside `NAME.bpk`).
pub fn metadata(weights: &Path) -> ModelMetadata {
    let path = weights.with_extension("json");
    let json = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    ModelMetadata::from_json(&json).unwrap()
}
