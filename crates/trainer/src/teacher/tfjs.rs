//! Weights of a TensorFlow.js layers model: `model.json`'s `weightsManifest` and the binary
//! shards it names, turned into Burn's tensor layouts.
//!
//! The manifest is a list of groups. Each group names its shard files (to be concatenated
//! in order) and, in order, the tensors packed into them: name, shape and dtype. Only
//! unquantised `float32` is accepted, stored little-endian as TensorFlow.js writes it.
//!
//! TensorFlow keeps convolution kernels as HWIO (`[height, width, in, out]`) and depthwise
//! kernels as `[height, width, channels, multiplier]`; Burn's `Conv2d` wants OIHW
//! (`[out, in / groups, height, width]`), and `Linear` wants `[in, out]`.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use burn::tensor::TensorData;
use serde::Deserialize;

use super::TeacherError;

/// The part of `model.json` that locates the weights (the Keras topology is not needed:
/// the network is built in code and every tensor's shape is checked against it).
#[derive(Deserialize)]
struct ModelJson {
    #[serde(rename = "weightsManifest")]
    weights_manifest: Vec<ManifestGroup>,
}

#[derive(Deserialize)]
struct ManifestGroup {
    paths: Vec<String>,
    weights: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    /// Present on quantised exports (uint8/uint16 values plus scale and offset).
    quantization: Option<serde_json::Value>,
}

/// One tensor as stored: TensorFlow's shape and row-major values.
struct StoredTensor {
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// Every tensor of a TensorFlow.js model, by its Keras name (`conv_dw_3/depthwise_kernel`,
/// `conv_pw_3_bn/moving_mean`, ...).
pub struct TfjsWeights {
    tensors: HashMap<String, StoredTensor>,
}

impl TfjsWeights {
    /// Reads `dir/model.json` and every shard it lists.
    ///
    /// # Errors
    ///
    /// A missing folder or file, a `model.json` that is not a TensorFlow.js manifest (or names
    /// a shard outside `dir`, or holds quantised or non-float32 weights), or a group whose
    /// shards do not hold exactly the bytes its tensors need.
    pub fn read(dir: &Path) -> Result<Self, TeacherError> {
        if !dir.is_dir() {
            return Err(TeacherError::MissingDir(dir.to_path_buf()));
        }
        let manifest = dir.join("model.json");
        let text = std::fs::read_to_string(&manifest).map_err(|source| io(&manifest, source))?;
        let model: ModelJson = serde_json::from_str(&text).map_err(|e| invalid(&manifest, e.to_string()))?;
        let mut tensors = HashMap::new();
        for group in model.weights_manifest {
            tensors.extend(read_group(dir, &manifest, group)?);
        }
        Ok(Self { tensors })
    }

    /// A regular convolution kernel, HWIO `[kh, kw, in, out]` as stored, in Burn's OIHW.
    pub fn conv_kernel(&self, name: &str, [kh, kw, cin, cout]: [usize; 4]) -> Result<TensorData, TeacherError> {
        let stored = self.get(name, &[kh, kw, cin, cout])?;
        Ok(TensorData::new(hwio_to_oihw(&stored.values, [kh, kw, cin, cout]), [cout, cin, kh, kw]))
    }

    /// A depthwise kernel (multiplier 1), `[kh, kw, channels, 1]` as stored, as the
    /// `[channels, 1, kh, kw]` weight of a `Conv2d` with `groups = channels`.
    ///
    /// Read as HWIO with I = channels and O = 1, its OIHW order `[1, channels, kh, kw]` is
    /// the same memory as `[channels, 1, kh, kw]`: one transpose serves both kinds.
    pub fn depthwise_kernel(&self, name: &str, [kh, kw, channels]: [usize; 3]) -> Result<TensorData, TeacherError> {
        let stored = self.get(name, &[kh, kw, channels, 1])?;
        Ok(TensorData::new(hwio_to_oihw(&stored.values, [kh, kw, channels, 1]), [channels, 1, kh, kw]))
    }

    /// A 1x1 convolution kernel `[1, 1, in, out]` as the `[in, out]` weight of a `Linear`
    /// layer: the same numbers in the same order.
    pub fn dense_kernel(&self, name: &str, [cin, cout]: [usize; 2]) -> Result<TensorData, TeacherError> {
        let stored = self.get(name, &[1, 1, cin, cout])?;
        Ok(TensorData::new(stored.values.clone(), [cin, cout]))
    }

