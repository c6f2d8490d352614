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

use super::im2col::Window;
use super::matmul::{Strided, product};
use super::parallel::{SharedMut, for_each_chunk, for_each_index};

/// `[batch, channels, height, width]` of a row-major (NCHW) tensor.
pub type Dims = [usize; 4];

/// Transformed values per tile and per filter: a 4x4 tile.
const POSITIONS: usize = 16;

/// Filters transformed together in SIMD lanes, and the output channels of a block in a
/// photo's convolutions: the row count of the `gemm` crate's f32 micro-kernel on x86 (AVX2).
const LANES: usize = 16;

/// Tiles above which a photo's convolution transforms all its filters before its GEMMs
/// rather than a block at a time (see [`conv3x3`]); a batch of photos always does. One
/// 224x224 photo has at most 784.
const MANY_TILES: usize = 1024;

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
    let [out_h, out_w] = Window { kernel: 3, stride: 1, padding }.output_size([h, w]);
    if n * c_out * out_h * out_w == 0 {
        return Vec::new();
    }
    let grid = Grid::new(n, [out_h, out_w]);
    let tiles = grid.len();
    // Measured at batch 32, 128 px: the blocks' path made layers 3 and 4 (128 to 512 tiles)
    // about 10% of a training step slower; they re-pack each position's tiles for every block.
    let many_tiles = n > 1 || tiles > MANY_TILES;

    // v: [c_in][position][tile]; m: the products, laid out as `products` below says; u (many
    // tiles only): [position][c_in][c_out]. Every element is written before it is read, so
    // the scratch needs no zeroing.
    let mut scratch = Scratch::take();
    let u_len = if many_tiles { POSITIONS * c_in * c_out } else { 0 };
    let [v, m, u] = scratch.regions([c_in * POSITIONS * tiles, c_out * POSITIONS * tiles, u_len]);
    for_each_chunk(v, POSITIONS * tiles, |ci, chunk| {
        transform_input(x, dims, ci, padding, &grid, chunk);
    });
    let v = &*v;
    let products = if many_tiles {
        // A training batch: every filter is transformed first (a small part of the work
        // here), then each position's product is one GEMM over all output channels, the
        // positions in parallel. With more than 32 rows `gemm` packs the large tiles'
        // operand into cache-friendly panels (16-row blocks made a training step 12% slower).
        let shared = SharedMut(u.as_mut_ptr());
        for_each_index(c_out.div_ceil(LANES), |group| {
            let co = group * LANES..c_out.min((group + 1) * LANES);
            with_filter_block(c_in, |block| {
                transform_filters(weight, filters, [c_out, c_in], co.clone(), block);
                for row in 0..POSITIONS * c_in {
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
            // [c_out, c_in] (column-major) and v's tiles [c_in, tiles] with rows 16 tiles
            // apart, within their slices.
            unsafe {
                product(
                    [c_out, c_in, tiles],
                    Strided::new(chunk.as_mut_ptr(), tiles, 1),
                    Strided::new(u[position * c_in * c_out..].as_ptr(), 1, c_out),
                    Strided::new(v[position * tiles..].as_ptr(), POSITIONS * tiles, 1),
                );
            }
        });
        Products { channel: tiles, position: c_out * tiles }
    } else {
        // One photo: blocks of LANES output channels, each transforming its filters just
        // before its 16 GEMMs, so that they are read from cache, and so that the filter
        // transform, a large share of the work with this few tiles, runs on every thread.
        for_each_chunk(m, LANES * POSITIONS * tiles, |block, chunk| {
            let co = block * LANES..c_out.min((block + 1) * LANES);
            with_filter_block(c_in, |u| {
                transform_filters(weight, filters, [c_out, c_in], co.clone(), u);
                for position in 0..POSITIONS {
                    // SAFETY: `chunk` at this position is [co.len(), tiles] with rows 16
                    // tiles apart, u's filters [co.len(), c_in] (column-major, LANES rows),
                    // v's tiles [c_in, tiles] with rows 16 tiles apart, within their slices.
                    unsafe {
                        product(
                            [co.len(), c_in, tiles],
                            Strided::new(chunk.as_mut_ptr().add(position * tiles), POSITIONS * tiles, 1),
                            Strided::new(u[position * c_in * LANES..].as_ptr(), 1, LANES),
                            Strided::new(v[position * tiles..].as_ptr(), POSITIONS * tiles, 1),
                        );
                    }
                }
            });
        });
        Products { channel: POSITIONS * tiles, position: tiles }
    };
    let m = &*m;
    let mut out = vec![0.0f32; n * c_out * out_h * out_w];
    for_each_chunk(&mut out, out_h * out_w, |plane, chunk| {
        transform_output(m, products, c_out, plane, &grid, [out_h, out_w], chunk);
    });
    out
}

/// The filters' gradient of [`conv3x3`] with [`Filters::AsGiven`]: `grad` is the gradient
/// at that convolution's output, `[n, c_out, out_h, out_w]`, for the input `x` (`dims`);
/// the result is `[c_out, c_in, 3, 3]`.
///
/// The same algorithm run backwards (the adjoint of each step): the output gradient's 2x2
/// tiles become 4x4 by `A g A^T`, the 16 positions each give a GEMM over the tiles,
/// `dU = G' V^T` (`[c_out, c_in]`), and `G^T dU G` folds each 4x4 back into a 3x3 filter
/// gradient: 16 multiply-adds per tile where im2col takes 36.
pub fn conv3x3_filter_gradient(x: &[f32], dims: Dims, grad: &[f32], c_out: usize, padding: usize) -> Vec<f32> {
    let [n, c_in, h, w] = dims;
    assert_eq!(x.len(), n * c_in * h * w, "input length does not match its dimensions");
    let [out_h, out_w] = Window { kernel: 3, stride: 1, padding }.output_size([h, w]);
    assert_eq!(grad.len(), n * c_out * out_h * out_w, "gradient length does not match the output's");
    let mut filter_gradient = vec![0.0f32; c_out * c_in * 9];
    if grad.is_empty() || filter_gradient.is_empty() {
        return filter_gradient;
    }
    let grid = Grid::new(n, [out_h, out_w]);
    let tiles = grid.len();

    // v: [c_in][position][tile]; g: [c_out][position][tile]; du: [position][c_out][c_in].
    let mut scratch = Scratch::take();
    let [v, g, du] = scratch.regions([c_in * POSITIONS * tiles, c_out * POSITIONS * tiles, POSITIONS * c_out * c_in]);
    for_each_chunk(v, POSITIONS * tiles, |ci, chunk| {
        transform_input(x, dims, ci, padding, &grid, chunk);
    });
    for_each_chunk(g, POSITIONS * tiles, |co, chunk| {
        transform_gradient(grad, c_out, co, &grid, [out_h, out_w], chunk);
    });
    let (v, g) = (&*v, &*g);
    for_each_chunk(du, c_out * c_in, |position, chunk| {
        // SAFETY: `chunk` is [c_out, c_in]; g's position is [c_out, tiles] with rows 16 tiles
        // apart, v's read as [tiles, c_in] (columns 16 tiles apart), within their slices.
        unsafe {
            product(
                [c_out, tiles, c_in],
                Strided::new(chunk.as_mut_ptr(), c_in, 1),
                Strided::new(g[position * tiles..].as_ptr(), POSITIONS * tiles, 1),
                Strided::new(v[position * tiles..].as_ptr(), 1, POSITIONS * tiles),
            );
        }
    });
    let du = &*du;
    for_each_chunk(&mut filter_gradient, c_in * 9, |co, chunk| {
        for (ci, filter) in chunk.chunks_exact_mut(9).enumerate() {
            let at = |position: usize| du[(position * c_out + co) * c_in + ci];
            // G^T dU, then (G^T dU) G. G^T = [[1, 1/2, 1/2, 0], [0, 1/2, -1/2, 0], [0, 1/2, 1/2, 1]].
            let gtu: [[f32; 4]; 3] = [
                std::array::from_fn(|j| at(j) + 0.5 * (at(4 + j) + at(8 + j))),
                std::array::from_fn(|j| 0.5 * (at(4 + j) - at(8 + j))),
                std::array::from_fn(|j| 0.5 * (at(4 + j) + at(8 + j)) + at(12 + j)),
            ];
            for (i, [a, b, c, d]) in gtu.into_iter().enumerate() {
                filter[3 * i..3 * i + 3].copy_from_slice(&[a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d]);
            }
        }
    });
    filter_gradient
}

/// `A g A^T` for every 2x2 tile `g` of output channel `co`'s gradient (zeros past the
/// edge), written as `[position][tile]`: the adjoint of [`transform_output`].
/// `A = [[1, 0], [1, 1], [1, -1], [0, -1]]`.
///
/// Worked a row of tiles at a time, along contiguous memory as [`transform_input`] is: the
/// tiles' two gradient rows are split into their even and odd pixels, `A` combines the two
/// rows element-wise, and `A^T` then combines each tile's even and odd values.
fn transform_gradient(grad: &[f32], c_out: usize, co: usize, grid: &Grid, [out_h, out_w]: [usize; 2], out: &mut [f32]) {
    let tiles = grid.len();
    let tiles_w = grid.tiles_w;
    // [row of the pair][tile]: a tile's left (even) and right (odd) pixel, 0 past the edge.
    let (mut even, mut odd) =
        ([vec![0.0f32; tiles_w], vec![0.0f32; tiles_w]], [vec![0.0f32; tiles_w], vec![0.0f32; tiles_w]]);
    let (mut p, mut q) = (vec![0.0f32; tiles_w], vec![0.0f32; tiles_w]);
    for b in 0..grid.n {
        let plane = &grad[(b * c_out + co) * out_h * out_w..][..out_h * out_w];
        for ty in 0..grid.tiles_h {
            for (r, (even, odd)) in even.iter_mut().zip(odd.iter_mut()).enumerate() {
                let y = 2 * ty + r;
                if y >= out_h {
                    even.fill(0.0);
                    odd.fill(0.0);
                    continue;
                }
                let row = &plane[y * out_w..][..out_w];
                for (t, pair) in row.chunks(2).enumerate() {
                    even[t] = pair[0];
                    odd[t] = pair.get(1).copied().unwrap_or(0.0);
                }
            }
            let first = grid.index(b, ty, 0);
            // Row i of A g is g0, g0 + g1, g0 - g1 or -g1 (g0, g1: the tile's two rows); its
            // even and odd values p and q give positions 4i..4i+3: p, p + q, p - q, -q.
            let ([e0, e1], [o0, o1]) = (&even, &odd);
            for i in 0..4 {
                for t in 0..tiles_w {
                    (p[t], q[t]) = match i {
                        0 => (e0[t], o0[t]),
                        1 => (e0[t] + e1[t], o0[t] + o1[t]),
                        2 => (e0[t] - e1[t], o0[t] - o1[t]),
                        _ => (-e1[t], -o1[t]),
                    };
                }
                let row = |j: usize| (4 * i + j) * tiles + first;
                fill(&mut out[row(0)..][..tiles_w], |t| p[t]);
                fill(&mut out[row(1)..][..tiles_w], |t| p[t] + q[t]);
                fill(&mut out[row(2)..][..tiles_w], |t| p[t] - q[t]);
                fill(&mut out[row(3)..][..tiles_w], |t| -q[t]);
            }
        }
    }
}

/// `dst[t] = value(t)` for every `t`.
fn fill(dst: &mut [f32], value: impl Fn(usize) -> f32) {
    for (t, to) in dst.iter_mut().enumerate() {
        *to = value(t);
    }
}

/// Where the product for an output channel and a position starts in `m` (tiles follow).
#[derive(Clone, Copy)]
struct Products {
    channel: usize,
    position: usize,
}

/// Runs `job` with this thread's buffer for one block of transformed filters,
/// `[position][c_in][LANES]`.
fn with_filter_block(c_in: usize, job: impl FnOnce(&mut [f32])) {
    FILTERS.with_borrow_mut(|block| {
        if block.len() < POSITIONS * c_in * LANES {
            block.resize(POSITIONS * c_in * LANES, 0.0);
        }
        job(&mut block[..POSITIONS * c_in * LANES]);
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

/// The tiles of the output: one per 2x2 block, over the batch.
struct Grid {
    n: usize,
    tiles_h: usize,
    tiles_w: usize,
}

impl Grid {
    fn new(n: usize, [out_h, out_w]: [usize; 2]) -> Self {
        Self { n, tiles_h: out_h.div_ceil(2), tiles_w: out_w.div_ceil(2) }
    }

    fn len(&self) -> usize {
        self.n * self.tiles_h * self.tiles_w
    }

    fn index(&self, b: usize, ty: usize, tx: usize) -> usize {
        (b * self.tiles_h + ty) * self.tiles_w + tx
    }
}

/// `G g G^T` for every filter `g` from an input channel to the output channels `co` (at
/// most [`LANES`]), written as `[position][c_in][LANES]`.
/// `G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]`.
fn transform_filters(
    weight: &[f32],
    filters: Filters,
    [c_out, c_in]: [usize; 2],
    co: std::ops::Range<usize>,
    u: &mut [f32],
) {
    // Tap-major, so that the arithmetic below runs across LANES filters in SIMD lanes.
    // Made once per call: zeroed for every input channel, they cost 2% of an explanation's
    // time. (Lanes past the last channel keep stale values; no GEMM reads those rows.)
    let mut g = [[0.0f32; LANES]; 9];
    let mut gg = [[[0.0f32; LANES]; 3]; 4]; // G g
    let mut ggg = [[0.0f32; LANES]; 4]; // a row of G g G^T
    debug_assert!(co.len() <= LANES);
    for ci in 0..c_in {
        for (lane, o) in co.clone().enumerate() {
            match filters {
                Filters::AsGiven => {
                    let taps = &weight[(o * c_in + ci) * 9..][..9];
                    for (k, &tap) in taps.iter().enumerate() {
                        g[k][lane] = tap;
                    }
                }
                Filters::Transposed => {
                    // Rotated by 180 degrees: a row-major 3x3 filter read backwards.
                    let taps = &weight[(ci * c_out + o) * 9..][..9];
                    for (k, &tap) in taps.iter().rev().enumerate() {
                        g[k][lane] = tap;
                    }
                }
            }
        }
        for j in 0..3 {
            for lane in 0..LANES {
                let (a, b, c) = (g[j][lane], g[3 + j][lane], g[6 + j][lane]);
                gg[0][j][lane] = a;
                gg[1][j][lane] = 0.5 * (a + b + c);
                gg[2][j][lane] = 0.5 * (a - b + c);
                gg[3][j][lane] = c;
            }
        }
        for (i, [a, b, c]) in gg.iter().enumerate() {
            for lane in 0..LANES {
                ggg[0][lane] = a[lane];
                ggg[1][lane] = 0.5 * (a[lane] + b[lane] + c[lane]);
                ggg[2][lane] = 0.5 * (a[lane] - b[lane] + c[lane]);
                ggg[3][lane] = c[lane];
            }
            for (j, values) in ggg.iter().enumerate() {
                u[((4 * i + j) * c_in + ci) * LANES..][..LANES].copy_from_slice(values);
            }
        }
    }
}

/// `B^T d B` for every 4x4 input tile `d` of input channel `ci`, written as
/// `[position][tile]`. `B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`.
///
/// Worked a row of tiles at a time, so that every step runs along contiguous memory (and
/// in SIMD lanes): `B^T` combines the tiles' four input rows element-wise, and `B` then
/// combines columns 2t..2t+3 of those rows, i.e. the even and odd columns at t and t + 1.
fn transform_input(x: &[f32], [_, c_in, h, w]: Dims, ci: usize, padding: usize, grid: &Grid, out: &mut [f32]) {
    let tiles = grid.len();
    let tiles_w = grid.tiles_w;
    // The columns the tiles of a row cover, padding included: the last tile may reach past
    // the padded input (odd widths), where it reads zeros.
    let cols = 2 * tiles_w + 2;
    let mut input = vec![0.0f32; 4 * cols]; // the tile row's four input rows, zero-padded
    let mut combined = vec![0.0f32; 4 * cols]; // B^T applied to them
    let (mut even, mut odd) = (vec![0.0f32; tiles_w + 1], vec![0.0f32; tiles_w + 1]);
    for b in 0..grid.n {
        let plane = &x[(b * c_in + ci) * h * w..][..h * w];
        for ty in 0..grid.tiles_h {
            for (i, row) in input.chunks_exact_mut(cols).enumerate() {
                row.fill(0.0);
                let y = (2 * ty + i) as isize - padding as isize;
                if y >= 0 && (y as usize) < h {
                    let width = w.min(cols.saturating_sub(padding));
                    row[padding..padding + width].copy_from_slice(&plane[y as usize * w..][..width]);
                }
            }
            let [d0, d1, d2, d3] = rows_of(&input, cols);
            let (bd01, bd23) = combined.split_at_mut(2 * cols);
            let ((bd0, bd1), (bd2, bd3)) = (bd01.split_at_mut(cols), bd23.split_at_mut(cols));
            for c in 0..cols {
                bd0[c] = d0[c] - d2[c];
                bd1[c] = d1[c] + d2[c];
                bd2[c] = d2[c] - d1[c];
                bd3[c] = d1[c] - d3[c];
            }
            let first = grid.index(b, ty, 0);
            for (i, bd) in combined.chunks_exact(cols).enumerate() {
                for (t, pair) in bd.chunks_exact(2).enumerate() {
                    (even[t], odd[t]) = (pair[0], pair[1]);
                }
                // Columns 2t, 2t + 1, 2t + 2, 2t + 3 are even[t], odd[t], even[t + 1], odd[t + 1].
                let row = |j: usize| (4 * i + j) * tiles + first;
                let (e0, e1, o0, o1) = (&even[..tiles_w], &even[1..], &odd[..tiles_w], &odd[1..]);
                for (t, value) in out[row(0)..][..tiles_w].iter_mut().enumerate() {
                    *value = e0[t] - e1[t];
                }
                for (t, value) in out[row(1)..][..tiles_w].iter_mut().enumerate() {
                    *value = o0[t] + e1[t];
                }
                for (t, value) in out[row(2)..][..tiles_w].iter_mut().enumerate() {
                    *value = e1[t] - o0[t];
                }
                for (t, value) in out[row(3)..][..tiles_w].iter_mut().enumerate() {
                    *value = o0[t] - o1[t];
                }
            }
        }
    }
}

/// The four `cols`-long rows of `data`.
fn rows_of(data: &[f32], cols: usize) -> [&[f32]; 4] {
    std::array::from_fn(|i| &data[i * cols..][..cols])
}

/// `A^T m A` for every tile of output plane `plane` (`b * c_out + co`), written into that
/// plane. `A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]`.
///
/// Worked a row of tiles at a time, along contiguous memory as [`transform_input`] is:
/// `A^T` combines the 16 products of each tile element-wise across the row, and `A` then
/// gives each output row's even and odd pixels.
fn transform_output(
    m: &[f32],
    products: Products,
    c_out: usize,
    plane: usize,
    grid: &Grid,
    [out_h, out_w]: [usize; 2],
    out: &mut [f32],
) {
    let (b, co) = (plane / c_out, plane % c_out);
    let tiles_w = grid.tiles_w;
    let mut columns = vec![0.0f32; 4 * tiles_w]; // a row of A^T m, for the tiles of a row
    let (mut even, mut odd) = (vec![0.0f32; tiles_w], vec![0.0f32; tiles_w]);
    for ty in 0..grid.tiles_h {
        let first = grid.index(b, ty, 0);
        let at = |position: usize| &m[co * products.channel + position * products.position + first..][..tiles_w];
        for i in 0..2 {
            let y = 2 * ty + i;
            if y >= out_h {
                break;
            }
            for (j, column) in columns.chunks_exact_mut(tiles_w).enumerate() {
                let (m0, m1, m2, m3) = (at(j), at(4 + j), at(8 + j), at(12 + j));
                for (t, value) in column.iter_mut().enumerate() {
                    *value = if i == 0 { m0[t] + m1[t] + m2[t] } else { m1[t] - m2[t] - m3[t] };
                }
            }
            let [p, q, r, s] = rows_of(&columns, tiles_w);
            for t in 0..tiles_w {
                even[t] = p[t] + q[t] + r[t];
                odd[t] = q[t] - r[t] - s[t];
            }
            // The last tile of an odd width hangs over the edge: its odd pixel is dropped.
            for (pair, (e, o)) in out[y * out_w..][..out_w].chunks_mut(2).zip(even.iter().zip(&odd)) {
                pair[0] = *e;
                if let Some(value) = pair.get_mut(1) {
                    *value = *o;
                }
            }
        }
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

    fn check(dims: Dims, c_out: usize, padding: usize) {
        let [n, c_in, h, w] = dims;
        let x = values(n * c_in * h * w, 1);
        let weight = values(c_out * c_in * 9, 2);
        let expected = direct(&x, dims, &weight, c_out, padding);
        let actual = conv3x3(&x, dims, &weight, Filters::AsGiven, c_out, padding);
        assert_close(&actual, &expected, 1e-6, &format!("{dims:?} p{padding}"));
    }

    #[test]
    fn equals_the_direct_convolution_with_padding_one() {
        check([1, 3, 8, 8], 4, 1);
        check([2, 5, 7, 9], 3, 1); // odd sizes: the last tiles hang over the edge
        check([1, 64, 14, 14], 32, 1);
    }

    #[test]
    fn output_channels_beyond_one_block_and_a_partial_last_block() {
        check([1, 7, 6, 6], LANES + 4, 1);
        check([2, 3, 5, 4], 2 * LANES + 1, 0);
    }

    #[test]
    fn many_tiles_transform_all_filters_first() {
        let dims = [1, 3, 66, 66];
        const { assert!(33 * 33 > MANY_TILES) };
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

    fn check_filter_gradient(dims: Dims, c_out: usize, padding: usize) {
        let [n, c_in, h, w] = dims;
        let (out_h, out_w) = (h + 2 * padding - 2, w + 2 * padding - 2);
        let x = values(n * c_in * h * w, 5);
        let grad = values(n * c_out * out_h * out_w, 6);
        let expected = direct_filter_gradient(&x, dims, &grad, c_out, padding);
        let actual = conv3x3_filter_gradient(&x, dims, &grad, c_out, padding);
        assert_close(&actual, &expected, 1e-5, &format!("{dims:?} p{padding}"));
    }

    #[test]
    fn filter_gradient_equals_its_definition() {
        check_filter_gradient([1, 3, 8, 8], 4, 1);
        check_filter_gradient([2, 5, 7, 9], 3, 1); // odd sizes: the last tiles hang over the edge
        check_filter_gradient([2, 2, 6, 5], 3, 0);
        check_filter_gradient([1, 2, 1, 1], 2, 1); // smaller than a tile
        check_filter_gradient([2, 24, 10, 12], 20, 1);
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
        let actual = conv3x3(&x, dims, &weight, Filters::Transposed, c_out, 1);
        assert_close(&actual, &expected, 1e-6, "transposed");
    }
}
