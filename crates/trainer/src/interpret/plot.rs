//! The pictures of an [`Interpretation`](super::Interpretation): fastai's
//! `plot_confusion_matrix` and `plot_top_losses`, drawn with the 8x8 bitmap font.

use image::{Rgb, RgbImage, imageops};
use woofcam::image::Colormap;

use crate::render::{BAR, BLACK, GLYPH, WHITE, columns, draw_text, fill, text_width, vertical_text, wrap};

/// Outer margin and the gap between a label and what it labels.
const MARGIN: u32 = 12;
const LINE: u32 = GLYPH + 2;

/// Rows are the actual classes, columns the predicted ones, each cell holding its count;
/// a cell's colour is its share of the row (the class's recall on the diagonal), on
/// `cmap`. Class names label both axes, the column names reading upwards.
pub fn confusion_matrix(confusion: &[Vec<usize>], names: &[String], cmap: Colormap) -> RgbImage {
    let n = confusion.len() as u32;
    let widest_count = confusion.iter().flatten().max().map_or(1, |c| c.to_string().len()) as u32;
    let cell = (widest_count * GLYPH + 12).max(36);
    let widest_name = names.iter().map(|name| text_width(name)).max().unwrap_or(0);
    let title = "Confusion matrix";

    // Left to right: margin, "Actual" (upwards), gap, row names, gap, the cells, margin.
    let grid_x = MARGIN + GLYPH + MARGIN + widest_name + MARGIN / 2;
    // Top to bottom: margin, title, gap, the cells, gap, column names, gap, "Predicted", margin.
    let grid_y = MARGIN + GLYPH + MARGIN;
    let width = (grid_x + n * cell + MARGIN).max(MARGIN * 2 + text_width(title));
    let height = grid_y + n * cell + MARGIN / 2 + widest_name + MARGIN + GLYPH + MARGIN;
    let mut out = RgbImage::from_pixel(width, height, WHITE);

    draw_text(&mut out, title, (width - text_width(title)) / 2, MARGIN, BLACK);
    for (row, counts) in confusion.iter().enumerate() {
        let total: usize = counts.iter().sum();
        for (col, &count) in counts.iter().enumerate() {
            let share = if total == 0 { 0.0 } else { count as f32 / total as f32 };
            let color = Rgb(cmap.rgb(share));
            let (x, y) = (grid_x + col as u32 * cell, grid_y + row as u32 * cell);
            fill(&mut out, x, y, cell - 1, cell - 1, color);
            let text = count.to_string();
            let ink = if luminance(color) > 140.0 { BLACK } else { WHITE };
            draw_text(&mut out, &text, x + (cell - 1 - text_width(&text)) / 2, y + (cell - 1 - GLYPH) / 2, ink);
        }
    }
    for (i, name) in names.iter().enumerate() {
        // Row names right-aligned against the grid, centred on their row.
        let y = grid_y + i as u32 * cell + (cell - GLYPH) / 2;
        draw_text(&mut out, name, grid_x - MARGIN / 2 - text_width(name), y, BLACK);
        // Column names upwards, their ends against the grid.
        let label = vertical_text(name, BLACK, WHITE);
        let x = grid_x + i as u32 * cell + (cell - GLYPH) / 2;
        imageops::replace(&mut out, &label, i64::from(x), i64::from(grid_y + n * cell + MARGIN / 2));
    }
    let actual = vertical_text("Actual", BLACK, WHITE);
    let actual_y = grid_y + (n * cell).saturating_sub(actual.height()) / 2;
    imageops::replace(&mut out, &actual, i64::from(MARGIN), i64::from(actual_y));
    let predicted = "Predicted";
    let x = grid_x + (n * cell).saturating_sub(text_width(predicted)) / 2;
    draw_text(&mut out, predicted, x, height - MARGIN - GLYPH, BLACK);
    out
}

/// Perceived brightness of a colour (ITU-R BT.601 weights), 0 to 255.
fn luminance(color: Rgb<u8>) -> f32 {
    let [r, g, b] = color.0.map(f32::from);
    0.299 * r + 0.587 * g + 0.114 * b
}

/// One picture of a grid with the lines of its caption.
pub struct Captioned {
    pub image: RgbImage,
    pub caption: Vec<String>,
}

