//! Data-parallel loops for the CPU kernels (the Winograd convolution, BatchNorm): on all
//! cores natively and in the browser's threaded build, in turn in its single-threaded one.

/// A pointer threads may share, each writing elements no other one touches.
#[derive(Clone, Copy)]
pub(super) struct SharedMut(pub(super) *mut f32);
// SAFETY: users write disjoint elements only (see the SAFETY notes where it is written).
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so that closures capture the `Sync` wrapper, not the field).
    pub(super) fn get(self) -> *mut f32 {
        self.0
    }
}

/// Runs `job(index)` for every index below `count`.
pub(super) fn for_each_index(count: usize, job: impl Fn(usize) + Send + Sync) {
    #[cfg(any(not(target_family = "wasm"), feature = "threads"))]
    {
        use rayon::prelude::*;
        (0..count).into_par_iter().for_each(job);
    }
    #[cfg(all(target_family = "wasm", not(feature = "threads")))]
    (0..count).for_each(job);
}

/// Runs `job(index, chunk)` over `data` cut into `size`-long chunks.
pub(super) fn for_each_chunk(data: &mut [f32], size: usize, job: impl Fn(usize, &mut [f32]) + Send + Sync) {
    #[cfg(any(not(target_family = "wasm"), feature = "threads"))]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(size).enumerate().for_each(|(index, chunk)| job(index, chunk));
    }
    #[cfg(all(target_family = "wasm", not(feature = "threads")))]
    data.chunks_mut(size).enumerate().for_each(|(index, chunk)| job(index, chunk));
}

/// `Σ job(index)` over the indices below `count`, of `len`-long vectors: each
/// `job(index, scratch, sum)` adds its term into `sum`, with a `scratch_len`-long buffer of
/// its thread's to work in (contents left from earlier jobs). Threads sum into their own
/// vectors, added together at the end.
pub(super) fn sum_over(
    count: usize,
    len: usize,
    scratch_len: usize,
    job: impl Fn(usize, &mut [f32], &mut [f32]) + Send + Sync,
) -> Vec<f32> {
    let buffers = || (vec![0.0f32; scratch_len], vec![0.0f32; len]);
    #[cfg(any(not(target_family = "wasm"), feature = "threads"))]
    {
        use rayon::prelude::*;
        (0..count)
            .into_par_iter()
            .fold(buffers, |(mut scratch, mut sum), index| {
                job(index, &mut scratch, &mut sum);
                (scratch, sum)
            })
            .map(|(_, sum)| sum)
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            })
            .unwrap_or_else(|| vec![0.0; len])
    }
    #[cfg(all(target_family = "wasm", not(feature = "threads")))]
    {
        let (mut scratch, mut sum) = buffers();
        (0..count).for_each(|index| job(index, &mut scratch, &mut sum));
        sum
    }
}
