//! The filters' gradient of a convolution by im2col and one matrix product per photo, on
//! the CPU: for the ResNet's convolutions that the Winograd kernel does not take (the 7x7
//! stem and the strided 3x3 and 1x1 ones, all stride 2).
//!
//! Why: Burn's CPU backend gets this gradient as a convolution of the input by the output
//! gradient (channels and batch swapped, the stride as a dilation), whose unfolded operand
//! has a row per output pixel of the *whole* gradient: for the stem at batch 32 and 128 px,
//! 77 MB written and read again per step, a tenth of a training step. Unfolding one photo at
//! a time (2.4 MB for the stem) keeps it in cache and the product's inner dimension is that
//! photo's output pixels.

use super::matmul::{Strided, add_product};
use super::parallel::sum_over;

/// A square convolution's window: `kernel x kernel`, `stride` and `padding` zeros on every
/// side (no dilation, no groups).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Window {
    /// The output's `[height, width]` for an `[h, w]` input (0 where no window fits).
    pub fn output_size(&self, [h, w]: [usize; 2]) -> [usize; 2] {
        let size = |side: usize| (side + 2 * self.padding).checked_sub(self.kernel).map_or(0, |s| s / self.stride + 1);
        [size(h), size(w)]
    }
}

/// The gradient `[c_out, c_in, kernel, kernel]` of the convolution of `x` (`[n, c_in, h, w]`)
/// through `window` for the gradient `grad` (`[n, c_out, out_h, out_w]`) at its output:
/// `Σ over photos of grad_b (c_out x pixels) times unfold(x_b)^T (pixels x c_in k k)`.
pub fn filter_gradient(x: &[f32], [n, c_in, h, w]: [usize; 4], grad: &[f32], c_out: usize, window: Window) -> Vec<f32> {
    assert_eq!(x.len(), n * c_in * h * w, "input length does not match its dimensions");
    let [out_h, out_w] = window.output_size([h, w]);
    let pixels = out_h * out_w;
    assert_eq!(grad.len(), n * c_out * pixels, "gradient length does not match the output's");
    let taps = c_in * window.kernel * window.kernel;
    sum_over(n, c_out * taps, taps * pixels, |b, columns, sum| {
        unfold(&x[b * c_in * h * w..][..c_in * h * w], [c_in, h, w], window, [out_h, out_w], columns);
        // SAFETY: `sum` is [c_out, taps] and this job's alone; the photo's gradient is
        // [c_out, pixels] and `columns` [taps, pixels], read as its transpose [pixels, taps].
        unsafe {
            add_product(
                [c_out, pixels, taps],
                Strided::new(sum.as_mut_ptr(), taps, 1),
                Strided::new(grad[b * c_out * pixels..].as_ptr(), pixels, 1),
                Strided::new(columns.as_ptr(), 1, pixels),
            );
        }
    })
}

/// im2col: row `(ci, ky, kx)` of `columns` (`[c_in k k, out_h out_w]`) holds, for each output
/// pixel, the input value under tap `(ky, kx)` of its window in channel `ci` (0 in the padding).
fn unfold(image: &[f32], [c_in, h, w]: [usize; 3], window: Window, [out_h, out_w]: [usize; 2], columns: &mut [f32]) {
    let Window { kernel, stride, padding } = window;
    let mut rows = columns.chunks_exact_mut(out_h * out_w);
    for ci in 0..c_in {
        let plane = &image[ci * h * w..][..h * w];
        for ky in 0..kernel {
            for kx in 0..kernel {
                let row = rows.next().expect("one row per tap");
                for (oy, out) in row.chunks_exact_mut(out_w).enumerate() {
                    let y = (oy * stride + ky).wrapping_sub(padding);
                    if y >= h {
                        out.fill(0.0);
                        continue;
                    }
                    let line = &plane[y * w..][..w];
                    for (ox, value) in out.iter_mut().enumerate() {
                        let x = (ox * stride + kx).wrapping_sub(padding);
                        *value = if x < w { line[x] } else { 0.0 };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradient by its definition: Σ over photos, output pixels and taps of grad x input.
    fn reference(x: &[f32], [n, c_in, h, w]: [usize; 4], grad: &[f32], c_out: usize, window: Window) -> Vec<f64> {
        let Window { kernel, stride, padding } = window;
        let [out_h, out_w] = window.output_size([h, w]);
        let mut dw = vec![0.0f64; c_out * c_in * kernel * kernel];
        for b in 0..n {
            for co in 0..c_out {
                for oy in 0..out_h {
                    for ox in 0..out_w {
                        let g = f64::from(grad[((b * c_out + co) * out_h + oy) * out_w + ox]);
                        for ci in 0..c_in {
                            for ky in 0..kernel {
                                for kx in 0..kernel {
                                    let (y, x_) = (
                                        (oy * stride + ky) as isize - padding as isize,
                                        (ox * stride + kx) as isize - padding as isize,
                                    );
                                    if y < 0 || x_ < 0 || y >= h as isize || x_ >= w as isize {
                                        continue;
                                    }
                                    let v = f64::from(x[((b * c_in + ci) * h + y as usize) * w + x_ as usize]);
                                    dw[((co * c_in + ci) * kernel + ky) * kernel + kx] += g * v;
                                }
                            }
                        }
                    }
                }
            }
        }
        dw
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 7919 + seed * 104729) % 211) as f32 / 105.0 - 1.0).collect()
    }

    #[test]
    fn equals_the_definition_for_the_resnets_windows() {
        // The stem's 7x7 (odd input: the last window hangs over), a strided 3x3, a 1x1.
        let cases = [
            ([2, 3, 13, 11], 4, Window { kernel: 7, stride: 2, padding: 3 }),
            ([3, 5, 8, 9], 6, Window { kernel: 3, stride: 2, padding: 1 }),
            ([2, 4, 6, 6], 3, Window { kernel: 1, stride: 2, padding: 0 }),
            ([1, 2, 5, 5], 2, Window { kernel: 3, stride: 1, padding: 1 }),
        ];
        for (dims, c_out, window) in cases {
            let [n, c_in, h, w] = dims;
            let [out_h, out_w] = window.output_size([h, w]);
            let x = values(n * c_in * h * w, 1);
            let grad = values(n * c_out * out_h * out_w, 2);
            let ours = filter_gradient(&x, dims, &grad, c_out, window);
            let reference = reference(&x, dims, &grad, c_out, window);
            assert_eq!(ours.len(), reference.len());
            for (o, r) in ours.iter().zip(&reference) {
                assert!((f64::from(*o) - r).abs() < 1e-4 * (1.0 + r.abs()), "{window:?}: {o} vs {r}");
            }
        }
    }

    #[test]
    fn output_size_is_pytorchs() {
        let stem = Window { kernel: 7, stride: 2, padding: 3 };
        assert_eq!(stem.output_size([224, 224]), [112, 112]);
        assert_eq!(stem.output_size([13, 11]), [7, 6]);
        assert_eq!(Window { kernel: 1, stride: 2, padding: 0 }.output_size([7, 8]), [4, 4]);
        assert_eq!(Window { kernel: 3, stride: 1, padding: 0 }.output_size([2, 2]), [0, 0]);
    }
}
