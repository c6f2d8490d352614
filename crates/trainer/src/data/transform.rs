//! fastai's per-sample image pipeline for training a classifier, in Rust on `RgbImage`s.
//!
//! fastai (`fastai/vision/augment.py`, fastai/fastai) trains Imagewoof with
//! `item_tfms=Resize(resize)` and `batch_tfms=aug_transforms(size=size)`:
//!
//! * `Resize` with its default `ResizeMethod.Crop`: the largest crop with the target's
//!   aspect ratio (a square here), placed at `int(pct * (w - crop))` with `pct` drawn from
//!   `random.random()` on train and 0.5 on valid, then a PIL bilinear resize;
//! * `aug_transforms` (defaults `do_flip=True, max_rotate=10., min_zoom=1., max_zoom=1.1,
//!   max_lighting=0.2, max_warp=0.2, p_affine=0.75, p_lighting=0.75,
//!   pad_mode=PadMode.Reflection, align_corners=True`): one composed coordinate transform
//!   (flip @ rotate @ zoom, then the perspective `Warp`) sampled bilinearly with reflection
//!   padding (`F.grid_sample`), then brightness and contrast in logit space. On the valid
//!   split the affine part is the identity, so it only resizes to `size`.
//!
//! fastai runs the batch transforms on the GPU in float; here they run per sample on the
//! loader's worker threads, and the warped image is rounded to 8 bits (an error of at most
//! half a grey level, far below the augmentation itself). Random draws come from the
//! sample's own [`SplitMix64`], so the output is a function of (photo, seed, epoch, item).

use image::{Rgb, RgbImage};
use woofcam::image::{Fit, Normalization, resize};

use super::SplitMix64;

/// Which side of the split a sample is on: augmentation is for training only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    Train,
    Valid,
}

/// The batch augmentation's knobs, defaulting to fastai's `aug_transforms()`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    /// Probability of a horizontal flip (`Flip(p=0.5)`).
    pub p_flip: f64,
    /// Rotation drawn uniformly in +-this many degrees.
    pub max_rotate: f64,
    /// Zoom factor drawn uniformly in `min_zoom..max_zoom`.
    pub min_zoom: f64,
    pub max_zoom: f64,
    /// Perspective warp magnitude, in normalised coordinates.
    pub max_warp: f64,
    /// Brightness and contrast strength.
    pub max_lighting: f64,
    /// Probability of each of warp (x and y separately), rotation and zoom.
    pub p_affine: f64,
    /// Probability of each of brightness and contrast.
    pub p_lighting: f64,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            p_flip: 0.5,
            max_rotate: 10.0,
            min_zoom: 1.0,
            max_zoom: 1.1,
            max_warp: 0.2,
            max_lighting: 0.2,
            p_affine: 0.75,
            p_lighting: 0.75,
        }
    }
}

/// The whole per-sample pipeline: photo in, network input out.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    /// The item transform's square size (`Resize(resize)`).
    pub resize: u32,
    /// How the item transform reaches that square: fastai's `ResizeMethod`, `Crop` (at a
    /// random place on train, the centre on valid) or `Squish`.
    pub fit: Fit,
    /// The batch transform's output size (`aug_transforms(size=size)`), the network input.
    pub size: u32,
    pub augment: Augment,
    pub normalization: Normalization,
}

impl Transform {
    /// fastai's recipe with ImageNet statistics. Sizes below 2 pixels have no
    /// `align_corners` grid; the command line refuses them before this point.
    pub fn new(resize: u32, size: u32) -> Self {
        Self {
            resize: resize.max(2),
            fit: Fit::CenterCrop,
            size: size.max(2),
            augment: Augment::default(),
            normalization: Normalization::IMAGENET,
        }
    }

    /// The transformed `size` x `size` image, before normalisation.
    pub fn image(&self, photo: &RgbImage, split: Split, rng: &mut SplitMix64) -> RgbImage {
        self.images(photo, split, rng, &[self.size]).remove(0)
    }

