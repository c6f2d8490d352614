//! 3x3 convolution by Winograd's minimal filtering algorithms F(2x2, 3x3) and F(4x4, 3x3)
//! (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016), on the CPU.
//!
//! Why: nearly all of ResNet34's arithmetic is in its 3x3 stride-1 convolutions, and Burn's
//! CPU backend runs them as im2col + GEMM, 9 multiply-adds per output and input channel.
//! Winograd's form needs 4 (F(2x2)) or 2.25 (F(4x4)): the input is cut into overlapping
//! tiles, each tile and each 3x3 filter is transformed ([`transform`]), and the convolution
//! becomes independent GEMMs (output channels x input channels x tiles), one per transformed
//! position; the output transform folds each tile's results back into its outputs. The
//! GEMMs are the `gemm` crate's, the kernels Burn's CPU backend uses.
//!
//! F(4x4) has fewer multiplications and smaller transformed tiles, but 36 transformed values
//! per filter against 16: a convolution with many tiles (a training batch, a photo's first
//! stages) runs it, one with few tiles and many filters (a photo's last stages) F(2x2).

mod algorithm;
mod transform;

use std::cell::RefCell;

use algorithm::{Algorithm, F2, F4};

use super::im2col::Window;
use super::matmul::{Strided, product};
use super::parallel::{SharedMut, for_each_chunk, for_each_index};

/// `[batch, channels, height, width]` of a row-major (NCHW) tensor.
pub type Dims = [usize; 4];

/// Filters transformed together in SIMD lanes, and the output channels of a block
/// ([`Layout::Blocks`]): the row count of the `gemm` crate's f32 micro-kernel on x86 (AVX2).
const LANES: usize = 16;

/// F(4x4) tiles from which a convolution, or its filters' gradient, runs F(4x4) rather than
/// F(2x2): with fewer, its 36 transformed values per filter (against 16) cost more than its
/// fewer and smaller tiles save. Measured here, per ResNet34 layer, F(2x2) / F(4x4) in ms
/// (each in its better layout): one 224 px photo's 56x56x64 (196 tiles) 1.36 / 1.21,
/// 14x14x256 (16) 1.71 / 1.67, 7x7x512 (4) 2.86 / 5.14; a batch of 32 at 128 px, 32x32x64
/// (2048) 22.9 / 14.5 and 4x4x512 (32) 13.9 / 9.6.
const F4_MIN_TILES: usize = 32;

/// Tiles above which a convolution transforms all its filters before its GEMMs
/// ([`Layout::AllFilters`]) rather than a block at a time. Measured here (F(4x4), ms, all
/// filters first / blocks), a batch of 32 at 128 px: 2048 tiles 14.5 / 21.1, 512 9.4 / 13.5,
/// 128 8.8 / 7.8, 32 16.3 / 9.6; one 224 px photo's 196 tiles 2.15 / 1.21.
const MANY_TILES: usize = 256;

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
    /// One block's transformed filters, on each thread that transforms them.
    static FILTERS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A 3x3 convolution (cross-correlation, as PyTorch's `conv2d`) with stride 1, no bias and
/// `padding` zeros on every side. `x` is `[n, c_in, h, w]` and `weight` holds `c_out x c_in`
/// filters laid out as `filters` says; the result is
/// `[n, c_out, h + 2 padding - 2, w + 2 padding - 2]` (empty when that is not positive).
pub fn conv3x3(x: &[f32], dims: Dims, weight: &[f32], filters: Filters, c_out: usize, padding: usize) -> Vec<f32> {
    let [n, c_in, h, w] = dims;
    assert_eq!(x.len(), n * c_in * h * w, "input length does not match its dimensions");
    assert_eq!(weight.len(), c_out * c_in * 9, "weight does not hold c_out x c_in 3x3 filters");
    let output = Window { kernel: 3, stride: 1, padding }.output_size([h, w]);
    if n * c_out * output[0] * output[1] == 0 {
        return Vec::new();
    }
    if prefers_f4(n, output) {
        convolve(&F4, Layout::for_tiles(Grid::new(n, output, 4).len()), x, dims, weight, filters, c_out, padding)
    } else {
        convolve(&F2, Layout::for_tiles(Grid::new(n, output, 2).len()), x, dims, weight, filters, c_out, padding)
    }
}

/// Whether a convolution of `n` photos with outputs `[out_h, out_w]` runs F(4x4).
fn prefers_f4(n: usize, output: [usize; 2]) -> bool {
    Grid::new(n, output, 4).len() >= F4_MIN_TILES
}

/// How [`convolve`] orders its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Every filter transformed first, then one GEMM per position over all output channels.
    AllFilters,
    /// Blocks of [`LANES`] output channels, each transforming its filters just before its GEMMs.
    Blocks,
}

