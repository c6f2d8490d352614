//! Up-sampling a coarse heat map (7x7 for ResNet34's last block) to photo size.
//!
//! Both functions reproduce PyTorch's `F.interpolate(..., align_corners=False)`
//! so heat maps line up pixel for pixel with the reference implementation:
//! output pixel `d` samples the input at `(d + 0.5) * in / out - 0.5`, i.e. pixel
//! centres map to pixel centres and the map does not drift by half a cell.
//! Missing values of an inconsistent [`Map`] read as 0; an empty map gives zeros.

use super::map::Map;

/// Bilinear resize, `mode="bilinear"` in PyTorch (no antialiasing): faithful
/// to the coarse cells (every output lies between its neighbours), slightly
/// blocky when a 7x7 map is blown up 32 times.
pub fn bilinear_resize(map: &Map, height: usize, width: usize) -> Map {
    let rows: Vec<_> = (0..height).map(|d| linear_taps(d, map.height, height)).collect();
    let cols: Vec<_> = (0..width).map(|d| linear_taps(d, map.width, width)).collect();
    resample(map, height, width, |y, x| {
        let ((y0, y1, ly), (x0, x1, lx)) = (rows[y], cols[x]);
        let at = |y, x| map.value_at(y, x).unwrap_or(0.0);
        // Same association as PyTorch's kernel, so f32 results agree closely.
        (1.0 - ly) * ((1.0 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1.0 - lx) * at(y1, x0) + lx * at(y1, x1))
    })
}

/// Bicubic resize, `mode="bicubic"` in PyTorch (Keys' cubic convolution with
/// A = -0.75, border pixels repeated): the smooth, spline-like look. Unlike
/// bilinear it overshoots next to sharp peaks, so the result can leave the
/// input's range; re-scale it with [`Map::min_max_scaled`] (colour maps clamp).
pub fn bicubic_resize(map: &Map, height: usize, width: usize) -> Map {
    let rows: Vec<_> = (0..height).map(|d| cubic_taps(d, map.height, height)).collect();
    let cols: Vec<_> = (0..width).map(|d| cubic_taps(d, map.width, width)).collect();
    resample(map, height, width, |y, x| {
        let ((ys, wy), (xs, wx)) = (&rows[y], &cols[x]);
        // Along x within each of the four rows, then along y, as PyTorch does.
        let along_x = |y| xs.iter().zip(wx).map(|(&x, w)| w * map.value_at(y, x).unwrap_or(0.0)).sum::<f32>();
        ys.iter().zip(wy).map(|(&y, w)| w * along_x(y)).sum()
    })
}

/// Evaluates `sample(y, x)` over the output grid, row by row.
fn resample(map: &Map, height: usize, width: usize, sample: impl Fn(usize, usize) -> f32) -> Map {
    let values = if map.height == 0 || map.width == 0 {
        vec![0.0; height * width]
    } else {
        (0..height).flat_map(|y| (0..width).map(move |x| (y, x))).map(|(y, x)| sample(y, x)).collect()
    };
    Map { height, width, values }
}

/// PyTorch's `area_pixel_compute_source_index` without the clamp.
fn source_index(dst: usize, in_size: usize, out_size: usize) -> f32 {
    let scale = in_size as f32 / out_size as f32;
    scale * (dst as f32 + 0.5) - 0.5
}

/// The two neighbours and the weight of the second. Positions left of the
/// first centre clamp to it; the right neighbour stops at the last pixel.
fn linear_taps(dst: usize, in_size: usize, out_size: usize) -> (usize, usize, f32) {
    let src = source_index(dst, in_size, out_size).max(0.0);
    let i0 = (src as usize).min(in_size.saturating_sub(1));
    let i1 = if i0 + 1 < in_size { i0 + 1 } else { i0 };
    (i0, i1, src - i0 as f32)
}

/// The four neighbours (border-clamped indices) and their cubic weights.
fn cubic_taps(dst: usize, in_size: usize, out_size: usize) -> ([usize; 4], [f32; 4]) {
    let src = source_index(dst, in_size, out_size);
    let floor = src.floor();
    let t = src - floor;
    let last = in_size.saturating_sub(1) as isize;
    let base = floor as isize;
    let index = [0, 1, 2, 3].map(|k| (base + k - 1).clamp(0, last) as usize);
    (index, cubic_weights(t))
}

