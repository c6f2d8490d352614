//! Uploaded bytes to an upright 8-bit RGB photo, or a clear refusal.
//!
//! Colour handling matches what the reference pipeline did with PIL's
//! `Image.open(f).convert("RGB")`: alpha is *dropped* (not composited onto
//! white), greyscale is replicated into three channels, palette images are
//! expanded. Two deliberate differences: 16-bit samples are scaled to 8 bits
//! (PIL clips some 16-bit modes instead), and the EXIF orientation is applied
//! (PIL needs an explicit `ImageOps.exif_transpose`), because a phone photo
//! lying on its side would otherwise be classified sideways.

use std::io::Cursor;

use ::image::error::ImageError as CodecError;
use ::image::metadata::Orientation;
use ::image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use super::{ImageError, jpeg_end};

/// What [`decode`] accepts. Checked against the header *before* any pixel
/// memory is allocated, so a hostile 20000x20000 file costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Shortest side accepted, in pixels (default 8: smaller images carry no
    /// usable signal through the network's 32x down-sampling).
    pub min_side: u32,
    /// Largest pixel count accepted (default 50 megapixels, above any phone
    /// camera; the browser tab must not run out of memory).
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { min_side: 8, max_pixels: 50_000_000 }
    }
}

/// A decoded photo, upright and in 8-bit RGB.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    /// The pixels, EXIF orientation already applied.
    pub rgb: RgbImage,
    /// Width as stored in the file, before the EXIF orientation; equals
    /// `rgb.width()`, or `rgb.height()` when the orientation turned it.
    pub original_width: u32,
    /// Height as stored in the file, before the EXIF orientation.
    pub original_height: u32,
}

/// Decodes a PNG, JPEG (including CMYK/YCCK), WebP, GIF (first frame), BMP or
/// TIFF file held in memory. The format is sniffed from the content, never
/// from a file name.
///
/// # Errors
///
/// Every [`ImageError`] of the decoding kind: empty input, unknown or
/// unsupported format, damaged or cut-short file, too small or too large an
/// image (checked from the header, before decoding), or a codec memory limit.
pub fn decode(bytes: &[u8], limits: DecodeLimits) -> Result<Photo, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    // Guessing only reads the first bytes of an in-memory cursor, which
    // cannot fail; an error here would still mean "not an image".
    let mut reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| ImageError::UnknownFormat)?;
    let format = reader.format().ok_or(ImageError::UnknownFormat)?;
    if !SUPPORTED.contains(&format) {
        return Err(ImageError::UnsupportedFormat { format: format_name(format) });
    }
    reader.limits(codec_limits(limits));

    // Building the decoder parses the header only: dimensions are known
    // before the pixel buffer exists.
    let mut decoder = reader.into_decoder().map_err(|e| codec_error(format, e))?;
    let (width, height) = decoder.dimensions();
    check_size(width, height, limits)?;
    if format == ImageFormat::Jpeg && !jpeg_end::is_complete(bytes) {
        return Err(ImageError::Corrupt {
            format: format_name(format),
            detail: "the data stops before the end-of-image marker".into(),
        });
    }

    // A broken EXIF block should not block a photo whose pixels decode, so
    // an unreadable orientation counts as "upright" (as viewers do).
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| codec_error(format, e))?;
    image.apply_orientation(orientation);
    Ok(Photo { rgb: image.into_rgb8(), original_width: width, original_height: height })
}

/// The formats this crate is built with (see the `image` features in Cargo.toml).
const SUPPORTED: [ImageFormat; 6] =
    [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP, ImageFormat::Gif, ImageFormat::Bmp, ImageFormat::Tiff];

/// Memory budget handed to the codecs: enough for the largest accepted image
/// at 16-bit RGBA (8 bytes a pixel), never below `image`'s own 512 MiB default.
/// Width and height are left unlimited on purpose: [`check_size`] refuses
/// with the actual dimensions in the message, which the codecs' limit error
/// does not carry.
fn codec_limits(limits: DecodeLimits) -> Limits {
    let mut codec = Limits::default();
    let needed = limits.max_pixels.saturating_mul(8);
    codec.max_alloc = codec.max_alloc.map(|default| default.max(needed));
    codec
}

fn check_size(width: u32, height: u32, limits: DecodeLimits) -> Result<(), ImageError> {
    if width < limits.min_side || height < limits.min_side {
        return Err(ImageError::TooSmall { width, height, min_side: limits.min_side });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ImageError::TooLarge { width, height, max_pixels: limits.max_pixels });
    }
    Ok(())
}

