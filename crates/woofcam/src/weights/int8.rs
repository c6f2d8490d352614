//! Int8 weights: a quarter of f32's size for the download, widened to f32 when loaded.
//!
//! Every large convolution and linear weight ([`KEEP_F16_BELOW`]) is stored as `i8` with one
//! `f32` scale per output channel, symmetric around zero: `scale = max |w| / 127`,
//! `q = round(w / scale)`, so each weight comes back within half a step (`scale / 2`) of its
//! f32 value. A scale per channel, not per tensor, so that a channel of small weights is not
//! rounded on the step of the tensor's widest channel. The scales ride beside their weight
//! as `NAME.scale`. Everything else (the small weights, biases, BatchNorm) stays as the f16
//! export stores it. Only the stored weights are quantised; the network computes in f32, so
//! every kernel and explainer stays as it is.

use burn::store::burn_pack::Tensor as PackTensor;
use burn::tensor::{Bytes, DType};

use crate::Error;

/// Suffix of the tensor that holds a weight's per-channel scales.
const SCALE_SUFFIX: &str = ".scale";

/// Weights with fewer elements than this stay f16. Measured on the default model: the stem's
/// 9,408 weights alone, in int8, moved Grad-CAM's map twice as far as all the rest did, since
/// every later layer amplifies what the first ones get wrong; the small tensors (the stem,
/// the first stage, the 1x1 shortcuts, the last linear layer) are 1% of a ResNet34's weights.
const KEEP_F16_BELOW: usize = 65_536;

/// The largest magnitude a quantised weight takes (`i8::MIN` stays unused, for symmetry).
const LEVELS: f32 = 127.0;

/// Which axis of a weight holds its output channels, for the weights stored as int8:
/// a convolution's `[out, in, kh, kw]` and a Burn linear layer's `[in, out]`.
fn channel_axis(shape: &[usize]) -> Option<usize> {
    match shape.len() {
        4 => Some(0),
        2 => Some(1),
        _ => None,
    }
}

/// Replaces each large f32 convolution and linear weight of `full` by its int8 values and scales;
/// every other tensor is taken from `half` (the same tensors as the f16 export stores them).
pub(super) fn quantize(full: Vec<PackTensor>, half: Vec<PackTensor>) -> Result<Vec<PackTensor>, Error> {
    let mut out = Vec::with_capacity(full.len() + full.len() / 2);
    for (tensor, stored) in full.into_iter().zip(half) {
        debug_assert_eq!(tensor.name, stored.name);
        let small = tensor.shape.num_elements() < KEEP_F16_BELOW;
        let axis = channel_axis(&tensor.shape).filter(|_| tensor.dtype == DType::F32 && !small);
        let Some(axis) = axis else {
            out.push(stored);
            continue;
        };
        let (name, _, shape, param_id, bytes) = tensor.into_parts().map_err(|e| Error::Weights(e.to_string()))?;
        let (levels, scales) = quantize_values(&floats(&bytes), &shape, axis);
        let levels: Vec<u8> = levels.into_iter().map(|q| q as u8).collect();
        out.push(PackTensor::new(
            format!("{name}{SCALE_SUFFIX}"),
            DType::F32,
            [scales.len()],
            None,
            Bytes::from_elems(scales),
        ));
        out.push(PackTensor::new(name, DType::I8, shape, param_id, Bytes::from_bytes_vec(levels)));
    }
    Ok(out)
}

/// Widens every int8 weight of `tensors` to f32 with its scales and drops the scales.
pub(super) fn dequantize(tensors: Vec<PackTensor>) -> Result<Vec<PackTensor>, Error> {
    let (scales, mut rest): (Vec<_>, Vec<_>) = tensors.into_iter().partition(|t| t.name.ends_with(SCALE_SUFFIX));
    let mut scales: std::collections::BTreeMap<String, PackTensor> =
        scales.into_iter().map(|t| (t.name.clone(), t)).collect();
    for tensor in &mut rest {
        if tensor.dtype != DType::I8 {
            continue;
        }
        let damaged = |why: String| Error::Weights(format!("int8 weight `{}` {why}; the file is damaged", tensor.name));
        let axis = channel_axis(&tensor.shape).ok_or_else(|| damaged(format!("has shape {:?}", tensor.shape)))?;
        let scale =
            scales.remove(&format!("{}{SCALE_SUFFIX}", tensor.name)).ok_or_else(|| damaged("has no scales".into()))?;
        let channels = tensor.shape[axis];
        let scale_bytes = scale.to_bytes().map_err(|e| Error::Weights(e.to_string()))?;
        if scale.dtype != DType::F32 || scale_bytes.len() != channels * 4 {
            return Err(damaged(format!("has {} bytes of scales for {channels} channels", scale_bytes.len())));
        }
        let scale = floats(&scale_bytes);
        let levels = tensor.to_bytes().map_err(|e| Error::Weights(e.to_string()))?;
        let values = dequantize_values(levels.iter().map(|&b| b as i8), &tensor.shape, axis, &scale);
        *tensor = PackTensor::new(
            tensor.name.clone(),
            DType::F32,
            tensor.shape.clone(),
            tensor.param_id,
            Bytes::from_elems(values),
        );
    }
    if let Some(name) = scales.keys().next() {
        return Err(Error::Weights(format!("`{name}` scales no int8 weight; the file is damaged")));
    }
    Ok(rest)
}

