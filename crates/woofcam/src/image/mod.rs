//! Everything Woofcam does with pixels on the host, without Burn.
//!
//! The pipeline around the network is:
//!
//! 1. [`decode()`] the uploaded bytes into an upright 8-bit RGB [`Photo`]
//!    (refusing, with a message a person can act on, anything that is not a
//!    photo or that would exhaust memory);
//! 2. [`resize`] it to the network's input size and turn it into a
//!    normalised CHW tensor with [`to_chw`];
//! 3. after the explainers ran, bring their [`Map`] (Grad-CAM) back to the
//!    photo's size with [`bilinear_resize`] or [`bicubic_resize`], scale it with
//!    [`Map::min_max_scaled`], [`colorize`] it with a [`Colormap`] and
//!    [`overlay()`] it on the photo; an [`InputGradient`] (Guided Backprop)
//!    becomes an image with [`InputGradient::to_rgb_standardised`] or a map with
//!    [`InputGradient::to_grey`];
//! 4. [`side_by_side`] puts the results in one strip.
//!
//! The module takes bytes and returns buffers: no file system, no threads, so
//! the same code runs natively and in the browser (wasm32). The files are
//! private; everything public is re-exported here, so there is one path to
//! each item (`crate::image::decode`, `crate::image::Map`, ...).
//!
//! Inside the crate, refer to the `image` *crate* as `::image` where the
//! module name could shadow it (the crate root).

mod colormap;
mod decode;
mod jpeg_end;
mod map;
mod overlay;
mod preprocess;
mod resample;

pub use colormap::{Colormap, colorize};
pub use decode::{DecodeLimits, Photo, decode};
pub use map::{InputGradient, Map};
pub use overlay::{SIDE_BY_SIDE_GAP, overlay, side_by_side};
pub use preprocess::{Fit, Normalization, resize, to_chw};
pub use resample::{bicubic_resize, bilinear_resize};

/// Everything that can go wrong between uploaded bytes and a rendered
/// explanation, worded for the person who uploaded the photo.
///
/// The variants carry plain data (no boxed codec errors) so the error is
/// `Clone + PartialEq`, which the viewer needs to keep it in its state and
/// tests need to compare it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Zero bytes: usually a failed upload rather than a bad file.
    #[error("the file is empty")]
    Empty,
    /// The first bytes match no image signature at all (text, PDF, ...).
    #[error("this is not an image the decoder knows (PNG, JPEG, WebP, GIF, BMP, TIFF)")]
    UnknownFormat,
    /// A real image format, but one this build does not decode (AVIF, QOI, ICO, ...).
    #[error("this is a {format} image, which Woofcam cannot read; use PNG, JPEG, WebP, GIF, BMP or TIFF")]
    UnsupportedFormat {
        /// Name of the recognised format.
        format: String,
    },
    /// The file uses a part of its format the decoder does not implement
    /// (e.g. arithmetic-coded JPEG).
    #[error("this {format} file uses a feature the decoder does not support: {detail}")]
    UnsupportedFeature {
        /// Name of the format.
        format: String,
        /// The decoder's own description.
        detail: String,
    },
    /// The decoder gave up part-way: damaged or cut-short file.
    #[error("the {format} file is damaged or cut short: {detail}")]
    Corrupt {
        /// Name of the format.
        format: String,
        /// The decoder's own description.
        detail: String,
    },
    /// Too small for a meaningful classification (and for the network's
    /// down-sampling to leave anything).
    #[error("the image is {width}x{height} pixels; at least {min_side}x{min_side} is needed")]
    TooSmall {
        /// Width as stored in the file.
        width: u32,
        /// Height as stored in the file.
        height: u32,
        /// The limit it failed ([`DecodeLimits::min_side`]).
        min_side: u32,
    },
    /// Refused from the header, before any pixel memory was allocated.
    #[error(
        "the image is {width}x{height} ({}); the limit is {}",
        megapixels(u64::from(*.width) * u64::from(*.height)),
        megapixels(*.max_pixels)
    )]
    TooLarge {
        /// Width as stored in the file.
        width: u32,
        /// Height as stored in the file.
        height: u32,
        /// The limit it failed ([`DecodeLimits::max_pixels`]).
        max_pixels: u64,
    },
    /// The decoder's own memory budget was hit (e.g. huge metadata chunks).
    #[error("decoding this {format} image would need more memory than allowed")]
    OutOfMemoryBudget {
        /// Name of the format.
        format: String,
    },
    /// [`overlay`] needs both images at the same size; resizing silently
    /// would hide a bug in the caller's pipeline.
    #[error(
        "the heat map is {heat_width}x{heat_height} but the photo is {photo_width}x{photo_height}; \
         resize the heat map to the photo's size first"
    )]
    SizeMismatch {
        /// Photo width.
        photo_width: u32,
        /// Photo height.
        photo_height: u32,
        /// Heat-map width.
        heat_width: u32,
        /// Heat-map height.
        heat_height: u32,
    },
    /// A colour-map name that [`Colormap::from_str`](std::str::FromStr) does not know.
    #[error("unknown colour map {name:?}; choose one of magma, viridis, jet, grey")]
    UnknownColormap {
        /// The name as given.
        name: String,
    },
    /// A [`Map`] or [`InputGradient`] whose value count does not match its shape.
    #[error("a {shape} needs {expected} values but {actual} were given")]
    Shape {
        /// Human description of the shape, e.g. "7x7 map".
        shape: String,
        /// Values the shape needs.
        expected: usize,
        /// Values given.
        actual: usize,
    },
}

/// "400 megapixels", "50 megapixels", "0.4 megapixels": whole numbers stay
/// whole, anything else is rounded *up* to a tenth so that an image just over
/// the limit never reads as equal to it.
fn megapixels(pixels: u64) -> String {
    if pixels.is_multiple_of(1_000_000) {
        format!("{} megapixels", pixels / 1_000_000)
    } else {
        let tenths = pixels.div_ceil(100_000);
        format!("{}.{} megapixels", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megapixels_reads_naturally() {
        assert_eq!(megapixels(400_000_000), "400 megapixels");
        assert_eq!(megapixels(50_000_000), "50 megapixels");
        assert_eq!(megapixels(50_000_001), "50.1 megapixels");
        assert_eq!(megapixels(384), "0.1 megapixels");
        assert_eq!(megapixels(12_300_000), "12.3 megapixels");
    }

    #[test]
    fn messages_are_human() {
        let big = ImageError::TooLarge { width: 20000, height: 20000, max_pixels: 50_000_000 };
        assert_eq!(big.to_string(), "the image is 20000x20000 (400 megapixels); the limit is 50 megapixels");
        let small = ImageError::TooSmall { width: 1, height: 1, min_side: 8 };
        assert_eq!(small.to_string(), "the image is 1x1 pixels; at least 8x8 is needed");
        assert_eq!(ImageError::Empty.to_string(), "the file is empty");
    }
}