    /// One draw of the pipeline (crop position, warp, lighting) rendered at each of `sizes`
    /// (sizes below 2 count as 2): the same view of the photo at several resolutions. A
    /// distillation teacher gets the student's view at its own input size this way, rendered
    /// from the photo rather than upsampled from the student's smaller image. Rendering at
    /// `[self.size]` takes the same random draws as [`Transform::image`].
    pub fn images(&self, photo: &RgbImage, split: Split, rng: &mut SplitMix64, sizes: &[u32]) -> Vec<RgbImage> {
        let item = match self.fit {
            Fit::CenterCrop => resize_crop(photo, self.resize, split, rng),
            Fit::Squish => resize(photo, self.resize, self.resize, Fit::Squish),
        };
        let (coords, lighting) = match split {
            Split::Valid => (Warp::IDENTITY, None),
            Split::Train => {
                let coords = self.augment.draw_warp(rng);
                (coords, Some(self.augment.draw_lighting(rng)))
            }
        };
        sizes
            .iter()
            .map(|&size| {
                let mut out = warp(&item, &coords, size.max(2));
                if let Some(lighting) = lighting {
                    lighting.apply(&mut out);
                }
                out
            })
            .collect()
    }
}

/// fastai's `Resize(size, method=ResizeMethod.Crop)` for a square target. The arithmetic is
/// done in f64 with truncation exactly as fastai's Python does it.
fn resize_crop(photo: &RgbImage, target: u32, split: Split, rng: &mut SplitMix64) -> RgbImage {
    let (w, h) = photo.dimensions();
    let t = f64::from(target);
    let m = (f64::from(w) / t).min(f64::from(h) / t);
    let crop = ((m * t) as u32).clamp(1, w.min(h));
    let (px, py) = match split {
        Split::Train => (rng.next_f64(), rng.next_f64()),
        Split::Valid => (0.5, 0.5),
    };
    let left = (px * f64::from(w - crop)) as u32;
    let top = (py * f64::from(h - crop)) as u32;
    let cropped = image::imageops::crop_imm(photo, left, top, crop, crop).to_image();
    resize(&cropped, target, target, Fit::Squish)
}

/// A coordinate transform from output to input in fastai's normalised [-1, 1] coordinates
/// (x to the right, y down): first `affine`, then the optional perspective homography.
#[derive(Debug, Clone, PartialEq)]
struct Warp {
    /// Rows of a 2x3 matrix applied to (x, y, 1).
    affine: [[f64; 3]; 2],
    /// A 3x3 homography with its last entry 1, as fastai's `find_coeffs` returns it.
    perspective: Option<[f64; 8]>,
}

impl Warp {
    const IDENTITY: Self = Self { affine: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], perspective: None };

    fn source(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b] = self.affine;
        let (sx, sy) = (a[0] * x + a[1] * y + a[2], b[0] * x + b[1] * y + b[2]);
        match self.perspective {
            None => (sx, sy),
            Some(h) => {
                let d = h[6] * sx + h[7] * sy + 1.0;
                // fastai leaves coordinates unwarped where the homography divides by zero.
                if d == 0.0 {
                    (sx, sy)
                } else {
                    ((h[0] * sx + h[1] * sy + h[2]) / d, (h[3] * sx + h[4] * sy + h[5]) / d)
                }
            }
        }
    }
}

/// Brightness (a probability-like offset, neutral 0.5) and contrast (a factor, neutral 1),
/// applied as `sigmoid(contrast * (logit(x) + logit(brightness)))` like fastai's
/// `Brightness` followed by `Contrast`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Lighting {
    brightness: f64,
    contrast: f64,
}

impl Lighting {
    fn apply(&self, image: &mut RgbImage) {
        if self.brightness == 0.5 && self.contrast == 1.0 {
            return;
        }
        // One table of 256 entries instead of a logit and a sigmoid per channel value.
        let shift = logit(self.brightness);
        let table: Vec<u8> = (0..=255u8)
            .map(|v| {
                let l = self.contrast * (logit(f64::from(v) / 255.0) + shift);
                (255.0 / (1.0 + (-l).exp())).round() as u8
            })
            .collect();
        for value in image.iter_mut() {
            *value = table[usize::from(*value)];
        }
    }
}

/// fastai's `logit`, clamped so 0 and 1 stay finite.
fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-7, 1.0 - 1e-7);
    -(1.0 / p - 1.0).ln()
}

impl Augment {
    /// `value()` with probability `p`, else `neutral` (fastai's `_draw_mask`).
    fn masked(rng: &mut SplitMix64, p: f64, neutral: f64, low: f64, high: f64) -> f64 {
        if rng.chance(p) { rng.uniform(low, high) } else { neutral }
    }

