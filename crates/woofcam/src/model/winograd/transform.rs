//! The transforms of an [`Algorithm`]: input tiles (`B^T d B`), filters (`G g G^T`),
//! products back to outputs (`A^T m A`) and, for the filters' gradient, the output
//! gradient's tiles (`A g A^T`) and the fold back to 3x3 (`G^T dU G`).
//!
//! Tiles are transformed [`CHUNK`] at a time, across the whole batch: each tile's window is
//! first gathered into `[pixel of the window][tile]` vectors, and the matrices then combine
//! whole vectors element-wise, in SIMD lanes. (Rows of tiles would be too short: a 128 px
//! training photo's last stage is a single F(4x4) tile wide.)

use super::algorithm::Algorithm;
use super::{Dims, Filters, Grid, LANES, Products, SharedMut};

/// Tiles transformed together: long enough vectors for SIMD, and few enough that a chunk's
/// windows (at most 36 values a tile) stay in the first-level cache.
const CHUNK: usize = 64;

/// Input channels whose filters [`filters`] transforms together: with [`LANES`] output
/// channels, vectors of 256 values.
const FILTER_CHUNK: usize = 16;

/// `out = Σ weights[k] rows[k]`, element-wise, in one pass over `out` for up to four
/// nonzero weights (the matrices' rows have at most five). Zero weights are skipped: the
/// matrices are sparse, and IEEE arithmetic does not let the compiler drop `0 * x` itself.
fn combine<const K: usize>(weights: &[f32; K], rows: [&[f32]; K], out: &mut [f32]) {
    let len = out.len();
    let mut terms = [(0.0f32, &[][..]); K];
    let mut count = 0;
    for (&weight, row) in weights.iter().zip(rows) {
        if weight != 0.0 {
            terms[count] = (weight, &row[..len]);
            count += 1;
        }
    }
    let rest = match &terms[..count] {
        [] => {
            out.fill(0.0);
            return;
        }
        [(a, x)] => {
            out.iter_mut().zip(*x).for_each(|(o, x)| *o = a * x);
            return;
        }
        [(a, x), (b, y)] => {
            out.iter_mut().zip(*x).zip(*y).for_each(|((o, x), y)| *o = a * x + b * y);
            return;
        }
        [(a, x), (b, y), (c, z)] => {
            out.iter_mut().zip(*x).zip(*y).zip(*z).for_each(|(((o, x), y), z)| *o = a * x + b * y + c * z);
            return;
        }
        [(a, x), (b, y), (c, z), (d, v), rest @ ..] => {
            let terms = out.iter_mut().zip(*x).zip(*y).zip(*z).zip(*v);
            terms.for_each(|((((o, x), y), z), v)| *o = a * x + b * y + c * z + d * v);
            rest
        }
    };
    for (weight, row) in rest {
        out.iter_mut().zip(*row).for_each(|(o, r)| *o += weight * r);
    }
}

/// `X Y^T` for `x` (`rows x K`, elements `len`-long vectors, `[row][column][lane]`) and `y`
/// (`R x K`, numbers), written into `out` (`rows x R`, laid out as `x`): the right-hand
/// factor of a two-sided transform, `(L d) R^T`.
fn times_transpose<const K: usize, const R: usize>(x: &[f32], y: &[[f32; K]; R], len: usize, out: &mut [f32]) {
    for (row, out) in x.chunks_exact(K * len).zip(out.chunks_exact_mut(R * len)) {
        let columns = std::array::from_fn(|k| &row[k * len..][..len]);
        for (weights, out) in y.iter().zip(out.chunks_exact_mut(len)) {
            combine(weights, columns, out);
        }
    }
}

/// `Y X` for `y` (`R x K`, numbers) and `x` (`K x columns`, elements `len`-long vectors,
/// `[row][column][lane]`), written into `out` (`R x columns`, laid out as `x`).
fn left_times<const K: usize, const R: usize>(
    y: &[[f32; K]; R],
    x: &[f32],
    columns: usize,
    len: usize,
    out: &mut [f32],
) {
    for (weights, out) in y.iter().zip(out.chunks_exact_mut(columns * len)) {
        for (c, out) in out.chunks_exact_mut(len).enumerate() {
            combine(weights, std::array::from_fn(|k| &x[(k * columns + c) * len..][..len]), out);
        }
    }
}

