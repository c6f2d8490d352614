//! Drawing helpers shared by the trainer's PNG outputs (`show-batch`'s grid, `eval`'s
//! confusion matrix and top-losses grid): text in an 8x8 bitmap font, word wrapping, grid
//! shapes and filled rectangles. No font file is needed: the glyphs are `font8x8`'s public
//! domain basic Latin set.

use image::{Rgb, RgbImage};

/// Width and height of a glyph, in pixels.
pub const GLYPH: u32 = 8;

pub const WHITE: Rgb<u8> = Rgb([255; 3]);
pub const BLACK: Rgb<u8> = Rgb([0; 3]);
/// The dark bar under a grid cell that its caption is written on.
pub const BAR: Rgb<u8> = Rgb([30; 3]);

/// Columns of a near-square grid of `n` cells.
pub fn columns(n: usize) -> u32 {
    (1..).find(|c: &u32| (*c as usize) * (*c as usize) >= n).unwrap_or(1)
}

/// Splits at spaces into lines of at most `width` characters; a longer word is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        let word: String = word.chars().take(width).collect();
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(&word);
            }
            _ => lines.push(word),
        }
    }
    lines
}

/// Width of `text` in pixels.
pub fn text_width(text: &str) -> u32 {
    text.chars().count() as u32 * GLYPH
}

/// Draws `text` with its top-left corner at (`x`, `y`), clipped to the image; characters
/// outside ASCII are drawn as `?`. Bit 0 of a glyph row is its leftmost pixel.
pub fn draw_text(image: &mut RgbImage, text: &str, x: u32, y: u32, color: Rgb<u8>) {
    for (k, ch) in text.chars().enumerate() {
        let code = if ch.is_ascii() { ch as usize } else { '?' as usize };
        let glyph = font8x8::legacy::BASIC_LEGACY[code];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..GLYPH {
                let (px, py) = (x + k as u32 * GLYPH + col, y + row as u32);
                if bits >> col & 1 == 1 && px < image.width() && py < image.height() {
                    image.put_pixel(px, py, color);
                }
            }
        }
    }
}

/// `text` turned a quarter left, to read from bottom to top (an axis label): an image
/// `GLYPH` wide and `text_width(text)` tall.
pub fn vertical_text(text: &str, color: Rgb<u8>, background: Rgb<u8>) -> RgbImage {
    let mut line = RgbImage::from_pixel(text_width(text).max(1), GLYPH, background);
    draw_text(&mut line, text, 0, 0, color);
    image::imageops::rotate270(&line)
}

/// Fills the rectangle at (`x`, `y`) of `width` x `height`, clipped to the image.
pub fn fill(image: &mut RgbImage, x: u32, y: u32, width: u32, height: u32, color: Rgb<u8>) {
    for py in y..(y + height).min(image.height()) {
        for px in x..(x + width).min(image.width()) {
            image.put_pixel(px, py, color);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_near_square() {
        assert_eq!([1, 2, 4, 5, 9, 10, 16].map(columns), [1, 2, 2, 3, 3, 4, 4]);
    }

    #[test]
    fn labels_wrap_at_spaces() {
        assert_eq!(wrap("Old English sheepdog", 16), ["Old English", "sheepdog"]);
        assert_eq!(wrap("Shih-Tzu", 16), ["Shih-Tzu"]);
        assert_eq!(wrap("Rhodesian ridgeback", 6), ["Rhodes", "ridgeb"]);
    }

    #[test]
    fn text_is_drawn_and_clipped() {
        let mut image = RgbImage::from_pixel(12, 8, BLACK);
        draw_text(&mut image, "HI", 0, 0, WHITE);
        let lit = image.pixels().filter(|p| p.0 == [255; 3]).count();
        assert!(lit > 10, "{lit} pixels lit");
        // The second glyph is cut at the image's edge without a panic.
        draw_text(&mut image, "HI", 10, 6, WHITE);
        let vertical = vertical_text("Beagle", WHITE, BLACK);
        assert_eq!(vertical.dimensions(), (8, 48));
    }
}
