//! Photo to network input: resize, then normalise into a CHW `f32` tensor.

use std::str::FromStr;

use ::image::RgbImage;
use ::image::imageops::{self, FilterType};

use crate::names::names;

/// How a photo of another aspect ratio is brought to the network's square (or any) input
/// size: one concept for training, evaluation, explanation and the viewer, spelt `squish` and
/// `crop` on every command line and in every file that records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Fit {
    /// Stretch to the target size. Keeps the whole photo, so the explanation
    /// covers every pixel the user sees (fastai's `ResizeMethod.Squish`); the viewer's way.
    #[default]
    #[serde(rename = "squish")]
    Squish,
    /// The centre of the photo at the target's aspect ratio, the borders cut off: no
    /// distortion, but the borders are not explained. Here [`resize`] scales, then crops like
    /// torchvision's `Resize(size)` + `CenterCrop(size)`; training crops first, at a random
    /// place (fastai's default `ResizeMethod.Crop`).
    #[serde(rename = "crop")]
    CenterCrop,
}

names!(Fit { Squish => "squish", CenterCrop => "crop" });

impl FromStr for Fit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fit::from_name(s)
            .ok_or_else(|| format!("unknown fit `{s}`; choose squish (the whole photo) or crop (its centre)"))
    }
}

/// Per-channel `(x / 255 - mean) / std`, applied by [`to_chw`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    /// Per-channel mean (R, G, B) of inputs in [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation (R, G, B).
    pub std: [f32; 3],
}

