//! `woofcam show-batch`: fastai's `dls.show_batch()`, a grid of what the network will see.
//!
//! Looking at augmented samples is the cheapest check of the data pipeline: a wrong label,
//! a flipped colour channel, an over-strong warp or a crop cutting the dogs off shows at a
//! glance. Each sample goes through the loader exactly as in training (decoded, cropped,
//! augmented, normalised) and is un-normalised back to RGB here, so the grid shows the
//! tensors, not a separate preview path.

use std::path::PathBuf;

use anyhow::{Context, Result};
use image::{Rgb, RgbImage};
use woofcam::image::Normalization;

use crate::data::{Batch, Dataset, FolderOptions, Loader, LoaderConfig, Split, Transform};
use crate::render::{WHITE, columns, draw_text, wrap};

#[derive(clap::Args)]
pub struct Args {
    /// Data folder with `train/<class>/*` and `val/<class>/*` (e.g. imagewoof2-160).
    data_dir: PathBuf,
    /// Which split to show; `train` is augmented, `valid` is only centre-cropped.
    #[arg(long, value_enum, default_value_t = Split::Train)]
    split: Split,
    /// Network input size after augmentation (fastai's `aug_transforms(size=..)`).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(8..=1024))]
    size: u32,
    /// Square crop size of the item transform (fastai's `Resize(..)`).
    #[arg(long, default_value_t = 160, value_parser = clap::value_parser!(u32).range(8..=2048))]
    resize: u32,
    /// Number of samples.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    n: u32,
    /// Seed of the shuffle and the augmentation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Use only the first this-many images of each class (a quick look at a big folder).
    #[arg(long)]
    max_per_class: Option<usize>,
    /// Where to write the PNG grid.
    #[arg(long)]
    out: PathBuf,
}

/// Gap between cells, and the label bar under each image: two text lines of 8 px glyphs.
const GAP: u32 = 4;
const LINE: u32 = 10;
const BAR: u32 = 2 * LINE + 2;

pub fn run(args: Args) -> Result<()> {
    let options = FolderOptions::at_most(args.max_per_class);
    let data = Dataset::from_folder(&args.data_dir, options)?;
    let items = match args.split {
        Split::Train => data.train,
        Split::Valid => data.valid,
    };
    let transform = Transform::new(args.resize, args.size);
    let norm = transform.normalization;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let config = LoaderConfig {
        batch_size: args.n as usize,
        workers,
        prefetch: 1,
        seed: args.seed,
        drop_last: false,
        teacher_size: None,
    };
    let batch = Loader::new(items, args.split, transform, config).epoch(0).next().context("the split has no images")?;
    for skipped in &batch.skipped {
        eprintln!("skipped {}: {}", skipped.path.display(), skipped.reason);
    }
    let names: Vec<&str> = batch.labels.iter().map(|&l| data.classes[l].name.as_str()).collect();
    let grid = grid(&batch, &names, args.size, &norm);
    grid.save(&args.out).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} ({} samples, {} skipped, {}x{})",
        args.out.display(),
        batch.len,
        batch.skipped.len(),
        grid.width(),
        grid.height()
    );
    Ok(())
}

/// The batch's samples in rows, each with its label on a dark bar beneath.
fn grid(batch: &Batch, names: &[&str], size: u32, norm: &Normalization) -> RgbImage {
    let cols = columns(batch.len.max(1));
    let rows = (batch.len.max(1) as u32).div_ceil(cols);
    let (cell_w, cell_h) = (size + GAP, size + BAR + GAP);
    let mut out = RgbImage::from_pixel(cols * cell_w + GAP, rows * cell_h + GAP, Rgb([255; 3]));
    let plane = (size * size) as usize;
    for (i, name) in names.iter().enumerate() {
        let (x0, y0) = (GAP + (i as u32 % cols) * cell_w, GAP + (i as u32 / cols) * cell_h);
        let chw = &batch.images[i * 3 * plane..(i + 1) * 3 * plane];
        for p in 0..plane {
            let rgb = std::array::from_fn(|c| {
                let v = chw[c * plane + p] * norm.std[c] + norm.mean[c];
                (v * 255.0).round().clamp(0.0, 255.0) as u8
            });
            out.put_pixel(x0 + p as u32 % size, y0 + p as u32 / size, Rgb(rgb));
        }
        for y in y0 + size..y0 + size + BAR {
            for x in x0..x0 + size {
                out.put_pixel(x, y, Rgb([30, 30, 30]));
            }
        }
        for (line, text) in wrap(name, (size / 8) as usize).iter().take(2).enumerate() {
            draw_text(&mut out, text, x0 + 1, y0 + size + 2 + line as u32 * LINE, WHITE);
        }
    }
    out
}
