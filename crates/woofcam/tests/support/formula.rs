//! Weights "by formula", bit-identical to `tests/reference/formula_weights.py`, so the
//! golden fixtures need not carry 87 MB of ResNet34 weights.
//!
//! Each element is `offset + scale * unit(key, i)` computed in f32, where `unit` is a
//! splitmix64 hash of the state-dict key's FNV-1a hash plus the element index, cut to
//! 24 bits so that it is exact in f32.

use std::collections::BTreeMap;

fn fnv1a64(key: &str) -> u64 {
    key.bytes().fold(0xcbf29ce484222325, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

fn unit(seed: u64, i: u64) -> f32 {
    (splitmix64(seed.wrapping_add(i)) >> 40) as f32 / 8_388_608.0 - 1.0
}

/// (offset, scale) of a parameter, by its key and shape; `None` for buffers to skip.
fn offset_and_scale(key: &str, shape: &[usize]) -> Option<(f32, f32)> {
    let last = key.rsplit('.').next().unwrap_or(key);
    let is_bn2 = key.split('.').any(|s| s == "bn2");
    Some(match (last, shape.len()) {
        ("num_batches_tracked", _) => return None,
        ("running_mean", _) => (0.0, 0.1),
        ("running_var", _) => (1.0, 0.5),
        ("weight", 4) => (0.0, (6.0 / (shape[1] * shape[2] * shape[3]) as f64).sqrt() as f32),
        ("weight", 2) => (0.0, (3.0 / shape[1] as f64).sqrt() as f32),
        ("weight", 1) if is_bn2 => (0.5, 0.25),
        ("weight", 1) => (1.0, 0.25),
        ("bias", 1) => (0.0, 0.1),
        other => panic!("no formula for {key} {other:?}"),
    })
}

/// The formula's values for one tensor.
pub fn values(key: &str, shape: &[usize]) -> Option<Vec<f32>> {
    let (offset, scale) = offset_and_scale(key, shape)?;
    let seed = fnv1a64(key);
    let n: usize = shape.iter().product();
    Some((0..n as u64).map(|i| offset + scale * unit(seed, i)).collect())
}

/// A whole state dict (key -> shape, as listed by the fixture script) as safetensors bytes.
pub fn state_dict_safetensors(keys: &BTreeMap<String, Vec<usize>>) -> Vec<u8> {
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = keys
        .iter()
        .filter_map(|(key, shape)| {
            let bytes = values(key, shape)?.iter().flat_map(|v| v.to_le_bytes()).collect();
            Some((key.clone(), shape.clone(), bytes))
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(key, shape, bytes)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .expect("shape matches data");
            (key.clone(), view)
        })
        .collect();
    safetensors::serialize(views, None).expect("serialise formula weights")
}

#[test]
fn formula_is_bit_identical_to_the_python_reference() {
    let path = super::fixture::fixtures_dir().join("formula_check.json");
    let check: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let hex = |v: &serde_json::Value| u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    for (key, expected) in check["fnv1a64"].as_object().unwrap() {
        assert_eq!(fnv1a64(key), hex(expected), "fnv1a64({key:?})");
    }
    for (input, expected) in check["splitmix64"].as_object().unwrap() {
        assert_eq!(splitmix64(hex(&serde_json::Value::String(input.clone()))), hex(expected), "splitmix64({input})");
    }
    for (key, entry) in check["values"].as_object().unwrap() {
        let shape: Vec<usize> = serde_json::from_value(entry["shape"].clone()).unwrap();
        let values = values(key, &shape).unwrap();
        for (i, bits) in entry["first8_bits"].as_array().unwrap().iter().enumerate() {
            assert_eq!(values[i].to_bits() as u64, hex(bits), "{key}[{i}]");
        }
        let last = entry["last_index"].as_u64().unwrap() as usize;
        assert_eq!(values[last].to_bits() as u64, hex(&entry["last_bits"]), "{key}[{last}]");
    }
}
