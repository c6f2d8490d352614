//! Matrix products on strided matrices for the CPU kernels (the Winograd convolution, the
//! im2col filter gradient), by the `gemm` crate, whose kernels Burn's CPU backend uses.
//! Each product runs on the calling thread: the callers run theirs in parallel.

use gemm::{Parallelism, gemm};

/// A matrix in memory: element (i, j) at `ptr + i * row + j * col` (strides in elements).
#[derive(Clone, Copy)]
pub(super) struct Strided<P> {
    ptr: P,
    row: usize,
    col: usize,
}

impl<P> Strided<P> {
    pub(super) fn new(ptr: P, row: usize, col: usize) -> Self {
        Self { ptr, row, col }
    }
}

/// `dst = lhs rhs` for an `[m, k]` times `[k, n]` product.
///
/// # Safety
/// `dst`, `lhs` and `rhs` must address `m x n`, `m x k` and `k x n` elements with their
/// strides, and nothing else may read or write `dst`'s elements meanwhile.
pub(super) unsafe fn product(
    dims: [usize; 3],
    dst: Strided<*mut f32>,
    lhs: Strided<*const f32>,
    rhs: Strided<*const f32>,
) {
    // SAFETY: as the caller guarantees.
    unsafe { gemm_into(dims, dst, lhs, rhs, false) }
}

/// `dst += lhs rhs`, as [`product`] otherwise.
///
/// # Safety
/// As [`product`].
pub(super) unsafe fn add_product(
    dims: [usize; 3],
    dst: Strided<*mut f32>,
    lhs: Strided<*const f32>,
    rhs: Strided<*const f32>,
) {
    // SAFETY: as the caller guarantees.
    unsafe { gemm_into(dims, dst, lhs, rhs, true) }
}

unsafe fn gemm_into(
    [m, k, n]: [usize; 3],
    dst: Strided<*mut f32>,
    lhs: Strided<*const f32>,
    rhs: Strided<*const f32>,
    accumulate: bool,
) {
    // gemm computes dst = alpha dst + beta lhs rhs, reading dst only when asked to.
    let alpha = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: as the callers guarantee.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.ptr,
            dst.col as isize,
            dst.row as isize,
            accumulate,
            lhs.ptr,
            lhs.col as isize,
            lhs.row as isize,
            rhs.ptr,
            rhs.col as isize,
            rhs.row as isize,
            alpha,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}