impl Layout {
    /// The faster layout for this many tiles: with few, the GEMMs are short and each block's
    /// filters stay in cache; with many, the blocks would re-pack the tiles once each.
    fn for_tiles(tiles: usize) -> Self {
        if tiles > MANY_TILES { Self::AllFilters } else { Self::Blocks }
    }
}

/// [`conv3x3`] by `algorithm`, its work ordered as `layout` says.
#[allow(clippy::too_many_arguments)]
fn convolve<const M: usize, const T: usize>(
    algorithm: &Algorithm<M, T>,
    layout: Layout,
    x: &[f32],
    dims: Dims,
    weight: &[f32],
    filters: Filters,
    c_out: usize,
    padding: usize,
) -> Vec<f32> {
    let [n, c_in, h, w] = dims;
    let positions = Algorithm::<M, T>::POSITIONS;
    let [out_h, out_w] = Window { kernel: 3, stride: 1, padding }.output_size([h, w]);
    let grid = Grid::new(n, [out_h, out_w], M);
    let tiles = grid.len();

    // v: [c_in][position][tile]; m: the products, laid out as `products` below says; u (all
    // filters first only): [position][c_in][c_out]. Every element is written before it is
    // read, so the scratch needs no zeroing.
    let mut scratch = Scratch::take();
    let u_len = if layout == Layout::AllFilters { positions * c_in * c_out } else { 0 };
    let [v, m, u] = scratch.regions([c_in * positions * tiles, c_out * positions * tiles, u_len]);
    for_each_chunk(v, positions * tiles, |ci, chunk| {
        transform::input(algorithm, x, dims, ci, padding, &grid, chunk);
    });
    let v = &*v;
    let block_len = positions * c_in * LANES;
    let products = match layout {
        Layout::AllFilters => {
            // Many tiles: every filter is transformed first (a small part of the work here),
            // then each position's product is one GEMM over all output channels, the
            // positions in parallel. With more than 32 rows `gemm` packs the large tiles'
            // operand into cache-friendly panels once.
            let shared = SharedMut(u.as_mut_ptr());
            for_each_index(c_out.div_ceil(LANES), |group| {
                let co = group * LANES..c_out.min((group + 1) * LANES);
                with_filter_block(block_len, |block| {
                    transform::filters(algorithm, weight, filters, [c_out, c_in], co.clone(), block);
                    for row in 0..positions * c_in {
                        // SAFETY: each group writes its own columns co of u's rows, in bounds.
                        unsafe {
                            let to = shared.get().add(row * c_out + co.start);
                            std::ptr::copy_nonoverlapping(block[row * LANES..].as_ptr(), to, co.len());
                        }
                    }
                });
            });
            let u = &*u;
            for_each_chunk(m, c_out * tiles, |position, chunk| {
                // SAFETY: `chunk` is [c_out, tiles]; u's filters at this position are
                // [c_out, c_in] (column-major) and v's tiles [c_in, tiles] with rows
                // `positions` tiles apart, within their slices.
                unsafe {
                    product(
                        [c_out, c_in, tiles],
                        Strided::new(chunk.as_mut_ptr(), tiles, 1),
                        Strided::new(u[position * c_in * c_out..].as_ptr(), 1, c_out),
                        Strided::new(v[position * tiles..].as_ptr(), positions * tiles, 1),
                    );
                }
            });
            Products { channel: tiles, position: c_out * tiles }
        }
        Layout::Blocks => {
            // Few tiles: blocks of LANES output channels, each transforming its filters just
            // before its GEMMs, so that they are read from cache, and so that the filter
            // transform, a large share of the work with this few tiles, runs on every thread.
            for_each_chunk(m, LANES * positions * tiles, |block, chunk| {
                let co = block * LANES..c_out.min((block + 1) * LANES);
                with_filter_block(block_len, |u| {
                    transform::filters(algorithm, weight, filters, [c_out, c_in], co.clone(), u);
                    for position in 0..positions {
                        // SAFETY: `chunk` at this position is [co.len(), tiles] with rows
                        // `positions` tiles apart, u's filters [co.len(), c_in] (column-major,
                        // LANES rows), v's tiles [c_in, tiles] with rows `positions` tiles
                        // apart, within their slices.
                        unsafe {
                            product(
                                [co.len(), c_in, tiles],
                                Strided::new(chunk.as_mut_ptr().add(position * tiles), positions * tiles, 1),
                                Strided::new(u[position * c_in * LANES..].as_ptr(), 1, LANES),
                                Strided::new(v[position * tiles..].as_ptr(), positions * tiles, 1),
                            );
                        }
                    }
                });
            });
            Products { channel: positions * tiles, position: tiles }
        }
    };
    let m = &*m;
    let mut out = vec![0.0f32; n * c_out * out_h * out_w];
    let shared = SharedMut(out.as_mut_ptr());
    for_each_index(c_out, |co| {
        // SAFETY: `shared` addresses the whole output, and each call writes its own channel.
        unsafe { transform::output(algorithm, m, products, c_out, co, &grid, [out_h, out_w], shared) };
    });
    out
}