/// Where the tiles `first..first + len` of `grid` read their windows: `S x S` pixels per
/// tile, tiles `m` apart, starting `offset` pixels before the tile's first output, from
/// each photo's `[h, w]` plane (`plane(b)`), zeros outside it. Written as
/// `[pixel of the window][tile]` into `out` (`S * S * len`).
#[allow(clippy::too_many_arguments)]
fn gather<'a, const S: usize>(
    grid: &Grid,
    m: usize,
    plane: impl Fn(usize) -> &'a [f32],
    [h, w]: [usize; 2],
    offset: usize,
    first: usize,
    len: usize,
    out: &mut [f32],
) {
    let mut k = 0;
    while k < len {
        // Tiles k..k + run are tiles tx0.. of one row of tiles.
        let [b, ty, tx0] = grid.position(first + k);
        let run = (grid.tiles_w - tx0).min(len - k);
        let plane = plane(b);
        for i in 0..S {
            let y = (m * ty + i) as isize - offset as isize;
            let row = (y >= 0 && (y as usize) < h).then(|| &plane[y as usize * w..][..w]);
            for j in 0..S {
                let out = &mut out[(i * S + j) * len + k..][..run];
                let Some(row) = row else {
                    out.fill(0.0);
                    continue;
                };
                // Tile t reads column m t + j - offset: inside the row for t in lo..hi.
                let lo = offset.saturating_sub(j).div_ceil(m).saturating_sub(tx0).min(run);
                let hi = (w + offset).saturating_sub(j).div_ceil(m).saturating_sub(tx0).clamp(lo, run);
                out[..lo].fill(0.0);
                out[hi..].fill(0.0);
                if lo < hi {
                    let start = m * (tx0 + lo) + j - offset;
                    out[lo..hi].iter_mut().zip(row[start..].iter().step_by(m)).for_each(|(o, &v)| *o = v);
                }
            }
        }
        k += run;
    }
}

/// `B^T d B` for every `T x T` input tile `d` of input channel `ci` (zeros past the padded
/// input), written as `[position][tile]`.
pub(super) fn input<const M: usize, const T: usize>(
    algorithm: &Algorithm<M, T>,
    x: &[f32],
    [_, c_in, h, w]: Dims,
    ci: usize,
    padding: usize,
    grid: &Grid,
    out: &mut [f32],
) {
    let plane = |b: usize| &x[(b * c_in + ci) * h * w..][..h * w];
    let windows = |first, len, d: &mut [f32]| gather::<T>(grid, M, plane, [h, w], padding, first, len, d);
    two_sided(&algorithm.bt, grid, windows, out);
}

/// `L d L^T` for every window `d` (`K x K`) that `windows(first, len, d)` writes for the
/// tiles `first..first + len` (by [`gather`]), written as `[position][tile]` (`R x R`
/// positions): the input's transform and the gradient's.
fn two_sided<const K: usize, const R: usize>(
    l: &[[f32; K]; R],
    grid: &Grid,
    mut windows: impl FnMut(usize, usize, &mut [f32]),
    out: &mut [f32],
) {
    let tiles = grid.len();
    let (mut d, mut ld) = (vec![0.0f32; K * K * CHUNK], vec![0.0f32; R * K * CHUNK]);
    for first in (0..tiles).step_by(CHUNK) {
        let len = CHUNK.min(tiles - first);
        let (d, ld) = (&mut d[..K * K * len], &mut ld[..R * K * len]);
        windows(first, len, d);
        left_times(l, d, K, len, ld);
        for (i, row) in ld.chunks_exact(K * len).enumerate() {
            let columns = std::array::from_fn(|j| &row[j * len..][..len]);
            for (j, weights) in l.iter().enumerate() {
                combine(weights, columns, &mut out[(R * i + j) * tiles + first..][..len]);
            }
        }
    }
}

/// `A^T m A` for every tile of output channel `co`, written into that channel's output
/// planes of `out` (`[n, c_out, out_h, out_w]`); pixels of tiles that hang over the edge
/// are dropped.
///
/// # Safety
/// `out` must address the whole output, and nothing else may touch channel `co`'s planes
/// meanwhile.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn output<const M: usize, const T: usize>(
    algorithm: &Algorithm<M, T>,
    m: &[f32],
    products: Products,
    c_out: usize,
    co: usize,
    grid: &Grid,
    [out_h, out_w]: [usize; 2],
    out: SharedMut,
) {
    let tiles = grid.len();
    let (mut atm, mut y) = (vec![0.0f32; M * T * CHUNK], vec![0.0f32; M * M * CHUNK]);
    for first in (0..tiles).step_by(CHUNK) {
        let len = CHUNK.min(tiles - first);
        let (atm, y) = (&mut atm[..M * T * len], &mut y[..M * M * len]);
        for (weights, row) in algorithm.at.iter().zip(atm.chunks_exact_mut(T * len)) {
            for (j, out) in row.chunks_exact_mut(len).enumerate() {
                let at = |k: usize| &m[co * products.channel + (T * k + j) * products.position + first..][..len];
                combine(weights, std::array::from_fn(at), out);
            }
        }
        times_transpose(atm, &algorithm.at, len, y);
        let mut k = 0;
        while k < len {
            // Tiles k..k + run are tiles tx0.. of one row of tiles.
            let [b, ty, tx0] = grid.position(first + k);
            let run = (grid.tiles_w - tx0).min(len - k);
            let plane = (b * c_out + co) * out_h * out_w;
            for i in 0..M.min(out_h - M * ty) {
                // SAFETY: the row is inside channel co's plane b, which this call alone touches.
                let row = unsafe { std::slice::from_raw_parts_mut(out.get().add(plane + (M * ty + i) * out_w), out_w) };
                for j in 0..M {
                    // Tile t writes column M t + j: inside the row for t below hi.
                    let hi = out_w.saturating_sub(j).div_ceil(M).saturating_sub(tx0).min(run);
                    if hi > 0 {
                        let values = &y[(i * M + j) * len + k..][..hi];
                        row[M * tx0 + j..].iter_mut().step_by(M).zip(values).for_each(|(o, &v)| *o = v);
                    }
                }
            }
            k += run;
        }
    }
}