/// Caption lines under each cell of [`grid`].
pub const CAPTION_LINES: u32 = 3;
const GAP: u32 = 4;

/// The pictures in a near-square grid of `cell` x `cell` cells (each picture resized to
/// fit), each with up to [`CAPTION_LINES`] caption lines on a dark bar beneath.
pub fn grid(cells: &[Captioned], cell: u32) -> RgbImage {
    let cols = columns(cells.len().max(1));
    let rows = (cells.len().max(1) as u32).div_ceil(cols);
    let bar = CAPTION_LINES * LINE + 2;
    let (cell_w, cell_h) = (cell + GAP, cell + bar + GAP);
    let mut out = RgbImage::from_pixel(cols * cell_w + GAP, rows * cell_h + GAP, WHITE);
    for (i, item) in cells.iter().enumerate() {
        let (x0, y0) = (GAP + (i as u32 % cols) * cell_w, GAP + (i as u32 / cols) * cell_h);
        let picture = imageops::resize(&item.image, cell, cell, imageops::FilterType::Triangle);
        imageops::replace(&mut out, &picture, i64::from(x0), i64::from(y0));
        fill(&mut out, x0, y0 + cell, cell, bar, BAR);
        for (line, text) in item.caption.iter().take(CAPTION_LINES as usize).enumerate() {
            draw_text(&mut out, text, x0 + 1, y0 + cell + 2 + line as u32 * LINE, WHITE);
        }
    }
    out
}

/// fastai's top-losses title, `prediction/actual / loss / probability`, in lines of at most
/// `width` characters: the two class names (wrapped), then the numbers.
pub fn top_loss_caption(predicted: &str, actual: &str, loss: f32, probability: f32, width: usize) -> Vec<String> {
    let mut lines = wrap(&format!("{predicted}/{actual}"), width);
    lines.truncate(CAPTION_LINES as usize - 1);
    lines.push(format!("{loss:.2} / {probability:.2}"));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_matrix_has_a_cell_per_pair_coloured_by_row_share() {
        let names: Vec<String> = ["Beagle", "Dingo", "Samoyed"].map(String::from).to_vec();
        let confusion = vec![vec![4, 0, 0], vec![1, 1, 0], vec![0, 0, 0]];
        let image = confusion_matrix(&confusion, &names, Colormap::Viridis);
        let cell = 36;
        let grid_x = MARGIN + GLYPH + MARGIN + text_width("Samoyed") + MARGIN / 2;
        let grid_y = MARGIN + GLYPH + MARGIN;
        assert_eq!(image.width(), grid_x + 3 * cell + MARGIN);
        // A cell's corner has the colour of its share: all of row 0 on the diagonal, none
        // of it beside; half of row 1 on each of its first two cells.
        let at = |row: u32, col: u32| image.get_pixel(grid_x + col * cell + 1, grid_y + row * cell + 1).0;
        assert_eq!(at(0, 0), Colormap::Viridis.rgb(1.0));
        assert_eq!(at(0, 1), Colormap::Viridis.rgb(0.0));
        assert_eq!(at(1, 0), Colormap::Viridis.rgb(0.5));
        assert_eq!(at(1, 0), at(1, 1));
    }

    #[test]
    fn grid_lays_out_cells_with_captions() {
        let cells: Vec<Captioned> = (0..5)
            .map(|i| Captioned { image: RgbImage::from_pixel(10, 10, Rgb([i * 40, 0, 0])), caption: vec!["x".into()] })
            .collect();
        let image = grid(&cells, 64);
        let bar = CAPTION_LINES * LINE + 2;
        assert_eq!(image.dimensions(), (3 * (64 + GAP) + GAP, 2 * (64 + bar + GAP) + GAP));
        assert_eq!(image.get_pixel(GAP + 64 + GAP + 5, GAP + 5).0, [40, 0, 0]);
    }

    #[test]
    fn captions_follow_fastai() {
        let lines = top_loss_caption("Old English sheepdog", "Samoyed", 4.2071, 0.876, 20);
        assert_eq!(lines, ["Old English", "sheepdog/Samoyed", "4.21 / 0.88"]);
    }
}
