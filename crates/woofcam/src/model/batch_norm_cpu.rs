//! BatchNorm in training mode (the batch's own statistics) on row-major NCHW `f32` data,
//! for the CPU backend: forward and gradients.
//!
//! Why: Burn's BatchNorm for training is written with tensor operations, about ten whole
//! passes over the activation forward and fifteen backward, two of them transposed copies to
//! reduce per channel; on the CPU that was a sixth of a ResNet34 training step. Here one
//! thread does a channel from start to end: its slab (`batch` rows of `height x width`, a
//! few hundred KiB at most in ResNet34 at batch 32 and 128 px) comes from memory once and
//! the further passes over it hit the core's cache.
//!
//! Sums run in 16 `f32` lanes (so that they vectorise), each row's lanes added in `f64`.

use super::parallel::{SharedMut, for_each_index};

/// `[batch, channels, height x width]` of a row-major NCHW tensor.
pub type Dims = [usize; 3];

/// Independent partial sums per row: the `f32` vector width of AVX-512, two of AVX2's.
const LANES: usize = 16;

/// The forward's results.
pub struct TrainForward {
    /// `(x - mean) / sqrt(variance + epsilon) * gamma + beta`, shaped as the input.
    pub output: Vec<f32>,
    /// Per channel.
    pub mean: Vec<f32>,
    /// Per channel, biased (divided by the number of values), as Burn's.
    pub variance: Vec<f32>,
}

