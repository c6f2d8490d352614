//! Compositing: a heat map blended over its photo, and results in a strip.

use ::image::{Rgb, RgbImage, imageops};

use super::ImageError;

/// White pixels between the images of [`side_by_side`]; public so a viewer
/// can map a click on the strip back to one of its images.
pub const SIDE_BY_SIDE_GAP: u32 = 6;

/// `(1 - alpha) * photo + alpha * heat`, per channel, rounded.
///
/// `alpha` is clamped to [0, 1] (NaN counts as 0: the bare photo). The heat
/// image must already have the photo's size: resizing here would hide which
/// interpolation was used, and that choice matters for what the user sees
/// ([`bilinear_resize`](super::bilinear_resize) or
/// [`bicubic_resize`](super::bicubic_resize) the map before colouring it).
///
/// # Errors
///
/// [`ImageError::SizeMismatch`] when the two images differ in size.
pub fn overlay(photo: &RgbImage, heat: &RgbImage, alpha: f32) -> Result<RgbImage, ImageError> {
    if photo.dimensions() != heat.dimensions() {
        return Err(ImageError::SizeMismatch {
            photo_width: photo.width(),
            photo_height: photo.height(),
            heat_width: heat.width(),
            heat_height: heat.height(),
        });
    }
    let alpha = if alpha.is_nan() { 0.0 } else { alpha.clamp(0.0, 1.0) };
    let mut out = photo.clone();
    for (o, h) in out.pixels_mut().zip(heat.pixels()) {
        for (oc, &hc) in o.0.iter_mut().zip(&h.0) {
            let mixed = (1.0 - alpha) * f32::from(*oc) + alpha * f32::from(hc);
            *oc = mixed.round().clamp(0.0, 255.0) as u8;
        }
    }
    Ok(out)
}

/// The images left to right, [`SIDE_BY_SIDE_GAP`] pixels apart, top-aligned
/// on white (shorter images leave white below them). No images give a 0x0 image.
pub fn side_by_side(images: &[&RgbImage]) -> RgbImage {
    let gaps = SIDE_BY_SIDE_GAP * (images.len() as u32).saturating_sub(1);
    let width = images.iter().map(|i| i.width()).sum::<u32>() + gaps;
    let height = images.iter().map(|i| i.height()).max().unwrap_or(0);
    let mut strip = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let mut x = 0;
    for image in images {
        imageops::replace(&mut strip, *image, i64::from(x), 0);
        x += image.width() + SIDE_BY_SIDE_GAP;
    }
    strip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_blends_linearly() {
        let photo = RgbImage::from_pixel(2, 2, Rgb([100, 0, 255]));
        let heat = RgbImage::from_pixel(2, 2, Rgb([200, 255, 0]));
        let out = overlay(&photo, &heat, 0.25).unwrap();
        // 0.75 * 100 + 0.25 * 200 = 125; 0.25 * 255 = 63.75 -> 64; 0.75 * 255 = 191.25 -> 191.
        assert!(out.pixels().all(|p| p.0 == [125, 64, 191]));
    }

    #[test]
    fn overlay_alpha_is_clamped() {
        let photo = RgbImage::from_pixel(1, 1, Rgb([10, 20, 30]));
        let heat = RgbImage::from_pixel(1, 1, Rgb([200, 210, 220]));
        assert_eq!(overlay(&photo, &heat, 0.0).unwrap(), photo);
        assert_eq!(overlay(&photo, &heat, -1.0).unwrap(), photo);
        assert_eq!(overlay(&photo, &heat, f32::NAN).unwrap(), photo);
        assert_eq!(overlay(&photo, &heat, 1.0).unwrap(), heat);
        assert_eq!(overlay(&photo, &heat, 3.0).unwrap(), heat);
    }

    #[test]
    fn overlay_refuses_mismatched_sizes() {
        let photo = RgbImage::new(213, 160);
        let heat = RgbImage::new(224, 224);
        let err = overlay(&photo, &heat, 0.5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the heat map is 224x224 but the photo is 213x160; resize the heat map to the photo's size first"
        );
    }

    #[test]
    fn side_by_side_lays_out_with_gaps_and_top_alignment() {
        let red = RgbImage::from_pixel(3, 4, Rgb([255, 0, 0]));
        let blue = RgbImage::from_pixel(2, 2, Rgb([0, 0, 255]));
        let strip = side_by_side(&[&red, &blue]);
        assert_eq!(strip.dimensions(), (3 + SIDE_BY_SIDE_GAP + 2, 4));
        assert_eq!(strip.get_pixel(0, 3).0, [255, 0, 0]);
        assert_eq!(strip.get_pixel(3, 0).0, [255, 255, 255]); // gap
        let bx = 3 + SIDE_BY_SIDE_GAP;
        assert_eq!(strip.get_pixel(bx, 0).0, [0, 0, 255]);
        assert_eq!(strip.get_pixel(bx + 1, 1).0, [0, 0, 255]);
        assert_eq!(strip.get_pixel(bx, 2).0, [255, 255, 255]); // below the short one
    }

    #[test]
    fn side_by_side_edge_cases() {
        assert_eq!(side_by_side(&[]).dimensions(), (0, 0));
        let one = RgbImage::from_pixel(5, 3, Rgb([1, 2, 3]));
        assert_eq!(side_by_side(&[&one]), one);
    }
}