/// The filters' gradient of [`conv3x3`] with [`Filters::AsGiven`]: `grad` is the gradient
/// at that convolution's output, `[n, c_out, out_h, out_w]`, for the input `x` (`dims`);
/// the result is `[c_out, c_in, 3, 3]`. It runs the algorithm the convolution runs.
pub fn conv3x3_filter_gradient(x: &[f32], dims: Dims, grad: &[f32], c_out: usize, padding: usize) -> Vec<f32> {
    let [n, _, h, w] = dims;
    let output = Window { kernel: 3, stride: 1, padding }.output_size([h, w]);
    if prefers_f4(n, output) {
        filter_gradient(&F4, x, dims, grad, c_out, padding)
    } else {
        filter_gradient(&F2, x, dims, grad, c_out, padding)
    }
}

/// [`conv3x3_filter_gradient`] by `algorithm`: the algorithm run backwards (the adjoint of
/// each step). The output gradient's `M x M` tiles become `T x T` by `A g A^T`, each position
/// gives a GEMM over the tiles, `dU = G' V^T` (`[c_out, c_in]`), and `G^T dU G` folds each
/// `T x T` back into a 3x3 filter gradient.
fn filter_gradient<const M: usize, const T: usize>(
    algorithm: &Algorithm<M, T>,
    x: &[f32],
    dims: Dims,
    grad: &[f32],
    c_out: usize,
    padding: usize,
) -> Vec<f32> {
    let [n, c_in, h, w] = dims;
    assert_eq!(x.len(), n * c_in * h * w, "input length does not match its dimensions");
    let [out_h, out_w] = Window { kernel: 3, stride: 1, padding }.output_size([h, w]);
    assert_eq!(grad.len(), n * c_out * out_h * out_w, "gradient length does not match the output's");
    let mut filter_gradient = vec![0.0f32; c_out * c_in * 9];
    if grad.is_empty() || filter_gradient.is_empty() {
        return filter_gradient;
    }
    let positions = Algorithm::<M, T>::POSITIONS;
    let grid = Grid::new(n, [out_h, out_w], M);
    let tiles = grid.len();

    // v: [c_in][position][tile]; g: [c_out][position][tile]; du: [position][c_out][c_in].
    let mut scratch = Scratch::take();
    let [v, g, du] = scratch.regions([c_in * positions * tiles, c_out * positions * tiles, positions * c_out * c_in]);
    for_each_chunk(v, positions * tiles, |ci, chunk| {
        transform::input(algorithm, x, dims, ci, padding, &grid, chunk);
    });
    for_each_chunk(g, positions * tiles, |co, chunk| {
        transform::gradient(algorithm, grad, c_out, co, &grid, [out_h, out_w], chunk);
    });
    let (v, g) = (&*v, &*g);
    for_each_chunk(du, c_out * c_in, |position, chunk| {
        // SAFETY: `chunk` is [c_out, c_in]; g's position is [c_out, tiles] with rows
        // `positions` tiles apart, v's read as [tiles, c_in] (columns `positions` tiles
        // apart), within their slices.
        unsafe {
            product(
                [c_out, tiles, c_in],
                Strided::new(chunk.as_mut_ptr(), c_in, 1),
                Strided::new(g[position * tiles..].as_ptr(), positions * tiles, 1),
                Strided::new(v[position * tiles..].as_ptr(), 1, positions * tiles),
            );
        }
    });
    let du = &*du;
    for_each_chunk(&mut filter_gradient, c_in * 9, |co, chunk| {
        transform::fold(algorithm, du, [c_out, c_in], co, chunk);
    });
    filter_gradient
}