/// Keys' cubic convolution weights for the taps at -1, 0, 1, 2 around a
/// fractional offset `t`, with PyTorch's A = -0.75 (OpenCV's too; PIL and
/// Catmull-Rom use the softer -0.5).
fn cubic_weights(t: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let near = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0; // |x| <= 1
    let far = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A; // 1 < |x| < 2
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x4 map with no linear structure, so interpolation errors show.
    fn sample_map() -> Map {
        Map::new(3, 4, vec![1.0, 0.0, 3.0, 2.0, 0.0, 5.0, 1.0, 4.0, 2.0, 2.0, 0.0, 7.0]).unwrap()
    }

    fn assert_close(got: &Map, want: &[f32]) {
        assert_eq!(got.values.len(), want.len());
        for (i, (g, w)) in got.values.iter().zip(want).enumerate() {
            assert!((g - w).abs() < 1e-5, "value {i}: {g} vs torch {w}");
        }
    }

    // Expected values: torch 2.15, F.interpolate(x, size, mode, align_corners=False)
    // on sample_map() as a [1, 1, 3, 4] float32 tensor, printed to 6 decimals.

    #[test]
    fn bilinear_upsampling_matches_torch() {
        let out = bilinear_resize(&sample_map(), 5, 7);
        assert_eq!((out.height, out.width), (5, 7));
        #[rustfmt::skip]
        assert_close(&out, &[
            1.0, 0.642857, 0.071429, 1.5, 2.928571, 2.357143, 2.0,
            0.6, 1.1, 1.9, 2.1, 2.242857, 2.585714, 2.8,
            0.0, 1.785715, 4.642858, 3.0, 1.214286, 2.928572, 4.0,
            1.2, 1.914286, 3.057143, 1.799999, 0.785715, 3.87143, 5.8,
            2.0, 2.0, 2.0, 1.0, 0.500001, 4.500001, 7.0,
        ]);
    }

    #[test]
    fn bilinear_downsampling_matches_torch() {
        let out = bilinear_resize(&sample_map(), 2, 3);
        assert_close(&out, &[0.833333, 1.875, 2.5, 1.708333, 1.5, 5.250001]);
    }

    #[test]
    fn bilinear_by_hand() {
        // 1x2 [0, 1] -> 1x4: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25
        // (right neighbour clamped): 0, 0.25, 0.75, 1.
        let m = Map::new(1, 2, vec![0.0, 1.0]).unwrap();
        assert_eq!(bilinear_resize(&m, 1, 4).values, [0.0, 0.25, 0.75, 1.0]);
    }

    #[test]
    fn bicubic_upsampling_matches_torch() {
        let out = bicubic_resize(&sample_map(), 5, 7);
        #[rustfmt::skip]
        assert_close(&out, &[
            1.252366, 0.333168, -0.559444, 1.338001, 3.28243, 2.505408, 1.670685,
            0.300523, 1.034565, 2.052953, 2.3595, 2.317571, 2.478653, 2.586194,
            -0.496082, 1.949708, 4.898687, 3.1875, 0.986881, 2.731779, 4.297649,
            0.91666, 2.161957, 3.539792, 1.568624, 0.420683, 3.823783, 6.549106,
            2.239625, 2.139632, 1.822979, 0.07075, 0.24297, 4.660763, 8.020616,
        ]);
    }

    #[test]
    fn bicubic_downsampling_matches_torch() {
        let out = bicubic_resize(&sample_map(), 2, 3);
        assert_close(&out, &[0.756601, 1.9823, 2.404623, 1.751434, 1.047363, 5.449017]);
    }

    #[test]
    fn cubic_weights_sum_to_one_and_interpolate() {
        for t in [0.0, 0.1, 0.25, 0.5, 0.9] {
            let sum: f32 = cubic_weights(t).iter().sum();
            assert!((sum - 1.0).abs() < 1e-6, "t={t}: {sum}");
        }
        // At t = 0 the kernel passes through the sample itself.
        assert_eq!(cubic_weights(0.0), [0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn same_size_is_identity() {
        let m = sample_map();
        assert_eq!(bilinear_resize(&m, 3, 4), m);
        assert_close(&bicubic_resize(&m, 3, 4), &m.values);
    }

    #[test]
    fn degenerate_sizes_do_not_panic() {
        let empty = Map { height: 0, width: 0, values: vec![] };
        assert_eq!(bilinear_resize(&empty, 2, 2).values, [0.0; 4]);
        assert_eq!(bicubic_resize(&empty, 2, 2).values, [0.0; 4]);
        assert!(bilinear_resize(&sample_map(), 0, 5).values.is_empty());
        let one = Map::new(1, 1, vec![0.5]).unwrap();
        assert_eq!(bilinear_resize(&one, 3, 3).values, [0.5; 9]);
        assert_close(&bicubic_resize(&one, 3, 3), &[0.5; 9]);
        // Inconsistent public fields read missing values as 0.
        let short = Map { height: 2, width: 2, values: vec![1.0] };
        assert_eq!(bilinear_resize(&short, 2, 2).values, [1.0, 0.0, 0.0, 0.0]);
    }
}
