//! 3x3 convolution by Winograd's minimal filtering algorithm F(2x2, 3x3) (Lavin & Gray,
//! "Fast Algorithms for Convolutional Neural Networks", CVPR 2016), on the CPU.
//!
//! Why: nearly all of ResNet34's arithmetic is in its 3x3 stride-1 convolutions, and Burn's
//! CPU backend runs them as im2col + GEMM, 36 multiply-adds per 2x2 block of outputs and
//! input channel. Winograd's form needs 16: the input is cut into overlapping 4x4 tiles
//! (stride 2), each tile and each 3x3 filter is transformed into 16 numbers, and the
//! convolution becomes 16 independent GEMMs (output channels x input channels x tiles), one
//! per transformed position; the output transform folds each tile's 16 results back into
//! its 2x2 outputs. The GEMMs are the `gemm` crate's, the kernels Burn's CPU backend uses.
//!
//! The transforms are exact in real arithmetic (only sums and halvings); in f32 they add
//! rounding of the order of 1e-7 relative to the largest output, far inside the 1e-4 the
//! comparisons with PyTorch allow.

use std::cell::RefCell;

use gemm::{Parallelism, gemm};

/// `[batch, channels, height, width]` of a row-major (NCHW) tensor.
pub type Dims = [usize; 4];

/// Transformed values per tile and per filter: a 4x4 tile.
const POSITIONS: usize = 16;

/// How the filters of a [`conv3x3`] are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filters {
    /// `[c_out, c_in, 3, 3]`, as a convolution's weight.
    AsGiven,
    /// The weight `[c_in, c_out, 3, 3]` of the convolution whose input gradient this is: the
    /// filters are used rotated by 180 degrees, with input and output channels swapped.
    Transposed,
}