/// The gradients of [`train_forward`]'s output with respect to its inputs.
pub struct TrainGradients {
    pub x: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// Normalises each channel of `x` by its mean and variance over the batch and the pixels,
/// then scales by `gamma` and shifts by `beta` (one value per channel each).
pub fn train_forward(x: &[f32], dims: Dims, gamma: &[f32], beta: &[f32], epsilon: f64) -> TrainForward {
    let [n, c, hw] = dims;
    check_lengths(x, dims, gamma);
    assert_eq!(beta.len(), c, "one beta per channel");
    let count = (n * hw) as f64;
    let mut output = vec![0.0; x.len()];
    let (mut mean, mut variance) = (vec![0.0; c], vec![0.0; c]);
    let (out, means, variances) =
        (SharedMut(output.as_mut_ptr()), SharedMut(mean.as_mut_ptr()), SharedMut(variance.as_mut_ptr()));
    for_each_index(c, |channel| {
        let rows = || (0..n).map(|b| &x[(b * c + channel) * hw..][..hw]);
        let mu = rows().map(|row| lane_sum(row, row, |x, _| x)).sum::<f64>() / count;
        let centre = mu as f32;
        let var = rows().map(|row| lane_sum(row, row, |x, _| (x - centre) * (x - centre))).sum::<f64>() / count;
        let scale = (f64::from(gamma[channel]) / (var + epsilon).sqrt()) as f32;
        let shift = beta[channel];
        for (b, row) in rows().enumerate() {
            // SAFETY: this channel's rows, its mean and its variance are written by this
            // job alone, and all three buffers outlive the loop.
            let dst = unsafe { std::slice::from_raw_parts_mut(out.get().add((b * c + channel) * hw), hw) };
            for (d, &v) in dst.iter_mut().zip(row) {
                *d = (v - centre) * scale + shift;
            }
        }
        unsafe {
            *means.get().add(channel) = centre;
            *variances.get().add(channel) = var as f32;
        }
    });
    TrainForward { output, mean, variance }
}

/// The gradients of [`train_forward`] (inputs `x`, `gamma`; its `mean` and `variance`) for
/// the gradient `output_grad` at its output. With `x̂ = (x - mean) / σ`, `σ = sqrt(variance
/// + epsilon)` and `m` values per channel: `∂beta = Σ dy`, `∂gamma = Σ dy x̂` and
/// `∂x = gamma / σ (dy - ∂beta / m - x̂ ∂gamma / m)`.
pub fn train_backward(
    x: &[f32],
    dims: Dims,
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    output_grad: &[f32],
) -> TrainGradients {
    let [n, c, hw] = dims;
    check_lengths(x, dims, gamma);
    assert!(mean.len() == c && variance.len() == c, "one mean and one variance per channel");
    assert_eq!(output_grad.len(), x.len(), "the output gradient is shaped as the input");
    let count = (n * hw) as f64;
    let mut x_grad = vec![0.0; x.len()];
    let (mut gamma_grad, mut beta_grad) = (vec![0.0; c], vec![0.0; c]);
    let (dx, dgamma, dbeta) =
        (SharedMut(x_grad.as_mut_ptr()), SharedMut(gamma_grad.as_mut_ptr()), SharedMut(beta_grad.as_mut_ptr()));
    for_each_index(c, |channel| {
        let rows = || (0..n).map(|b| (b * c + channel) * hw);
        let centre = mean[channel];
        let (mut sum_dy, mut sum_dy_centred) = (0.0, 0.0);
        for start in rows() {
            let (row, dy) = (&x[start..][..hw], &output_grad[start..][..hw]);
            sum_dy += lane_sum(dy, dy, |g, _| g);
            sum_dy_centred += lane_sum(dy, row, |g, v| g * (v - centre));
        }
        let inv_sigma = 1.0 / (f64::from(variance[channel]) + epsilon).sqrt();
        let gain = f64::from(gamma[channel]) * inv_sigma;
        // ∂x = gain dy + slope (x - mean) + offset.
        let slope = (-gain * inv_sigma * inv_sigma * sum_dy_centred / count) as f32;
        let offset = (-gain * sum_dy / count) as f32;
        let gain = gain as f32;
        for start in rows() {
            let (row, dy) = (&x[start..][..hw], &output_grad[start..][..hw]);
            // SAFETY: as in `train_forward`, each job writes its own channel's elements.
            let dst = unsafe { std::slice::from_raw_parts_mut(dx.get().add(start), hw) };
            for ((d, &g), &v) in dst.iter_mut().zip(dy).zip(row) {
                *d = gain * g + slope * (v - centre) + offset;
            }
        }
        unsafe {
            *dgamma.get().add(channel) = (sum_dy_centred * inv_sigma) as f32;
            *dbeta.get().add(channel) = sum_dy as f32;
        }
    });
    TrainGradients { x: x_grad, gamma: gamma_grad, beta: beta_grad }
}

fn check_lengths(x: &[f32], [n, c, hw]: Dims, gamma: &[f32]) {
    assert_eq!(x.len(), n * c * hw, "input length does not match its dimensions");
    assert_eq!(gamma.len(), c, "one gamma per channel");
}

/// `Σ term(a[i], b[i])` over two equally long rows.
fn lane_sum(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f64 {
    let mut lanes = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(&x, &y)| term(x, y)).sum();
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            lanes[lane] += term(ca[lane], cb[lane]);
        }
    }
    lanes.iter().map(|&s| f64::from(s)).sum::<f64>() + f64::from(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definitions, term by term in f64.
    fn reference_forward(x: &[f32], [n, c, hw]: Dims, gamma: &[f32], beta: &[f32], eps: f64) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        for ch in 0..c {
            let idx = || (0..n).flat_map(move |b| (0..hw).map(move |i| (b * c + ch) * hw + i));
            let m = (n * hw) as f64;
            let mean = idx().map(|i| f64::from(x[i])).sum::<f64>() / m;
            let var = idx().map(|i| (f64::from(x[i]) - mean).powi(2)).sum::<f64>() / m;
            for i in idx() {
                out[i] = (f64::from(x[i]) - mean) / (var + eps).sqrt() * f64::from(gamma[ch]) + f64::from(beta[ch]);
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        // A fixed, irregular sequence with a non-zero mean, so that centring matters.
        (0..len).map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 250.0 + 3.0).collect()
    }

    #[test]
    fn the_forward_matches_the_definition() {
        // 37 pixels: rows that are not a multiple of the lanes.
        let dims = [3, 4, 37];
        let x = values(3 * 4 * 37, 7);
        let (gamma, beta) = ([0.5, -1.0, 2.0, 0.0], [0.1, 0.2, -0.3, 1.0]);
        let ours = train_forward(&x, dims, &gamma, &beta, 1e-5);
        let reference = reference_forward(&x, dims, &gamma, &beta, 1e-5);
        for (o, r) in ours.output.iter().zip(&reference) {
            assert!((f64::from(*o) - r).abs() < 1e-5, "{o} vs {r}");
        }
        // Channel 3 has gamma 0: its output is beta exactly.
        assert!(ours.output[3 * 37..4 * 37].iter().all(|&v| v == 1.0));
    }

    #[test]
    fn the_gradients_match_finite_differences() {
        let dims = [2, 3, 21];
        let x = values(2 * 3 * 21, 3);
        let (gamma, beta) = ([1.5, -0.5, 0.8], [0.0, 0.3, -0.2]);
        let upstream = values(x.len(), 11).iter().map(|v| v - 4.0).collect::<Vec<_>>();
        // The loss is <upstream, output>, in f64 from the reference forward.
        let loss = |x: &[f32], gamma: &[f32], beta: &[f32]| -> f64 {
            let out = reference_forward(x, dims, gamma, beta, 1e-5);
            out.iter().zip(&upstream).map(|(o, u)| o * f64::from(*u)).sum()
        };
        let forward = train_forward(&x, dims, &gamma, &beta, 1e-5);
        let grads = train_backward(&x, dims, &gamma, &forward.mean, &forward.variance, 1e-5, &upstream);
        let h = 1e-2f32;
        let numeric = |f: &dyn Fn(f32) -> f64| (f(h) - f(-h)) / (2.0 * f64::from(h));
        for i in [0, 5, 20, 21, 40, 62, 125] {
            let d = numeric(&|e| {
                let mut x = x.clone();
                x[i] += e;
                loss(&x, &gamma, &beta)
            });
            assert!((f64::from(grads.x[i]) - d).abs() < 2e-3 * (1.0 + d.abs()), "x[{i}]: {} vs {d}", grads.x[i]);
        }
        for ch in 0..3 {
            let dg = numeric(&|e| {
                let mut g = gamma;
                g[ch] += e;
                loss(&x, &g, &beta)
            });
            let db = numeric(&|e| {
                let mut b = beta;
                b[ch] += e;
                loss(&x, &gamma, &b)
            });
            assert!((f64::from(grads.gamma[ch]) - dg).abs() < 2e-3 * (1.0 + dg.abs()), "gamma[{ch}]");
            assert!((f64::from(grads.beta[ch]) - db).abs() < 2e-3 * (1.0 + db.abs()), "beta[{ch}]");
        }
    }
}