impl Normalization {
    /// The ImageNet statistics every torchvision/timm ResNet was trained with.
    pub const IMAGENET: Self = Self { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
}

impl Default for Normalization {
    fn default() -> Self {
        Self::IMAGENET
    }
}

/// Resizes to exactly `height` x `width` with a triangle (bilinear) filter.
///
/// `image`'s triangle filter widens its support when shrinking, like PIL's
/// bilinear resize that torchvision uses on PIL images, so a 4000 px photo is
/// averaged rather than aliased down to 224 px.
pub fn resize(photo: &RgbImage, height: u32, width: u32, fit: Fit) -> RgbImage {
    match fit {
        Fit::Squish => imageops::resize(photo, width, height, FilterType::Triangle),
        Fit::CenterCrop => {
            let (scaled_w, scaled_h) = cover_size(photo.width(), photo.height(), width, height);
            let scaled = imageops::resize(photo, scaled_w, scaled_h, FilterType::Triangle);
            let left = centre_offset(scaled_w, width);
            let top = centre_offset(scaled_h, height);
            imageops::crop_imm(&scaled, left, top, width, height).to_image()
        }
    }
}

/// The smallest size with the photo's aspect ratio that covers the target.
/// The constrained side gets the target exactly and the other is truncated,
/// as torchvision's `Resize(int)` computes `int(size * long / short)`.
fn cover_size(photo_w: u32, photo_h: u32, target_w: u32, target_h: u32) -> (u32, u32) {
    if photo_w == 0 || photo_h == 0 {
        return (target_w, target_h);
    }
    let (pw, ph, tw, th) = (u64::from(photo_w), u64::from(photo_h), u64::from(target_w), u64::from(target_h));
    // Compare target_h / photo_h with target_w / photo_w without division.
    if th * pw >= tw * ph {
        let w = (th * pw / ph).max(tw);
        (u32::try_from(w).unwrap_or(u32::MAX), target_h)
    } else {
        let h = (tw * ph / pw).max(th);
        (target_w, u32::try_from(h).unwrap_or(u32::MAX))
    }
}

/// torchvision's `int(round((size - crop) / 2))`. Python rounds halves to
/// even: a margin of 5 starts at 2 (round(2.5)), one of 7 at 4 (round(3.5)).
fn centre_offset(size: u32, crop: u32) -> u32 {
    let margin = size.saturating_sub(crop);
    let half = margin / 2;
    if margin % 2 == 1 && half % 2 == 1 { half + 1 } else { half }
}

/// Planar CHW values `(x / 255 - mean[c]) / std[c]`, ready for a `[1, 3, H, W]`
/// tensor: all of R, then all of G, then all of B, each plane row-major.
pub fn to_chw(img: &RgbImage, norm: &Normalization) -> Vec<f32> {
    let plane = img.width() as usize * img.height() as usize;
    let mut out = vec![0.0; 3 * plane];
    for (i, pixel) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (f32::from(pixel.0[c]) / 255.0 - norm.mean[c]) / norm.std[c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::image::{Luma, Rgb};

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn squish_gives_exact_size() {
        let photo = RgbImage::from_pixel(213, 160, Rgb([10, 200, 30]));
        let out = resize(&photo, 224, 224, Fit::Squish);
        assert_eq!(out.dimensions(), (224, 224));
        // A flat image stays flat: weights are normalised.
        assert!(out.pixels().all(|p| p.0 == [10, 200, 30]));
    }

    #[test]
    fn squish_upsampling_is_half_pixel_bilinear() {
        // [0, 255] -> 4 px: sources at -0.25, 0.25, 0.75, 1.25 give
        // 0, 0.25*255, 0.75*255, 255 after edge clamping.
        let photo = RgbImage::from_fn(2, 1, |x, _| Rgb([x as u8 * 255; 3]));
        let out = resize(&photo, 1, 4, Fit::Squish);
        let reds: Vec<u8> = out.pixels().map(|p| p.0[0]).collect();
        assert_eq!(reds, [0, 64, 191, 255]);
    }

    #[test]
    fn same_size_is_identity() {
        let photo = RgbImage::from_fn(5, 3, |x, y| Rgb([x as u8 * 40, y as u8 * 90, 7]));
        assert_eq!(resize(&photo, 3, 5, Fit::Squish), photo);
        assert_eq!(resize(&photo, 3, 5, Fit::CenterCrop), photo);
    }

    #[test]
    fn center_crop_keeps_the_middle() {
        // 40x20: red columns 0..8, green 8..32, blue 32..40. Short side 20 ->
        // 10 gives 20x10; the centre 10 columns come from source 10..30, far
        // enough from the colour edges for the filter's 2 px reach.
        let photo = RgbImage::from_fn(40, 20, |x, _| {
            Rgb(if x < 8 {
                [255, 0, 0]
            } else if x < 32 {
                [0, 255, 0]
            } else {
                [0, 0, 255]
            })
        });
        let out = resize(&photo, 10, 10, Fit::CenterCrop);
        assert_eq!(out.dimensions(), (10, 10));
        assert!(out.pixels().all(|p| p.0 == [0, 255, 0]), "{out:?}");
    }

    #[test]
    fn center_crop_to_a_non_square_target() {
        // Tall photo into a wide target: width is the constrained side.
        let photo = RgbImage::from_fn(20, 60, |_, y| Rgb([0, 0, if y < 30 { 0 } else { 255 }]));
        let out = resize(&photo, 5, 10, Fit::CenterCrop);
        assert_eq!(out.dimensions(), (10, 5));
    }

    /// A 20x15 pattern busy enough that any filter difference shows.
    fn pattern() -> RgbImage {
        RgbImage::from_fn(20, 15, |x, y| Rgb([0, 1, 2].map(|c| ((x * 37 + y * 91 + c * 53 + x * y * 7) % 256) as u8)))
    }

    fn assert_within_one(got: &RgbImage, want: &[u8]) {
        assert_eq!(got.as_raw().len(), want.len());
        for (i, (g, w)) in got.as_raw().iter().zip(want).enumerate() {
            assert!(g.abs_diff(*w) <= 1, "byte {i}: {g} vs {w}");
        }
    }

    #[test]
    fn squish_matches_pil_bilinear_within_one_level() {
        // PIL 13: Image.fromarray(pattern).resize((7, 5), Image.BILINEAR)
        #[rustfmt::skip]
        let pil = [
            114, 132, 141, 126, 133, 140, 123, 128, 134, 120, 130, 132, 125, 146, 112, 126, 123, 119, 115, 153, 136,
            122, 143, 122, 141, 134, 125, 135, 134, 120, 135, 130, 122, 128, 137, 134, 142, 143, 134, 141, 116, 131,
            126, 118, 136, 131, 124, 130, 129, 125, 129, 128, 117, 133, 133, 107, 148, 127, 127, 136, 138, 126, 129,
            155, 112, 130, 125, 133, 113, 112, 128, 148, 135, 128, 135, 144, 120, 142, 123, 115, 115, 118, 132, 128,
            119, 139, 112, 97, 146, 95, 95, 146, 109, 124, 141, 114, 131, 126, 108, 125, 114, 109, 133, 134, 116,
        ];
        assert_within_one(&resize(&pattern(), 5, 7, Fit::Squish), &pil);
    }

    #[test]
    fn center_crop_matches_torchvision_within_one_level() {
        // torchvision: CenterCrop(6)(Resize(6)(Image.fromarray(pattern))): 8x6, then columns 1..7.
        #[rustfmt::skip]
        let torchvision = [
            123, 132, 144, 126, 127, 134, 116, 130, 136, 120, 136, 121, 134, 143, 100, 114, 114, 131,
            140, 139, 128, 141, 132, 125, 126, 129, 124, 135, 137, 136, 119, 143, 131, 149, 141, 127,
            122, 128, 120, 145, 129, 126, 126, 128, 112, 138, 107, 135, 135, 128, 138, 129, 135, 140,
            145, 122, 134, 113, 130, 133, 129, 137, 129, 127, 111, 147, 141, 115, 147, 120, 120, 122,
            127, 127, 104, 97, 141, 139, 130, 119, 149, 141, 116, 137, 142, 126, 122, 114, 113, 114,
            95, 146, 106, 95, 148, 89, 105, 148, 107, 129, 145, 109, 129, 114, 109, 131, 117, 109,
        ];
        assert_within_one(&resize(&pattern(), 6, 6, Fit::CenterCrop), &torchvision);
    }

    #[test]
    fn cover_size_matches_torchvision() {
        // Resize(224) on 213x160 (w x h): short side 160 -> 224, long int(224*213/160) = 298.
        assert_eq!(cover_size(213, 160, 224, 224), (298, 224));
        assert_eq!(cover_size(160, 213, 224, 224), (224, 298));
        assert_eq!(cover_size(100, 100, 30, 20), (30, 30));
    }

    #[test]
    fn centre_offset_rounds_half_to_even() {
        assert_eq!(centre_offset(298, 224), 37);
        assert_eq!(centre_offset(229, 224), 2); // round(2.5) = 2
        assert_eq!(centre_offset(227, 224), 2); // round(1.5) = 2
        assert_eq!(centre_offset(231, 224), 4); // round(3.5) = 4
        assert_eq!(centre_offset(224, 224), 0);
    }

    #[test]
    fn zero_sizes_do_not_panic() {
        let photo = RgbImage::from_pixel(4, 4, Rgb([1, 2, 3]));
        assert_eq!(resize(&photo, 0, 0, Fit::Squish).dimensions(), (0, 0));
        assert_eq!(resize(&photo, 0, 0, Fit::CenterCrop).dimensions(), (0, 0));
        let empty = RgbImage::new(0, 0);
        assert_eq!(resize(&empty, 4, 4, Fit::Squish).dimensions(), (4, 4));
        assert_eq!(resize(&empty, 4, 4, Fit::CenterCrop).dimensions(), (4, 4));
    }

    #[test]
    fn chw_is_planar_and_normalised() {
        let img = RgbImage::from_fn(2, 1, |x, _| Rgb(if x == 0 { [255, 0, 128] } else { [0, 255, 64] }));
        let v = to_chw(&img, &Normalization::IMAGENET);
        // Worked by hand: R (1 - 0.485) / 0.229 = 2.2489083, (0 - 0.485) / 0.229 = -2.1179039;
        // G -0.456 / 0.224 = -2.0357143, 0.544 / 0.224 = 2.4285714;
        // B (128/255 - 0.406) / 0.225 = 0.4264924, (64/255 - 0.406) / 0.225 = -0.6889760.
        let expected = [2.248_908_3, -2.117_904, -2.035_714_3, 2.428_571_4, 0.426_492_4, -0.688_976];
        assert_eq!(v.len(), 6);
        for (got, want) in v.iter().zip(expected) {
            assert!(close(*got, want), "{got} vs {want}");
        }
    }

    #[test]
    fn identity_normalisation_gives_unit_range() {
        let norm = Normalization { mean: [0.0; 3], std: [1.0; 3] };
        let img = ::image::GrayImage::from_pixel(3, 2, Luma([51]));
        let rgb = ::image::DynamicImage::ImageLuma8(img).into_rgb8();
        assert!(to_chw(&rgb, &norm).iter().all(|&v| close(v, 0.2)));
        assert_eq!(Normalization::default(), Normalization::IMAGENET);
    }

    #[test]
    fn fit_names_parse_back_and_are_what_files_record() {
        for fit in Fit::ALL {
            assert_eq!(fit.name().parse::<Fit>(), Ok(fit));
            assert_eq!(fit.to_string(), fit.name());
            assert_eq!(serde_json::to_string(&fit).unwrap(), format!("\"{}\"", fit.name()));
        }
        let err = "stretch".parse::<Fit>().unwrap_err();
        assert!(err.contains("squish") && err.contains("crop"), "{err}");
    }
}