fn codec_error(format: ImageFormat, error: CodecError) -> ImageError {
    let format = format_name(format);
    match error {
        CodecError::Limits(_) => ImageError::OutOfMemoryBudget { format },
        CodecError::Unsupported(e) => ImageError::UnsupportedFeature { format, detail: e.to_string() },
        // Decoding errors, and I/O errors (which from an in-memory cursor can
        // only be "unexpected end of file"), both mean a bad or short file.
        other => ImageError::Corrupt { format, detail: other.to_string() },
    }
}

/// The name people know a format by.
fn format_name(format: ImageFormat) -> String {
    match format {
        ImageFormat::Png => "PNG".into(),
        ImageFormat::Jpeg => "JPEG".into(),
        ImageFormat::WebP => "WebP".into(),
        ImageFormat::Gif => "GIF".into(),
        ImageFormat::Bmp => "BMP".into(),
        ImageFormat::Tiff => "TIFF".into(),
        other => format!("{other:?}").to_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::image::codecs::gif::GifEncoder;
    use ::image::{Frame, ImageBuffer, Luma, Rgb, Rgba, RgbaImage};

    const RED: [u8; 3] = [255, 0, 0];
    const GREEN: [u8; 3] = [0, 255, 0];
    const BLUE: [u8; 3] = [0, 0, 255];
    const WHITE: [u8; 3] = [255, 255, 255];

    /// 24x16, quadrants red | green over blue | white: the same picture as
    /// the fixtures in `testdata/`, so orientation and colour are both visible.
    fn quadrants() -> RgbImage {
        RgbImage::from_fn(24, 16, |x, y| {
            Rgb(match (x < 12, y < 8) {
                (true, true) => RED,
                (false, true) => GREEN,
                (true, false) => BLUE,
                (false, false) => WHITE,
            })
        })
    }

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
        bytes
    }

    fn close(actual: &Rgb<u8>, expected: [u8; 3], tolerance: u8) -> bool {
        actual.0.iter().zip(expected).all(|(&a, e)| a.abs_diff(e) <= tolerance)
    }

    /// Pixels in the middle of each quadrant (away from JPEG's blurred edges).
    fn assert_quadrants(rgb: &RgbImage, expected: [[u8; 3]; 4], tolerance: u8) {
        let (w, h) = rgb.dimensions();
        let probes = [(w / 4, h / 4), (3 * w / 4, h / 4), (w / 4, 3 * h / 4), (3 * w / 4, 3 * h / 4)];
        for ((x, y), want) in probes.into_iter().zip(expected) {
            let got = rgb.get_pixel(x, y);
            assert!(close(got, want, tolerance), "pixel ({x},{y}) is {got:?}, expected {want:?}");
        }
    }

    fn real_photo() -> Vec<u8> {
        let path = woofcam_testkit::imagewoof().join("val/n02086240/ILSVRC2012_val_00002701.JPEG");
        std::fs::read(&path).unwrap_or_else(|e| panic!("test photo {}: {e}", path.display()))
    }

    #[test]
    fn decodes_every_supported_format() {
        let image = DynamicImage::ImageRgb8(quadrants());
        for (format, tolerance) in [
            (ImageFormat::Png, 0),
            (ImageFormat::Jpeg, 12),
            (ImageFormat::WebP, 0),
            (ImageFormat::Gif, 0),
            (ImageFormat::Bmp, 0),
            (ImageFormat::Tiff, 0),
        ] {
            let photo =
                decode(&encode(&image, format), DecodeLimits::default()).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(photo.rgb.dimensions(), (24, 16), "{format:?}");
            assert_eq!((photo.original_width, photo.original_height), (24, 16));
            assert_quadrants(&photo.rgb, [RED, GREEN, BLUE, WHITE], tolerance);
        }
    }

    #[test]
    fn decodes_a_real_photo_like_pil() {
        let photo = decode(&real_photo(), DecodeLimits::default()).unwrap();
        assert_eq!(photo.rgb.dimensions(), (213, 160));
        // PIL 13 on the same file: per-channel means 111.50, 119.92, 107.39 and
        // pixel (x=100, y=80) = (130, 129, 125). zune-jpeg and libjpeg differ
        // in chroma up-sampling by a level or two, not more.
        let mut sums = [0f64; 3];
        for p in photo.rgb.pixels() {
            for (s, &v) in sums.iter_mut().zip(&p.0) {
                *s += f64::from(v);
            }
        }
        let n = f64::from(213 * 160);
        for (sum, pil) in sums.iter().zip([111.496, 119.917, 107.395]) {
            assert!((sum / n - pil).abs() < 1.0, "mean {} vs PIL {pil}", sum / n);
        }
        assert!(close(photo.rgb.get_pixel(100, 80), [130, 129, 125], 4));
    }

    #[test]
    fn gif_gives_its_first_frame() {
        let frame = |c: [u8; 4]| Frame::new(RgbaImage::from_pixel(10, 10, Rgba(c)));
        let mut bytes = Vec::new();
        GifEncoder::new(&mut bytes).encode_frames([frame([255, 0, 0, 255]), frame([0, 0, 255, 255])]).unwrap();
        let photo = decode(&bytes, DecodeLimits::default()).unwrap();
        assert_eq!(*photo.rgb.get_pixel(5, 5), Rgb(RED));
    }

    #[test]
    fn greyscale_is_replicated_into_rgb() {
        let grey = ImageBuffer::from_fn(8, 8, |x, _| Luma([x as u8 * 30]));
        let photo =
            decode(&encode(&DynamicImage::ImageLuma8(grey), ImageFormat::Png), DecodeLimits::default()).unwrap();
        assert_eq!(*photo.rgb.get_pixel(3, 0), Rgb([90, 90, 90]));
    }

    #[test]
    fn alpha_is_dropped_like_pil_convert_rgb() {
        // Fully transparent pixels keep their colour: no compositing onto white.
        let rgba = RgbaImage::from_fn(8, 8, |x, _| Rgba([10, 20, 30, if x < 4 { 0 } else { 255 }]));
        let photo =
            decode(&encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png), DecodeLimits::default()).unwrap();
        assert_eq!(*photo.rgb.get_pixel(0, 0), Rgb([10, 20, 30]));
        assert_eq!(*photo.rgb.get_pixel(7, 0), Rgb([10, 20, 30]));
    }

    #[test]
    fn sixteen_bit_is_scaled_not_clipped() {
        let deep = ImageBuffer::from_pixel(8, 8, Rgb([65535u16, 257 * 100, 0]));
        let photo =
            decode(&encode(&DynamicImage::ImageRgb16(deep), ImageFormat::Png), DecodeLimits::default()).unwrap();
        assert_eq!(*photo.rgb.get_pixel(0, 0), Rgb([255, 100, 0]));
    }

    /// ImageMagick wrote this CMYK JPEG as YCCK (Adobe transform 2), the usual
    /// output of print workflows; PIL reads it as the quadrants within 1 level.
    #[test]
    fn ycck_jpeg_becomes_rgb() {
        let photo = decode(include_bytes!("testdata/ycck.jpg"), DecodeLimits::default()).unwrap();
        assert_eq!(photo.rgb.dimensions(), (24, 16));
        assert_quadrants(&photo.rgb, [RED, GREEN, BLUE, WHITE], 12);
    }

    /// PIL wrote this one as plain inverted CMYK (Adobe transform 0, the
    /// Photoshop convention).
    #[test]
    fn adobe_cmyk_jpeg_becomes_rgb() {
        let photo = decode(include_bytes!("testdata/cmyk.jpg"), DecodeLimits::default()).unwrap();
        assert_quadrants(&photo.rgb, [RED, GREEN, BLUE, WHITE], 12);
    }

    /// Stored 24x16 with EXIF orientation 6 ("rotate 90 CW to view"): the
    /// stored top-left red quadrant must end up top-right, as PIL's
    /// `ImageOps.exif_transpose` shows it.
    #[test]
    fn exif_orientation_is_applied() {
        let photo = decode(include_bytes!("testdata/orient6.jpg"), DecodeLimits::default()).unwrap();
        assert_eq!(photo.rgb.dimensions(), (16, 24));
        assert_eq!((photo.original_width, photo.original_height), (24, 16));
        assert_quadrants(&photo.rgb, [BLUE, RED, WHITE, GREEN], 12);
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(decode(&[], DecodeLimits::default()), Err(ImageError::Empty));
    }

    #[test]
    fn text_is_not_an_image() {
        let err = decode(b"Woof! This is a text file, not a dog.\n", DecodeLimits::default()).unwrap_err();
        assert_eq!(err, ImageError::UnknownFormat);
        assert_eq!(err.to_string(), "this is not an image the decoder knows (PNG, JPEG, WebP, GIF, BMP, TIFF)");
    }

    #[test]
    fn known_but_unsupported_format_is_named() {
        // A QOI header: recognised by its magic, not compiled in.
        let qoi = b"qoif\x00\x00\x00\x10\x00\x00\x00\x10\x03\x00rest";
        let err = decode(qoi, DecodeLimits::default()).unwrap_err();
        assert_eq!(err, ImageError::UnsupportedFormat { format: "QOI".into() });
        assert!(err.to_string().starts_with("this is a QOI image"));
    }

    #[test]
    fn truncated_jpeg_is_reported_not_panicked() {
        let bytes = real_photo();
        let err = decode(&bytes[..bytes.len() / 2], DecodeLimits::default()).unwrap_err();
        assert!(matches!(&err, ImageError::Corrupt { format, .. } if format == "JPEG"), "{err:?}");
        assert!(err.to_string().starts_with("the JPEG file is damaged or cut short"));
    }

    #[test]
    fn jpeg_missing_only_its_end_marker_is_refused_like_pil() {
        let bytes = real_photo();
        let err = decode(&bytes[..bytes.len() - 2], DecodeLimits::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the JPEG file is damaged or cut short: the data stops before the end-of-image marker"
        );
    }

    #[test]
    fn progressive_jpeg_decodes_and_its_truncation_is_caught() {
        let bytes = include_bytes!("testdata/progressive.jpg");
        let photo = decode(bytes, DecodeLimits::default()).unwrap();
        assert_eq!(photo.rgb.dimensions(), (107, 80));
        assert!(matches!(
            decode(&bytes[..bytes.len() * 3 / 4], DecodeLimits::default()),
            Err(ImageError::Corrupt { .. })
        ));
    }

    #[test]
    fn truncated_png_is_reported_not_panicked() {
        let bytes = encode(&DynamicImage::ImageRgb8(quadrants()), ImageFormat::Png);
        let err = decode(&bytes[..bytes.len() - 20], DecodeLimits::default()).unwrap_err();
        assert!(matches!(&err, ImageError::Corrupt { format, .. } if format == "PNG"), "{err:?}");
    }

    #[test]
    fn tiny_image_is_refused() {
        let one = DynamicImage::ImageRgb8(RgbImage::new(1, 1));
        let err = decode(&encode(&one, ImageFormat::Png), DecodeLimits::default()).unwrap_err();
        assert_eq!(err, ImageError::TooSmall { width: 1, height: 1, min_side: 8 });
        assert_eq!(err.to_string(), "the image is 1x1 pixels; at least 8x8 is needed");
        // Thin strips fail on their short side.
        let strip = DynamicImage::ImageRgb8(RgbImage::new(100, 7));
        assert!(matches!(
            decode(&encode(&strip, ImageFormat::Png), DecodeLimits::default()),
            Err(ImageError::TooSmall { width: 100, height: 7, .. })
        ));
    }

    /// Standard CRC-32 (as PNG uses), only to forge a header in the test below.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = u32::MAX;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// A valid PNG header for a 20000x20000 RGB image followed by an empty
    /// (but well-formed) zlib stream: 70-odd bytes that would decode into 1.2 GB.
    fn huge_png() -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&20000u32.to_be_bytes());
        ihdr.extend_from_slice(&20000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
        png_chunk(&mut png, b"IHDR", &ihdr);
        png_chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        png_chunk(&mut png, b"IEND", &[]);
        png
    }

    #[test]
    fn huge_image_is_refused_from_its_header() {
        let png = huge_png();
        assert!(png.len() < 100);
        let err = decode(&png, DecodeLimits::default()).unwrap_err();
        assert_eq!(err, ImageError::TooLarge { width: 20000, height: 20000, max_pixels: 50_000_000 });
        assert_eq!(err.to_string(), "the image is 20000x20000 (400 megapixels); the limit is 50 megapixels");
    }

    #[test]
    fn limits_are_configurable() {
        let bytes = encode(&DynamicImage::ImageRgb8(quadrants()), ImageFormat::Png);
        let strict = DecodeLimits { min_side: 8, max_pixels: 24 * 16 - 1 };
        assert!(matches!(decode(&bytes, strict), Err(ImageError::TooLarge { .. })));
        let picky = DecodeLimits { min_side: 17, ..DecodeLimits::default() };
        assert!(matches!(decode(&bytes, picky), Err(ImageError::TooSmall { min_side: 17, .. })));
        assert_eq!(DecodeLimits::default(), DecodeLimits { min_side: 8, max_pixels: 50_000_000 });
    }

    #[test]
    fn corrupt_header_is_an_error() {
        // PNG signature, then garbage where IHDR should be.
        let err = decode(b"\x89PNG\r\n\x1a\nthis is no IHDR chunk", DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, ImageError::Corrupt { .. }), "{err:?}");
    }
}