/// Where the product for an output channel and a position starts in `m` (tiles follow).
#[derive(Clone, Copy)]
struct Products {
    channel: usize,
    position: usize,
}

/// Runs `job` with this thread's buffer for one block of transformed filters,
/// `[position][c_in][LANES]`, `len` long.
fn with_filter_block(len: usize, job: impl FnOnce(&mut [f32])) {
    FILTERS.with_borrow_mut(|block| {
        if block.len() < len {
            block.resize(len, 0.0);
        }
        job(&mut block[..len]);
    });
}

/// This thread's [`SCRATCH`], taken for one call and given back when dropped.
struct Scratch(Vec<f32>);

impl Scratch {
    fn take() -> Self {
        Self(SCRATCH.take())
    }

    /// Three regions of the given lengths. Their contents are left from earlier calls:
    /// callers write every element before reading it.
    fn regions(&mut self, [a, b, c]: [usize; 3]) -> [&mut [f32]; 3] {
        if self.0.len() < a + b + c {
            self.0.resize(a + b + c, 0.0);
        }
        let (first, rest) = self.0.split_at_mut(a);
        let (second, rest) = rest.split_at_mut(b);
        [first, second, &mut rest[..c]]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        SCRATCH.set(std::mem::take(&mut self.0));
    }
}

/// The tiles of the output: one per `m x m` block, over the batch.
struct Grid {
    n: usize,
    tiles_h: usize,
    tiles_w: usize,
}

impl Grid {
    fn new(n: usize, [out_h, out_w]: [usize; 2], m: usize) -> Self {
        Self { n, tiles_h: out_h.div_ceil(m), tiles_w: out_w.div_ceil(m) }
    }

    fn len(&self) -> usize {
        self.n * self.tiles_h * self.tiles_w
    }