/// Little-endian f32 bytes as values.
pub(super) fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// The index of the output channel of the element at flat (row-major) position `i`.
fn channel_of(i: usize, shape: &[usize], axis: usize) -> usize {
    let inner: usize = shape[axis + 1..].iter().product();
    (i / inner) % shape[axis]
}

/// Symmetric per-channel quantisation: the levels in `[-127, 127]` and one scale per channel.
fn quantize_values(values: &[f32], shape: &[usize], axis: usize) -> (Vec<i8>, Vec<f32>) {
    let mut peak = vec![0f32; shape[axis]];
    for (i, v) in values.iter().enumerate() {
        let c = channel_of(i, shape, axis);
        peak[c] = peak[c].max(v.abs());
    }
    // An all-zero channel keeps scale 0 and comes back as zeros.
    let scales: Vec<f32> = peak.iter().map(|p| p / LEVELS).collect();
    let levels = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let scale = scales[channel_of(i, shape, axis)];
            if scale > 0.0 { (v / scale).round().clamp(-LEVELS, LEVELS) as i8 } else { 0 }
        })
        .collect();
    (levels, scales)
}

fn dequantize_values(levels: impl Iterator<Item = i8>, shape: &[usize], axis: usize, scales: &[f32]) -> Vec<f32> {
    levels.enumerate().map(|(i, q)| f32::from(q) * scales[channel_of(i, shape, axis)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_weight_comes_back_within_half_a_step_of_its_channel() {
        // Channels of very different ranges, one all zero, along each axis layout.
        for (shape, axis) in [(vec![3, 2, 2, 2], 0), (vec![4, 3], 1)] {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = (0..n)
                .map(|i| {
                    let c = channel_of(i, &shape, axis) as f32;
                    if c == 1.0 { 0.0 } else { (i as f32 * 0.37).sin() * 10f32.powf(c - 2.0) }
                })
                .collect();
            let (levels, scales) = quantize_values(&values, &shape, axis);
            assert_eq!(scales[1], 0.0, "the zero channel");
            let back = dequantize_values(levels.iter().copied(), &shape, axis, &scales);
            for (i, (v, b)) in values.iter().zip(&back).enumerate() {
                let step = scales[channel_of(i, &shape, axis)];
                assert!((v - b).abs() <= step / 2.0 * (1.0 + 1e-6), "{shape:?}[{i}]: {v} -> {b}, step {step}");
            }
            // Each channel's largest weight is exactly a level.
            assert!(levels.iter().any(|&q| q.abs() == 127));
        }
    }

    #[test]
    fn damaged_files_are_errors() {
        let weight = || PackTensor::new("w".into(), DType::I8, [2, 2], None, Bytes::from_bytes_vec(vec![1, 2, 3, 4]));
        let scale =
            |n: usize| PackTensor::new("w.scale".into(), DType::F32, [n], None, Bytes::from_elems(vec![0.5f32; n]));
        let message = |tensors| dequantize(tensors).unwrap_err().to_string();
        assert!(message(vec![weight()]).contains("int8 weight `w` has no scales"));
        assert!(message(vec![weight(), scale(3)]).contains("12 bytes of scales for 2 channels"));
        assert!(message(vec![scale(2)]).contains("`w.scale` scales no int8 weight"));
        let widened = dequantize(vec![weight(), scale(2)]).unwrap();
        assert_eq!(floats(&widened[0].to_bytes().unwrap()), [0.5, 1.0, 1.5, 2.0]);
    }

    #[test]
    fn channel_of_follows_row_major_order() {
        assert_eq!((0..6).map(|i| channel_of(i, &[2, 3], 1)).collect::<Vec<_>>(), [0, 1, 2, 0, 1, 2]);
        assert_eq!((0..8).map(|i| channel_of(i, &[2, 2, 2, 1], 0)).collect::<Vec<_>>(), [0, 0, 0, 0, 1, 1, 1, 1]);
    }
}