thread_local! {
    /// Working memory kept between calls: the transformed input and products take several
    /// times the input's size, and fresh allocations that large come from the system one
    /// zeroed page at a time (page faults took a tenth of the time).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A 3x3 convolution (cross-correlation, as PyTorch's `conv2d`) with stride 1, no bias and
/// `padding` zeros on every side. `x` is `[n, c_in, h, w]` and `weight` holds `c_out x c_in`
/// filters laid out as `filters` says; the result is
/// `[n, c_out, h + 2 padding - 2, w + 2 padding - 2]` (empty when that is not positive).
pub fn conv3x3(x: &[f32], dims: Dims, weight: &[f32], filters: Filters, c_out: usize, padding: usize) -> Vec<f32> {
    let [n, c_in, h, w] = dims;
    assert_eq!(x.len(), n * c_in * h * w, "input length does not match its dimensions");
    assert_eq!(weight.len(), c_out * c_in * 9, "weight does not hold c_out x c_in 3x3 filters");
    let (out_h, out_w) = ((h + 2 * padding).saturating_sub(2), (w + 2 * padding).saturating_sub(2));
    if n * c_out * out_h * out_w == 0 {
        return Vec::new();
    }
    let grid = Grid { n, tiles_h: out_h.div_ceil(2), tiles_w: out_w.div_ceil(2) };
    let tiles = grid.len();

    // u: [c_out][c_in][position]; v: [c_in][position][tile]; m: [position][c_out][tile].
    // Every element of the three is written before it is read, so the scratch needs no zeroing.
    let mut scratch = SCRATCH.take();
    let (u_len, v_len, m_len) = (c_out * c_in * POSITIONS, c_in * POSITIONS * tiles, POSITIONS * c_out * tiles);
    if scratch.len() < u_len + v_len + m_len {
        scratch.resize(u_len + v_len + m_len, 0.0);
    }
    let (u, rest) = scratch.split_at_mut(u_len);
    let (v, rest) = rest.split_at_mut(v_len);
    let m = &mut rest[..m_len];
    for_each_chunk(u, c_in * POSITIONS, |co, chunk| {
        transform_filters(weight, filters, co, [c_out, c_in], chunk);
    });
    for_each_chunk(v, POSITIONS * tiles, |ci, chunk| {
        transform_input(x, dims, ci, padding, &grid, chunk);
    });
    let (u, v) = (&*u, &*v);
    for_each_chunk(m, c_out * tiles, |position, chunk| {
        // SAFETY: the strides below address `chunk` ([c_out, tiles]), `u`'s filters at this
        // position ([c_out, c_in], strides 16 c_in and 16) and `v`'s tiles at this position
        // ([c_in, tiles], strides 16 tiles and 1), all within their slices.
        unsafe {
            gemm(
                c_out,
                tiles,
                c_in,
                chunk.as_mut_ptr(),
                1,
                tiles as isize,
                false,
                u.as_ptr().add(position),
                POSITIONS as isize,
                (c_in * POSITIONS) as isize,
                v.as_ptr().add(position * tiles),
                1,
                (POSITIONS * tiles) as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                // The 16 GEMMs already run in parallel.
                Parallelism::None,
            );
        }
    });
    let m = &*m;
    let mut out = vec![0.0f32; n * c_out * out_h * out_w];
    for_each_chunk(&mut out, out_h * out_w, |plane, chunk| {
        transform_output(m, c_out, plane, &grid, [out_h, out_w], chunk);
    });
    SCRATCH.set(scratch);
    out
}

/// The tiles of the output: one per 2x2 block, over the batch.
struct Grid {
    n: usize,
    tiles_h: usize,
    tiles_w: usize,
}

impl Grid {
    fn len(&self) -> usize {
        self.n * self.tiles_h * self.tiles_w
    }

    fn index(&self, b: usize, ty: usize, tx: usize) -> usize {
        (b * self.tiles_h + ty) * self.tiles_w + tx
    }
}

/// `G g G^T` for every filter `g` of output channel `co`, written as `[c_in][position]`.
/// `G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]`.
fn transform_filters(weight: &[f32], filters: Filters, co: usize, [c_out, c_in]: [usize; 2], out: &mut [f32]) {
    for (ci, u) in out.chunks_exact_mut(POSITIONS).enumerate() {
        let g: [f32; 9] = match filters {
            Filters::AsGiven => weight[(co * c_in + ci) * 9..][..9].try_into().expect("nine values"),
            Filters::Transposed => {
                let mut g: [f32; 9] = weight[(ci * c_out + co) * 9..][..9].try_into().expect("nine values");
                g.reverse(); // a 180-degree rotation of a row-major 3x3 filter
                g
            }
        };
        let mut gg = [[0.0f32; 3]; 4]; // G g
        for j in 0..3 {
            let (a, b, c) = (g[j], g[3 + j], g[6 + j]);
            gg[0][j] = a;
            gg[1][j] = 0.5 * (a + b + c);
            gg[2][j] = 0.5 * (a - b + c);
            gg[3][j] = c;
        }
        for (i, [a, b, c]) in gg.into_iter().enumerate() {
            u[4 * i..4 * i + 4].copy_from_slice(&[a, 0.5 * (a + b + c), 0.5 * (a - b + c), c]);
        }
    }
}

/// `B^T d B` for every 4x4 input tile `d` of input channel `ci`, written as
/// `[position][tile]`. `B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`.
fn transform_input(x: &[f32], [_, c_in, h, w]: Dims, ci: usize, padding: usize, grid: &Grid, out: &mut [f32]) {
    let tiles = grid.len();
    for b in 0..grid.n {
        let plane = &x[(b * c_in + ci) * h * w..][..h * w];
        for ty in 0..grid.tiles_h {
            for tx in 0..grid.tiles_w {
                let d =
                    read_tile(plane, [h, w], 2 * ty as isize - padding as isize, 2 * tx as isize - padding as isize);
                let mut bd = [[0.0f32; 4]; 4]; // B^T d
                for j in 0..4 {
                    bd[0][j] = d[0][j] - d[2][j];
                    bd[1][j] = d[1][j] + d[2][j];
                    bd[2][j] = d[2][j] - d[1][j];
                    bd[3][j] = d[1][j] - d[3][j];
                }
                let t = grid.index(b, ty, tx);
                for (i, [p, q, r, s]) in bd.into_iter().enumerate() {
                    for (j, value) in [p - r, q + r, r - q, q - s].into_iter().enumerate() {
                        out[(4 * i + j) * tiles + t] = value;
                    }
                }
            }
        }
    }
}

/// The 4x4 tile of `plane` whose top-left corner is at (`top`, `left`); zeros outside.
fn read_tile(plane: &[f32], [h, w]: [usize; 2], top: isize, left: isize) -> [[f32; 4]; 4] {
    let mut d = [[0.0f32; 4]; 4];
    let inside = top >= 0 && left >= 0 && top as usize + 4 <= h && left as usize + 4 <= w;
    if inside {
        let (top, left) = (top as usize, left as usize);
        for (i, row) in d.iter_mut().enumerate() {
            row.copy_from_slice(&plane[(top + i) * w + left..][..4]);
        }
    } else {
        for (i, row) in d.iter_mut().enumerate() {
            let y = top + i as isize;
            if y < 0 || y >= h as isize {
                continue;
            }
            for (j, value) in row.iter_mut().enumerate() {
                let x = left + j as isize;
                if x >= 0 && x < w as isize {
                    *value = plane[y as usize * w + x as usize];
                }
            }
        }
    }
    d
}

/// `A^T m A` for every tile of output plane `plane` (`b * c_out + co`), written into that
/// plane. `A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]`.
fn transform_output(m: &[f32], c_out: usize, plane: usize, grid: &Grid, [out_h, out_w]: [usize; 2], out: &mut [f32]) {
    let (b, co) = (plane / c_out, plane % c_out);
    let tiles = grid.len();
    for ty in 0..grid.tiles_h {
        for tx in 0..grid.tiles_w {
            let t = grid.index(b, ty, tx);
            let at = |position: usize| m[(position * c_out + co) * tiles + t];
            let am: [[f32; 4]; 2] = [
                std::array::from_fn(|j| at(j) + at(4 + j) + at(8 + j)),
                std::array::from_fn(|j| at(4 + j) - at(8 + j) - at(12 + j)),
            ]; // A^T m
            for (i, [p, q, r, s]) in am.into_iter().enumerate() {
                let y = 2 * ty + i;
                if y >= out_h {
                    continue;
                }
                for (j, value) in [p + q + r, q - r - s].into_iter().enumerate() {
                    let x = 2 * tx + j;
                    if x < out_w {
                        out[y * out_w + x] = value;
                    }
                }
            }
        }
    }
}

/// Runs `job(index, chunk)` over `data` cut into `size`-long chunks: on all cores natively,
/// in turn in the browser (wasm has no threads there).
fn for_each_chunk(data: &mut [f32], size: usize, job: impl Fn(usize, &mut [f32]) + Send + Sync) {
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(size).enumerate().for_each(|(index, chunk)| job(index, chunk));
    }
    #[cfg(target_family = "wasm")]
    data.chunks_mut(size).enumerate().for_each(|(index, chunk)| job(index, chunk));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, term by term.
    fn direct(x: &[f32], [n, c_in, h, w]: Dims, weight: &[f32], c_out: usize, padding: usize) -> Vec<f32> {
        assert!(h + 2 * padding >= 3 && w + 2 * padding >= 3);
        let (out_h, out_w) = (h + 2 * padding - 2, w + 2 * padding - 2);
        let mut out = vec![0.0f32; n * c_out * out_h * out_w];
        for b in 0..n {
            for co in 0..c_out {
                for y in 0..out_h {
                    for x_ in 0..out_w {
                        let mut sum = 0.0f64;
                        for ci in 0..c_in {
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    let (iy, ix) =
                                        ((y + ky) as isize - padding as isize, (x_ + kx) as isize - padding as isize);
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let input = x[((b * c_in + ci) * h + iy as usize) * w + ix as usize];
                                    sum += (weight[((co * c_in + ci) * 3 + ky) * 3 + kx] * input) as f64;
                                }
                            }
                        }
                        out[((b * c_out + co) * out_h + y) * out_w + x_] = sum as f32;
                    }
                }
            }
        }
        out
    }

    /// Deterministic values in [-1, 1) (a linear congruential sequence).
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn check(dims: Dims, c_out: usize, padding: usize) {
        let [n, c_in, h, w] = dims;
        let x = values(n * c_in * h * w, 1);
        let weight = values(c_out * c_in * 9, 2);
        let expected = direct(&x, dims, &weight, c_out, padding);
        let actual = conv3x3(&x, dims, &weight, Filters::AsGiven, c_out, padding);
        assert_eq!(actual.len(), expected.len());
        let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
            assert!((a - e).abs() <= 1e-6 * scale.max(1.0), "{dims:?} p{padding} at {i}: {a} vs {e}");
        }
    }

    #[test]
    fn equals_the_direct_convolution_with_padding_one() {
        check([1, 3, 8, 8], 4, 1);
        check([2, 5, 7, 9], 3, 1); // odd sizes: the last tiles hang over the edge
        check([1, 64, 14, 14], 32, 1);
    }

    #[test]
    fn equals_the_direct_convolution_without_padding() {
        check([1, 2, 6, 5], 3, 0);
        check([3, 4, 3, 3], 2, 0); // a single output pixel
    }

    #[test]
    fn handles_inputs_smaller_than_a_tile() {
        check([1, 3, 1, 1], 2, 1);
        check([2, 2, 2, 1], 3, 1);
    }

    #[test]
    fn an_output_with_no_pixels_is_empty() {
        assert!(conv3x3(&[0.0; 4], [1, 1, 2, 2], &[0.0; 9], Filters::AsGiven, 1, 0).is_empty());
    }

    #[test]
    fn transposed_filters_are_rotated_with_channels_swapped() {
        let (c_in, c_out, dims) = (3, 2, [1, 3, 5, 4]);
        let x = values(dims.iter().product(), 3);
        // `weight` as stored, [c_in, c_out, 3, 3]; `explicit` the filters it stands for.
        let weight = values(c_in * c_out * 9, 4);
        let mut explicit = vec![0.0f32; c_out * c_in * 9];
        for co in 0..c_out {
            for ci in 0..c_in {
                for k in 0..9 {
                    explicit[(co * c_in + ci) * 9 + k] = weight[(ci * c_out + co) * 9 + 8 - k];
                }
            }
        }
        let expected = direct(&x, dims, &explicit, c_out, 1);
        let actual = conv3x3(&x, dims, &weight, Filters::Transposed, c_out, 1);
        for (a, e) in actual.iter().zip(&expected) {
            assert!((a - e).abs() < 1e-5, "{a} vs {e}");
        }
    }
}
