//! What Woofcam's tests and benchmarks share: where the photos they run on are, and the
//! comparisons of numbers they make.
//!
//! The photos are Imagewoof's (`imagewoof2-160`), found in `$WOOFCAM_DATA` or, by default,
//! in `../shared/data/imagewoof2-160` beside the repository; the ImageNet teacher in
//! `../shared/models`.

use std::path::PathBuf;

use burn::tensor::Tensor;

/// The environment variable that says where Imagewoof is, for a copy kept elsewhere.
pub const DATA_VARIABLE: &str = "WOOFCAM_DATA";

/// The folder beside the repository that holds the data and the teacher.
pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Imagewoof's folder (`train/<synset>/*`, `val/<synset>/*`): `$WOOFCAM_DATA` when set.
pub fn imagewoof() -> PathBuf {
    std::env::var_os(DATA_VARIABLE).map_or_else(|| shared().join("data/imagewoof2-160"), PathBuf::from)
}

/// A Samoyed from Imagewoof's val split (213x160), the photo most tests explain.
pub fn samoyed() -> PathBuf {
    imagewoof().join("val/n02111889/ILSVRC2012_val_00000590.JPEG")
}

/// The largest absolute difference between two tensors of one shape.
pub fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    (a - b).abs().max().into_scalar()
}

/// Asserts `actual` equals `expected` within `tolerance` times the largest |expected|, naming
/// `what` and the worst element when it does not.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], tolerance: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
    let (worst, index) = actual
        .iter()
        .zip(expected)
        .enumerate()
        .map(|(i, (a, e))| ((a - e).abs() / scale, i))
        .fold((0.0f32, 0), |best, cur| if cur.0 > best.0 { cur } else { best });
    assert!(
        worst <= tolerance,
        "{what}: relative error {worst:.3e} at {index} (ours {}, reference {}, max |ref| {scale})",
        actual[index],
        expected[index]
    );
    assert!(actual.iter().all(|v| v.is_finite()), "{what}: non-finite values");
}

/// The CPU a benchmark ran on and the GEMM micro-kernels `gemm` picks on it, as JSON fields
/// (`"cpu": ..., "gemm_kernels": ...`) for its output line: figures from another CPU or
/// kernel path are not comparable. The kernels follow gemm's own choice at run time
/// (AVX-512 where the CPU has it, as Woofcam builds gemm for x86-64, else AVX2 with FMA).
pub fn machine_json_fields() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("\"cpu\": {}, \"gemm_kernels\": \"{}\"", serde_json::json!(cpu), gemm_kernels())
}

fn gemm_kernels() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            "avx512f"
        } else if std::arch::is_x86_feature_detected!("fma") {
            "avx2+fma"
        } else {
            "scalar"
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH
    }
}

/// The median of timings (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    assert!(!values.is_empty(), "a median of no timings");
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn close_is_relative_to_the_largest_expected_value() {
        assert_close("within", &[100.5, 0.0], &[100.0, 0.5], 0.01);
        let far = std::panic::catch_unwind(|| assert_close("far", &[102.0], &[100.0], 0.01));
        assert!(far.is_err());
    }
}