    /// fastai's `Flip`, `Warp`, `Rotate` and `Zoom` drawn for one sample and composed as its
    /// `AffineCoordTfm` does: `flip @ rotate @ zoom`, then the warp on the resulting grid.
    fn draw_warp(&self, rng: &mut SplitMix64) -> Warp {
        let flip = if rng.chance(self.p_flip) { -1.0 } else { 1.0 };
        let mw = self.max_warp;
        let warp_x = Self::masked(rng, self.p_affine, 0.0, -mw, mw);
        let warp_y = Self::masked(rng, self.p_affine, 0.0, -mw, mw);
        let degrees = Self::masked(rng, self.p_affine, 0.0, -self.max_rotate, self.max_rotate);
        let zoom = Self::masked(rng, self.p_affine, 1.0, self.min_zoom, self.max_zoom);
        let (col_pct, row_pct) = (rng.next_f64(), rng.next_f64());

        let (sin, cos) = degrees.to_radians().sin_cos();
        let s = 1.0 / zoom;
        let (col, row) = ((1.0 - s) * (2.0 * col_pct - 1.0), (1.0 - s) * (2.0 * row_pct - 1.0));
        // flip @ rotate = [[f cos, f sin], [-sin, cos]]; times zoom [[s, 0, col], [0, s, row]].
        let affine = [
            [flip * cos * s, flip * sin * s, flip * (cos * col + sin * row)],
            [-sin * s, cos * s, -sin * col + cos * row],
        ];
        let perspective = (warp_x != 0.0 || warp_y != 0.0).then(|| perspective(warp_x, warp_y));
        Warp { affine, perspective }
    }

    fn draw_lighting(&self, rng: &mut SplitMix64) -> Lighting {
        let ml = self.max_lighting;
        let brightness = Self::masked(rng, self.p_lighting, 0.5, 0.5 * (1.0 - ml), 0.5 * (1.0 + ml));
        let log_contrast = (1.0 - ml).ln();
        let contrast = Self::masked(rng, self.p_lighting, 0.0, log_contrast, -log_contrast).exp();
        Lighting { brightness, contrast }
    }
}

/// fastai's `_WarpCoord`: the homography taking the moved corners back to the square's
/// corners (`find_coeffs(orig_pts, targ_pts)`), solved by Gaussian elimination.
fn perspective(x_t: f64, y_t: f64) -> [f64; 8] {
    let orig = [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)];
    let targ = [(-1.0 - y_t, -1.0 - x_t), (-1.0 + y_t, 1.0 + x_t), (1.0 + y_t, -1.0 + x_t), (1.0 - y_t, 1.0 - x_t)];
    let mut rows = [[0.0; 9]; 8];
    for (i, (&(ox, oy), &(tx, ty))) in orig.iter().zip(&targ).enumerate() {
        rows[2 * i] = [tx, ty, 1.0, 0.0, 0.0, 0.0, -ox * tx, -ox * ty, ox];
        rows[2 * i + 1] = [0.0, 0.0, 0.0, tx, ty, 1.0, -oy * tx, -oy * ty, oy];
    }
    solve(rows)
}

/// Solves an 8x8 system given as rows `[a | b]`, with partial pivoting. The corner
/// systems above are well conditioned for any warp magnitude below 1.
fn solve(mut rows: [[f64; 9]; 8]) -> [f64; 8] {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&a, &b| rows[a][col].abs().total_cmp(&rows[b][col].abs())).unwrap_or(col);
        rows.swap(col, pivot);
        let pivot_row = rows[col];
        for (r, row) in rows.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (value, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *value -= f * p;
                }
            }
        }
    }
    std::array::from_fn(|i| rows[i][8] / rows[i][i])
}

/// `F.grid_sample(mode='bilinear', padding_mode='reflection', align_corners=True)` of a
/// `size` x `size` grid whose output pixel centres span [-1, 1] corner to corner.
fn warp(input: &RgbImage, coords: &Warp, size: u32) -> RgbImage {
    let (w, h) = input.dimensions();
    let step = 2.0 / f64::from(size - 1);
    RgbImage::from_fn(size, size, |j, i| {
        let (sx, sy) = coords.source(-1.0 + step * f64::from(j), -1.0 + step * f64::from(i));
        let px = reflect((sx + 1.0) / 2.0 * f64::from(w - 1), w);
        let py = reflect((sy + 1.0) / 2.0 * f64::from(h - 1), h);
        bilinear(input, px, py)
    })
}

/// PyTorch's `reflect_coordinates` for `align_corners=True`: mirror about the first and
/// last pixel centres until the coordinate lies in [0, len - 1].
fn reflect(x: f64, len: u32) -> f64 {
    let span = f64::from(len - 1);
    if span == 0.0 {
        return 0.0;
    }
    let x = x.abs();
    let flips = (x / span).floor();
    let extra = x - flips * span;
    let r = if flips % 2.0 == 0.0 { extra } else { span - extra };
    r.clamp(0.0, span)
}