    /// `[b, ty, tx]` of tile `index` (tiles go photo by photo, row by row).
    fn position(&self, index: usize) -> [usize; 3] {
        let (row, tx) = (index / self.tiles_w, index % self.tiles_w);
        [row / self.tiles_h, row % self.tiles_h, tx]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every term of the convolution's definition, as `(output, filter tap, input)` indices
    /// into `[n, c_out, out_h, out_w]`, `[c_out, c_in, 3, 3]` and `[n, c_in, h, w]`: the
    /// output is the sum of tap x input over its terms, and the filters' gradient is the sum
    /// of output gradient x input over each tap's.
    fn for_each_term([n, c_in, h, w]: Dims, c_out: usize, padding: usize, mut term: impl FnMut(usize, usize, usize)) {
        assert!(h + 2 * padding >= 3 && w + 2 * padding >= 3);
        let (out_h, out_w) = (h + 2 * padding - 2, w + 2 * padding - 2);
        for b in 0..n {
            for co in 0..c_out {
                for y in 0..out_h {
                    for x in 0..out_w {
                        for ci in 0..c_in {
                            for k in 0..9 {
                                let (iy, ix) = (y + k / 3, x + k % 3);
                                if iy < padding || ix < padding || iy - padding >= h || ix - padding >= w {
                                    continue;
                                }
                                let input = ((b * c_in + ci) * h + iy - padding) * w + ix - padding;
                                term(((b * c_out + co) * out_h + y) * out_w + x, (co * c_in + ci) * 9 + k, input);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The convolution by its definition, summed in f64.
    fn direct(x: &[f32], dims: Dims, weight: &[f32], c_out: usize, padding: usize) -> Vec<f32> {
        let [n, _, h, w] = dims;
        let mut out = vec![0.0f64; n * c_out * (h + 2 * padding - 2) * (w + 2 * padding - 2)];
        for_each_term(dims, c_out, padding, |o, k, i| out[o] += (weight[k] * x[i]) as f64);
        out.into_iter().map(|v| v as f32).collect()
    }

    /// The filters' gradient by its definition: d(sum(grad * conv(x, W)))/dW, summed in f64.
    fn direct_filter_gradient(x: &[f32], dims: Dims, grad: &[f32], c_out: usize, padding: usize) -> Vec<f32> {
        let mut out = vec![0.0f64; c_out * dims[1] * 9];
        for_each_term(dims, c_out, padding, |o, k, i| out[k] += (grad[o] * x[i]) as f64);
        out.into_iter().map(|v| v as f32).collect()
    }

    /// `actual` equals `expected` within `tolerance` of the largest expected magnitude.
    fn assert_close(actual: &[f32], expected: &[f32], tolerance: f32, context: &str) {
        assert_eq!(actual.len(), expected.len(), "{context}");
        let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!((a - e).abs() <= tolerance * scale.max(1.0), "{context} at {i}: {a} vs {e}");
        }
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

    /// Error allowed relative to the largest output: F(2x2)'s transforms only add and halve;
    /// F(4x4)'s larger coefficients lose a few more bits (measured: up to 6e-6 here).
    const F2_TOLERANCE: f32 = 1e-6;
    const F4_TOLERANCE: f32 = 1e-5;

    /// Both algorithms in both layouts, and [`conv3x3`] whichever it picks, against the
    /// convolution's definition.
    fn check(dims: Dims, c_out: usize, padding: usize) {
        let [n, c_in, h, w] = dims;
        let x = values(n * c_in * h * w, 1);
        let weight = values(c_out * c_in * 9, 2);
        let expected = direct(&x, dims, &weight, c_out, padding);
        let context = |what: &str| format!("{what} {dims:?} p{padding}");
        for layout in [Layout::AllFilters, Layout::Blocks] {
            let f2 = convolve(&F2, layout, &x, dims, &weight, Filters::AsGiven, c_out, padding);
            assert_close(&f2, &expected, F2_TOLERANCE, &context(&format!("F2 {layout:?}")));
            let f4 = convolve(&F4, layout, &x, dims, &weight, Filters::AsGiven, c_out, padding);
            assert_close(&f4, &expected, F4_TOLERANCE, &context(&format!("F4 {layout:?}")));
        }
        let actual = conv3x3(&x, dims, &weight, Filters::AsGiven, c_out, padding);
        assert_close(&actual, &expected, F4_TOLERANCE, &context("conv3x3"));
    }

    #[test]
    fn equals_the_direct_convolution_with_padding_one() {
        check([1, 3, 8, 8], 4, 1);
        check([2, 5, 7, 9], 3, 1); // odd sizes: the last tiles hang over the edge
        check([1, 64, 14, 14], 32, 1);
        check([2, 5, 10, 11], 3, 1); // F4's last tiles hang over by 2 and 3 pixels
    }

    #[test]
    fn output_channels_beyond_one_block_and_a_partial_last_block() {
        check([1, 7, 6, 6], LANES + 4, 1);
        check([2, 3, 5, 4], 2 * LANES + 1, 0);
    }

    #[test]
    fn each_resnet_layer_gets_the_algorithm_and_layout_measured_faster() {
        // One 224 px photo: F(4x4) for the first layers, F(2x2) for the last; blocks.
        assert!(prefers_f4(1, [56, 56]) && prefers_f4(1, [28, 28]));
        assert!(!prefers_f4(1, [14, 14]) && !prefers_f4(1, [7, 7]));
        assert_eq!(Layout::for_tiles(Grid::new(1, [56, 56], 4).len()), Layout::Blocks);
        // A batch of 32 at 128 px: F(4x4) throughout; all filters first for the first layers.
        assert!(prefers_f4(32, [4, 4]));
        assert_eq!(Layout::for_tiles(Grid::new(32, [32, 32], 4).len()), Layout::AllFilters);
        assert_eq!(Layout::for_tiles(Grid::new(32, [8, 8], 4).len()), Layout::Blocks);
    }

    #[test]
    fn many_tiles_transform_all_filters_first() {
        let dims = [1, 3, 66, 66];
        assert_eq!(Layout::for_tiles(Grid::new(1, [66, 66], 4).len()), Layout::AllFilters);
        // Output channels that fill some lane groups and part of the last one.
        check(dims, 2 * LANES + 6, 1);
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

    /// Both algorithms, and [`conv3x3_filter_gradient`] whichever it picks, against the
    /// gradient's definition. (Sums over many tiles: a looser tolerance than one output's.)
    fn check_filter_gradient(dims: Dims, c_out: usize, padding: usize) {
        let [n, c_in, h, w] = dims;
        let (out_h, out_w) = (h + 2 * padding - 2, w + 2 * padding - 2);
        let x = values(n * c_in * h * w, 5);
        let grad = values(n * c_out * out_h * out_w, 6);
        let expected = direct_filter_gradient(&x, dims, &grad, c_out, padding);
        let context = |what: &str| format!("{what} {dims:?} p{padding}");
        let f2 = filter_gradient(&F2, &x, dims, &grad, c_out, padding);
        assert_close(&f2, &expected, 10.0 * F2_TOLERANCE, &context("F2"));
        let f4 = filter_gradient(&F4, &x, dims, &grad, c_out, padding);
        assert_close(&f4, &expected, 10.0 * F4_TOLERANCE, &context("F4"));
        let actual = conv3x3_filter_gradient(&x, dims, &grad, c_out, padding);
        assert_close(&actual, &expected, 10.0 * F4_TOLERANCE, &context("conv3x3_filter_gradient"));
    }

    #[test]
    fn filter_gradient_equals_its_definition() {
        check_filter_gradient([1, 3, 8, 8], 4, 1);
        check_filter_gradient([2, 5, 7, 9], 3, 1); // odd sizes: the last tiles hang over the edge
        check_filter_gradient([2, 2, 6, 5], 3, 0);
        check_filter_gradient([1, 2, 1, 1], 2, 1); // smaller than a tile
        check_filter_gradient([2, 24, 10, 12], 20, 1);
        check_filter_gradient([2, 3, 11, 6], 2, 1); // F4's last tiles hang over by 3 and 2 pixels
    }

    #[test]
    fn transposed_filters_are_rotated_with_channels_swapped() {
        // More output channels than a block, so that the filters of a later block are read too.
        let (c_in, c_out, dims) = (3, LANES + 2, [1, 3, 5, 4]);
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
        for layout in [Layout::AllFilters, Layout::Blocks] {
            let f2 = convolve(&F2, layout, &x, dims, &weight, Filters::Transposed, c_out, 1);
            assert_close(&f2, &expected, F2_TOLERANCE, &format!("F2 {layout:?}"));
            let f4 = convolve(&F4, layout, &x, dims, &weight, Filters::Transposed, c_out, 1);
            assert_close(&f4, &expected, F4_TOLERANCE, &format!("F4 {layout:?}"));
        }
    }
}