    /// A vector (bias, BatchNorm gamma, beta, moving mean or moving variance).
    pub fn vector(&self, name: &str, len: usize) -> Result<TensorData, TeacherError> {
        Ok(TensorData::new(self.get(name, &[len])?.values.clone(), [len]))
    }

    fn get(&self, name: &str, expected: &[usize]) -> Result<&StoredTensor, TeacherError> {
        let stored = self.tensors.get(name).ok_or_else(|| TeacherError::MissingTensor(name.to_string()))?;
        if stored.shape != expected {
            return Err(TeacherError::TensorShape {
                name: name.to_string(),
                expected: expected.to_vec(),
                actual: stored.shape.clone(),
            });
        }
        Ok(stored)
    }
}

/// The tensors of one manifest group, from its shards concatenated in order.
fn read_group(dir: &Path, manifest: &Path, group: ManifestGroup) -> Result<Vec<(String, StoredTensor)>, TeacherError> {
    let mut sizes = Vec::with_capacity(group.weights.len());
    for entry in &group.weights {
        if entry.dtype != "float32" || entry.quantization.is_some() {
            let detail = format!("tensor {:?} is not plain float32; re-export it unquantised", entry.name);
            return Err(invalid(manifest, detail));
        }
        let size = byte_len(&entry.shape)
            .ok_or_else(|| invalid(manifest, format!("tensor {:?} has an impossibly large shape", entry.name)))?;
        sizes.push(size);
    }
    let mut bytes = Vec::new();
    for file in &group.paths {
        let path = shard_path(dir, file)
            .ok_or_else(|| invalid(manifest, format!("shard path {file:?} leaves the model folder")))?;
        bytes.extend(std::fs::read(&path).map_err(|source| io(&path, source))?);
    }
    let expected = sizes.iter().try_fold(0_usize, |sum, &size| sum.checked_add(size));
    if expected != Some(bytes.len()) {
        return Err(TeacherError::ShardSize {
            files: group.paths.join(", "),
            expected: expected.map_or(u64::MAX, |e| e as u64),
            actual: bytes.len() as u64,
        });
    }
    let mut rest = bytes.as_slice();
    let tensors = group.weights.into_iter().zip(sizes).map(|(entry, size)| {
        let (own, tail) = rest.split_at(size);
        rest = tail;
        let values = own.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        (entry.name, StoredTensor { shape: entry.shape, values })
    });
    Ok(tensors.collect())
}

/// `dir/file` if `file` is a plain relative path that stays inside `dir`: a manifest must
/// not make the loader read arbitrary files.
fn shard_path(dir: &Path, file: &str) -> Option<PathBuf> {
    let relative = Path::new(file);
    relative.components().all(|c| matches!(c, Component::Normal(_))).then(|| dir.join(relative))
}

/// The bytes a float32 tensor of `shape` takes, unless that overflows.
fn byte_len(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(4_usize, |bytes, &dim| bytes.checked_mul(dim))
}

fn invalid(manifest: &Path, detail: String) -> TeacherError {
    TeacherError::Manifest { path: manifest.to_path_buf(), detail }
}

fn io(path: &Path, source: std::io::Error) -> TeacherError {
    TeacherError::Io { path: path.to_path_buf(), source }
}

/// Row-major HWIO to row-major OIHW.
fn hwio_to_oihw(values: &[f32], [kh, kw, cin, cout]: [usize; 4]) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for h in 0..kh {
        for w in 0..kw {
            for i in 0..cin {
                for o in 0..cout {
                    out[((o * cin + i) * kh + h) * kw + w] = values[((h * kw + w) * cin + i) * cout + o];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwio_becomes_oihw() {
        // A [2, 1, 1, 3] kernel (kh=2, kw=1, in=1, out=3): value = 10 * h + o.
        let hwio = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
        // OIHW [3, 1, 2, 1]: for each output, its two rows.
        assert_eq!(hwio_to_oihw(&hwio, [2, 1, 1, 3]), [0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
    }

    #[test]
    fn shard_paths_stay_in_the_folder() {
        let dir = Path::new("/models/m");
        assert_eq!(shard_path(dir, "group1-shard1of1"), Some(dir.join("group1-shard1of1")));
        assert_eq!(shard_path(dir, "../secret"), None);
        assert_eq!(shard_path(dir, "/etc/passwd"), None);
    }
}
