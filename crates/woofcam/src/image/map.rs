//! Host-side containers for what the explainers return, and their scalings.
//!
//! The fields are public so the explainers can fill them straight from a
//! tensor's data; [`Map::new`] and [`InputGradient::new`] check the shape for
//! callers that want the check. Every method here tolerates an inconsistent
//! value count (missing values read as 0) instead of panicking.

use ::image::{Rgb, RgbImage};

use super::ImageError;
use super::colormap::to_byte;

/// One value per pixel, row-major: a Grad-CAM heat map, or a grey saliency map.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `height * width` values, row after row.
    pub values: Vec<f32>,
}

impl Map {
    /// A map, if `values` has exactly `height * width` entries.
    ///
    /// # Errors
    ///
    /// [`ImageError::Shape`] otherwise.
    pub fn new(height: usize, width: usize, values: Vec<f32>) -> Result<Self, ImageError> {
        check_len(format!("{height}x{width} map"), height * width, values.len())?;
        Ok(Self { height, width, values })
    }

    /// The same map scaled to [0, 1] by its own minimum and maximum, the
    /// usual Grad-CAM display normalisation.
    ///
    /// A constant map (no contrast to show) becomes all zeros rather than
    /// 0/0 = NaN; NaN values become 0; the extremes are taken over finite
    /// values, so a stray infinity saturates instead of flattening the rest.
    pub fn min_max_scaled(&self) -> Map {
        Map { height: self.height, width: self.width, values: min_max_scale(&self.values) }
    }

    /// The largest value, ignoring NaN; `f32::NEG_INFINITY` for an empty map.
    /// Grad-CAM's raw maximum tells how strongly the class was found before
    /// scaling throws that away.
    pub fn max(&self) -> f32 {
        self.values.iter().copied().filter(|v| !v.is_nan()).fold(f32::NEG_INFINITY, f32::max)
    }

    /// The value at row `y`, column `x`, or `None` outside the map (handy
    /// for a mouse position that left the image).
    pub fn value_at(&self, y: usize, x: usize) -> Option<f32> {
        if y >= self.height || x >= self.width {
            return None;
        }
        self.values.get(y * self.width + x).copied()
    }
}

/// The gradient of a class score with respect to the input image (Guided
/// Backprop), planar CHW with 3 channels in the network's R, G, B order.
#[derive(Debug, Clone, PartialEq)]
pub struct InputGradient {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `3 * height * width` values: the R plane, then G, then B.
    pub values: Vec<f32>,
}

impl InputGradient {
    /// A gradient, if `values` has exactly `3 * height * width` entries.
    ///
    /// # Errors
    ///
    /// [`ImageError::Shape`] otherwise.
    pub fn new(height: usize, width: usize, values: Vec<f32>) -> Result<Self, ImageError> {
        check_len(format!("3x{height}x{width} gradient"), 3 * height * width, values.len())?;
        Ok(Self { height, width, values })
    }