fn bilinear(input: &RgbImage, x: f64, y: f64) -> Rgb<u8> {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as u32, y0 as u32);
    let x1 = (x0 + 1).min(input.width() - 1);
    let y1 = (y0 + 1).min(input.height() - 1);
    let (a, b) = (input.get_pixel(x0, y0).0, input.get_pixel(x1, y0).0);
    let (c, d) = (input.get_pixel(x0, y1).0, input.get_pixel(x1, y1).0);
    Rgb(std::array::from_fn(|k| {
        let top = f64::from(a[k]) * (1.0 - fx) + f64::from(b[k]) * fx;
        let bottom = f64::from(c[k]) * (1.0 - fx) + f64::from(d[k]) * fx;
        (top * (1.0 - fy) + bottom * fy).round() as u8
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use woofcam::image::{DecodeLimits, decode};

    /// A 213x160 photo from Imagewoof's val split (landscape, so crops can move).
    fn samoyed() -> RgbImage {
        decode(&std::fs::read(woofcam_testkit::samoyed()).unwrap(), DecodeLimits::default()).unwrap().rgb
    }

    /// Every pixel distinct enough to catch any shift or mirror.
    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8]))
    }

    #[test]
    fn same_seed_same_pixels_other_seed_other_pixels() {
        let photo = samoyed();
        let t = Transform::new(160, 128);
        let run = |seed| t.image(&photo, Split::Train, &mut SplitMix64::for_item(seed, 0, 5));
        let a = run(1);
        assert_eq!(a.dimensions(), (128, 128));
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
    }

    #[test]
    fn images_render_one_view_at_each_size() {
        let photo = samoyed();
        let t = Transform::new(160, 128);
        let rng = || SplitMix64::for_item(3, 1, 7);
        let views = t.images(&photo, Split::Train, &mut rng(), &[128, 224]);
        assert_eq!(views[0], t.image(&photo, Split::Train, &mut rng()));
        assert_eq!(views[1].dimensions(), (224, 224));
        // The 224 px view brought down to 128 px is the 128 px view, up to resampling; a view
        // from another draw is far from it.
        let mean_difference = |a: &RgbImage, b: &RgbImage| {
            let total: f64 = a.iter().zip(b.iter()).map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs()).sum();
            total / a.len() as f64
        };
        let down = resize(&views[1], 128, 128, Fit::Squish);
        let other = t.image(&photo, Split::Train, &mut SplitMix64::for_item(3, 1, 8));
        let (same, different) = (mean_difference(&down, &views[0]), mean_difference(&other, &views[0]));
        assert!(same < 4.0 && different > 5.0 * same, "same view {same:.2}, another view {different:.2}");
    }

    #[test]
    fn valid_is_the_exact_centre_crop() {
        let photo = gradient(40, 30);
        let t = Transform::new(30, 30);
        let out = t.image(&photo, Split::Valid, &mut SplitMix64::new(9));
        // int(0.5 * (40 - 30)) = 5 columns cut on the left.
        let expected = image::imageops::crop_imm(&photo, 5, 0, 30, 30).to_image();
        assert_eq!(out, expected);
        // Valid takes no randomness: any generator gives the same image.
        assert_eq!(out, t.image(&photo, Split::Valid, &mut SplitMix64::new(10)));
    }

    #[test]
    fn squish_keeps_the_whole_photo_as_the_viewer_feeds_it() {
        let photo = gradient(40, 30);
        let mut t = Transform::new(24, 24);
        t.fit = Fit::Squish;
        // The viewer's input (`ModelMetadata::input` with `Fit::Squish`) before normalisation.
        let viewer = resize(&photo, 24, 24, Fit::Squish);
        assert_eq!(t.image(&photo, Split::Valid, &mut SplitMix64::new(1)), viewer);
        // Not fastai's centre square, which cuts the sides off.
        assert_ne!(viewer, resize(&photo, 24, 24, Fit::CenterCrop));
    }

    #[test]
    fn train_crop_is_a_full_height_square_anywhere_along_the_width() {
        let photo = gradient(40, 30);
        let mut lefts = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let out = resize_crop(&photo, 30, Split::Train, &mut SplitMix64::new(seed));
            let left = (0..=10).find(|&l| out == image::imageops::crop_imm(&photo, l, 0, 30, 30).to_image());
            lefts.insert(left.expect("an exact crop"));
        }
        assert!(lefts.len() > 5, "{lefts:?}");
    }

    #[test]
    fn identity_warp_and_zero_rotation_leave_the_image_alone() {
        let photo = gradient(32, 32);
        assert_eq!(warp(&photo, &Warp::IDENTITY, 32), photo);
        let no_aug = Augment { p_flip: 0.0, p_affine: 0.0, p_lighting: 0.0, ..Augment::default() };
        let coords = no_aug.draw_warp(&mut SplitMix64::new(3));
        assert_eq!(coords.perspective, None);
        assert_eq!(warp(&photo, &coords, 32), photo);
        let zero_rotation =
            Augment { max_rotate: 0.0, p_flip: 0.0, max_warp: 0.0, max_zoom: 1.0, ..Augment::default() };
        assert_eq!(warp(&photo, &zero_rotation.draw_warp(&mut SplitMix64::new(4)), 32), photo);
    }

    #[test]
    fn flip_mirrors_columns() {
        let photo = gradient(32, 32);
        let flip_only = Augment { p_flip: 1.0, p_affine: 0.0, ..Augment::default() };
        let out = warp(&photo, &flip_only.draw_warp(&mut SplitMix64::new(0)), 32);
        assert_eq!(out, image::imageops::flip_horizontal(&photo));
    }

    #[test]
    fn rotation_by_90_degrees_turns_the_image() {
        // Not a fastai setting, but it pins down the sign of the rotation matrix: fastai's
        // [[cos, sin], [-sin, cos]] samples output (x, y) from input (y, -x) at 90 degrees,
        // which turns the picture clockwise (y points down).
        let photo = gradient(16, 16);
        let quarter = Warp { affine: [[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]], perspective: None };
        assert_eq!(warp(&photo, &quarter, 16), image::imageops::rotate90(&photo));
    }

    #[test]
    fn reflection_padding_mirrors_about_the_edge_pixels() {
        assert_eq!(reflect(-1.0, 5), 1.0);
        assert_eq!(reflect(5.0, 5), 3.0);
        assert_eq!(reflect(9.5, 5), 1.5);
        assert_eq!(reflect(2.25, 5), 2.25);
        assert_eq!(reflect(3.0, 1), 0.0);
    }

    #[test]
    fn perspective_sends_moved_corners_back_to_the_square() {
        let coords = Warp { affine: Warp::IDENTITY.affine, perspective: Some(perspective(0.15, -0.1)) };
        let (x_t, y_t) = (0.15, -0.1);
        let targ = [(-1.0 - y_t, -1.0 - x_t), (-1.0 + y_t, 1.0 + x_t), (1.0 + y_t, -1.0 + x_t), (1.0 - y_t, 1.0 - x_t)];
        let orig = [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)];
        for ((tx, ty), (ox, oy)) in targ.into_iter().zip(orig) {
            let (sx, sy) = coords.source(tx, ty);
            assert!((sx - ox).abs() < 1e-12 && (sy - oy).abs() < 1e-12, "{sx} {sy}");
        }
        assert_eq!(perspective(0.0, 0.0), [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn lighting_is_neutral_at_rest_and_monotone_otherwise() {
        let photo = gradient(32, 8);
        let mut same = photo.clone();
        Lighting { brightness: 0.5, contrast: 1.0 }.apply(&mut same);
        assert_eq!(same, photo);
        let mut brighter = photo.clone();
        Lighting { brightness: 0.6, contrast: 1.0 }.apply(&mut brighter);
        assert!(brighter.iter().zip(photo.iter()).all(|(b, p)| b >= p));
        assert!(brighter.iter().zip(photo.iter()).any(|(b, p)| b > p));
        // Contrast pivots on mid-grey: 0 and 255 stay put.
        let mut extremes = RgbImage::from_fn(2, 1, |x, _| Rgb([(x * 255) as u8; 3]));
        Lighting { brightness: 0.5, contrast: 1.2 }.apply(&mut extremes);
        assert_eq!(extremes.as_raw(), &[0, 0, 0, 255, 255, 255]);
    }

    #[test]
    fn defaults_are_fastais_aug_transforms() {
        let a = Augment::default();
        assert_eq!((a.p_flip, a.max_rotate, a.min_zoom, a.max_zoom), (0.5, 10.0, 1.0, 1.1));
        assert_eq!((a.max_warp, a.max_lighting, a.p_affine, a.p_lighting), (0.2, 0.2, 0.75, 0.75));
    }
}