/// `A g A^T` for every `M x M` tile `g` of output channel `co`'s gradient (zeros past the
/// edge), written as `[position][tile]`: the adjoint of [`output`].
pub(super) fn gradient<const M: usize, const T: usize>(
    algorithm: &Algorithm<M, T>,
    grad: &[f32],
    c_out: usize,
    co: usize,
    grid: &Grid,
    [out_h, out_w]: [usize; 2],
    out: &mut [f32],
) {
    let plane = |b: usize| &grad[(b * c_out + co) * out_h * out_w..][..out_h * out_w];
    let windows = |first, len, g: &mut [f32]| gather::<M>(grid, M, plane, [out_h, out_w], 0, first, len, g);
    two_sided(&algorithm.a(), grid, windows, out);
}

/// `G g G^T` for every filter `g` from an input channel to the output channels `co` (at
/// most [`LANES`]), written as `[position][c_in][LANES]`.
pub(super) fn filters<const M: usize, const T: usize>(
    algorithm: &Algorithm<M, T>,
    weight: &[f32],
    filters: Filters,
    [c_out, c_in]: [usize; 2],
    co: std::ops::Range<usize>,
    u: &mut [f32],
) {
    debug_assert!(co.len() <= LANES);
    // [tap][input channel][lane], FILTER_CHUNK input channels at a time: the arithmetic
    // runs across their filters in SIMD lanes, and each position's result is a run of `u`.
    // (Lanes past the last output channel may hold stale values; no GEMM reads those rows.)
    let mut g = vec![0.0f32; 9 * FILTER_CHUNK * LANES];
    let mut gg = vec![0.0f32; T * 3 * FILTER_CHUNK * LANES]; // G g
    let mut ggg = vec![0.0f32; T * T * FILTER_CHUNK * LANES]; // G g G^T
    for first in (0..c_in).step_by(FILTER_CHUNK) {
        let channels = FILTER_CHUNK.min(c_in - first);
        let len = channels * LANES;
        let (g, gg, ggg) = (&mut g[..9 * len], &mut gg[..T * 3 * len], &mut ggg[..T * T * len]);
        for (c, ci) in (first..first + channels).enumerate() {
            for (lane, o) in co.clone().enumerate() {
                let at = |tap: usize| tap * len + c * LANES + lane;
                match filters {
                    Filters::AsGiven => {
                        let taps = &weight[(o * c_in + ci) * 9..][..9];
                        taps.iter().enumerate().for_each(|(tap, &value)| g[at(tap)] = value);
                    }
                    Filters::Transposed => {
                        // Rotated by 180 degrees: a row-major 3x3 filter read backwards.
                        let taps = &weight[(ci * c_out + o) * 9..][..9];
                        taps.iter().rev().enumerate().for_each(|(tap, &value)| g[at(tap)] = value);
                    }
                }
            }
        }
        left_times(&algorithm.g, g, 3, len, gg);
        times_transpose(gg, &algorithm.g, len, ggg);
        for (position, values) in ggg.chunks_exact(len).enumerate() {
            u[(position * c_in + first) * LANES..][..len].copy_from_slice(values);
        }
    }
}

/// `G^T dU G` for the filters of output channel `co`: `du` is `[position][c_out][c_in]`,
/// their gradient in the transformed domain; `out` gets their 3x3 gradients, `[c_in][3][3]`.
pub(super) fn fold<const M: usize, const T: usize>(
    algorithm: &Algorithm<M, T>,
    du: &[f32],
    [c_out, c_in]: [usize; 2],
    co: usize,
    out: &mut [f32],
) {
    let gt: [[f32; T]; 3] = std::array::from_fn(|a| std::array::from_fn(|i| algorithm.g[i][a]));
    // [position][input channel], FILTER_CHUNK * LANES input channels at a time, in SIMD lanes.
    let chunk = FILTER_CHUNK * LANES;
    let (mut d, mut gtd, mut f) = (vec![0.0f32; T * T * chunk], vec![0.0f32; 3 * T * chunk], vec![0.0f32; 9 * chunk]);
    for first in (0..c_in).step_by(chunk) {
        let len = chunk.min(c_in - first);
        let (d, gtd, f) = (&mut d[..T * T * len], &mut gtd[..3 * T * len], &mut f[..9 * len]);
        for (position, values) in d.chunks_exact_mut(len).enumerate() {
            values.copy_from_slice(&du[(position * c_out + co) * c_in + first..][..len]);
        }
        left_times(&gt, d, T, len, gtd);
        // (G^T dU) G = (G^T dU) (G^T)^T.
        times_transpose(gtd, &gt, len, f);
        for (c, filter) in out[first * 9..][..len * 9].chunks_exact_mut(9).enumerate() {
            filter.iter_mut().enumerate().for_each(|(tap, value)| *value = f[tap * len + c]);
        }
    }
}