    /// The coloured Guided Backprop picture as pytorch-grad-cam draws it (`deprocess_image`):
    /// the whole tensor standardised with one mean and standard deviation (per-channel ones
    /// would invent colours), then `0.5 + 0.1 * z` clipped to [0, 1], channel c shown as
    /// colour c. Min-max scaling, by contrast, lets a few outlying pixels flatten the rest
    /// to mid-grey.
    pub fn to_rgb_standardised(&self) -> RgbImage {
        let finite: Vec<f64> = self.values.iter().filter(|v| v.is_finite()).map(|&v| f64::from(v)).collect();
        let n = finite.len().max(1) as f64;
        let mean = finite.iter().sum::<f64>() / n;
        let std = (finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let shown = |v: f32| if v.is_finite() { 0.5 + 0.1 * (f64::from(v) - mean) / (std + 1e-5) } else { 0.5 };
        let plane = self.height * self.width;
        RgbImage::from_fn(self.width as u32, self.height as u32, |x, y| {
            let i = y as usize * self.width + x as usize;
            Rgb([0, 1, 2].map(|c| to_byte(shown(self.values.get(c * plane + i).copied().unwrap_or(0.0)) as f32)))
        })
    }

    /// A grey saliency map: per pixel the largest |gradient| over the three
    /// channels (Simonyan et al. 2014), then min-max scaled to [0, 1].
    ///
    /// The absolute value is taken because a pixel matters whether making it
    /// brighter raises or lowers the score, and the maximum rather than the
    /// sum because one strongly responding channel is enough to matter.
    pub fn to_grey(&self) -> Map {
        let plane = self.height * self.width;
        let at = |i: usize| self.values.get(i).copied().unwrap_or(0.0).abs();
        let strength: Vec<f32> = (0..plane).map(|i| at(i).max(at(plane + i)).max(at(2 * plane + i))).collect();
        Map { height: self.height, width: self.width, values: min_max_scale(&strength) }
    }
}

fn check_len(shape: String, expected: usize, actual: usize) -> Result<(), ImageError> {
    if expected == actual { Ok(()) } else { Err(ImageError::Shape { shape, expected, actual }) }
}

/// Scales to [0, 1] by the finite extremes; see [`Map::min_max_scaled`].
fn min_max_scale(values: &[f32]) -> Vec<f32> {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let range = hi - lo;
    if range.is_nan() || range <= 0.0 {
        // No finite values, or all equal: nothing to contrast.
        return vec![0.0; values.len()];
    }
    values.iter().map(|&v| if v.is_nan() { 0.0 } else { ((v - lo) / range).clamp(0.0, 1.0) }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(height: usize, width: usize, values: &[f32]) -> Map {
        Map::new(height, width, values.to_vec()).unwrap()
    }

    #[test]
    fn new_checks_the_value_count() {
        assert!(Map::new(2, 3, vec![0.0; 6]).is_ok());
        let err = Map::new(2, 3, vec![0.0; 5]).unwrap_err();
        assert_eq!(err.to_string(), "a 2x3 map needs 6 values but 5 were given");
        assert!(InputGradient::new(2, 2, vec![0.0; 12]).is_ok());
        assert!(matches!(
            InputGradient::new(2, 2, vec![0.0; 4]),
            Err(ImageError::Shape { expected: 12, actual: 4, .. })
        ));
    }

    #[test]
    fn min_max_scaling_spans_zero_to_one() {
        let scaled = map(1, 4, &[2.0, 4.0, 3.0, 6.0]).min_max_scaled();
        assert_eq!(scaled.values, [0.0, 0.5, 0.25, 1.0]);
        assert_eq!((scaled.height, scaled.width), (1, 4));
    }

    #[test]
    fn constant_map_scales_to_zeros_not_nan() {
        assert_eq!(map(2, 2, &[0.7; 4]).min_max_scaled().values, [0.0; 4]);
        assert_eq!(map(1, 2, &[0.0; 2]).min_max_scaled().values, [0.0; 2]);
        assert!(map(0, 0, &[]).min_max_scaled().values.is_empty());
    }

    #[test]
    fn non_finite_values_do_not_poison_the_scale() {
        let scaled = map(1, 5, &[f32::NAN, 1.0, 3.0, f32::INFINITY, f32::NEG_INFINITY]).min_max_scaled();
        assert_eq!(scaled.values, [0.0, 0.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn max_ignores_nan() {
        assert_eq!(map(1, 3, &[1.0, f32::NAN, -2.0]).max(), 1.0);
        assert_eq!(map(1, 2, &[-3.0, -2.0]).max(), -2.0);
        assert_eq!(map(0, 0, &[]).max(), f32::NEG_INFINITY);
    }

    #[test]
    fn value_at_is_row_major_and_bounded() {
        let m = map(2, 3, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(m.value_at(1, 0), Some(3.0));
        assert_eq!(m.value_at(0, 2), Some(2.0));
        assert_eq!(m.value_at(2, 0), None);
        assert_eq!(m.value_at(0, 3), None);
        // Inconsistent public fields: no panic.
        let short = Map { height: 2, width: 3, values: vec![1.0] };
        assert_eq!(short.value_at(1, 1), None);
    }

    #[test]
    fn gradient_to_rgb_is_pytorch_grad_cams_deprocess_image_over_all_channels() {
        // 1x2 pixels; R = [-1, 1], G = [0, 0], B = [0.5, -0.5]: mean 0, std sqrt(2.5 / 6).
        // np.clip((v - v.mean()) / (v.std() + 1e-5) * 0.1 + 0.5, 0, 1) * 255, rounded (pytorch-grad-cam
        // truncates with np.uint8: at most one level lower).
        let g = InputGradient::new(1, 2, vec![-1.0, 1.0, 0.0, 0.0, 0.5, -0.5]).unwrap();
        let rgb = g.to_rgb_standardised();
        assert_eq!(rgb.dimensions(), (2, 1));
        assert_eq!(rgb.get_pixel(0, 0).0, [88, 128, 147]);
        assert_eq!(rgb.get_pixel(1, 0).0, [167, 128, 108]);
    }

    #[test]
    fn constant_gradient_is_mid_grey() {
        let g = InputGradient::new(2, 2, vec![0.0; 12]).unwrap();
        assert!(g.to_rgb_standardised().pixels().all(|p| p.0 == [128, 128, 128]));
        assert_eq!(g.to_grey().values, [0.0; 4]);
    }

    #[test]
    fn grey_is_max_abs_over_channels_then_min_max() {
        // Pixel strengths max(|r|,|g|,|b|): 3, 1, 2 (the -3 counts as much as a 3).
        let g = InputGradient::new(1, 3, vec![-3.0, 0.5, 0.0, 1.0, -1.0, 2.0, 0.0, 0.0, -0.5]).unwrap();
        let grey = g.to_grey();
        assert_eq!((grey.height, grey.width), (1, 3));
        assert_eq!(grey.values, [1.0, 0.0, 0.5]);
    }
}
