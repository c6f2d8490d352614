//! `woofcam eval`: how good a model is on a labelled split, fastai's
//! `ClassificationInterpretation` without Python: accuracy and error rate, per-class
//! accuracy, `most_confused`, a confusion-matrix PNG, a top-losses grid PNG with Grad-CAM
//! overlays (`plot_top_losses`), and `eval.json` with the numbers for other tools (the
//! model card).
//!
//! Photos go through the data pipeline's validation transform: fastai's `Resize(resize)`
//! (centre crop of the largest square, or with `--fit squish` the whole photo stretched
//! to a square as the viewer feeds it) and a resize to the model's input size, normalised
//! with the model's statistics.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use woofcam::explain::{Request, Target, Upsampling, explain};
use woofcam::image::{Colormap, DecodeLimits, Fit, colorize, decode, overlay, to_chw};
use woofcam::metadata::ModelMetadata;
use woofcam::model::ResNet;

use super::count;
use crate::data::{Dataset, FolderOptions, Item, Split, SplitMix64, Transform};
use crate::device::Backend;
use crate::interpret::plot::{self, Captioned};
use crate::interpret::{EvalReport, Interpretation, Prediction, TopLoss, model_labels, run_batches};

/// Which folder of the data set to evaluate on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitArg {
    /// `val/` (fastai's validation set).
    #[value(alias = "valid")]
    Val,
    /// `train/`, with the validation transform (no augmentation).
    Train,
}

#[derive(clap::Args)]
pub struct Args {
    /// Exported weights (`NAME.bpk`, with `NAME.json` beside it).
    #[arg(long)]
    weights: PathBuf,
    /// Data folder with `train/<class>/*` and `val/<class>/*` (e.g. imagewoof2-160).
    #[arg(long)]
    data: PathBuf,
    #[arg(long, value_enum, default_value_t = SplitArg::Val)]
    split: SplitArg,
    /// Use only the first this-many photos of each class (a quick look).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    limit_per_class: Option<u32>,
    /// Photos in the top-losses grid (0: no grid).
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(0..=100))]
    top_losses: u32,
    /// Confused pairs listed must have been seen at least this often (fastai's `min_val`).
    #[arg(long, default_value_t = 2)]
    min_confused: usize,
    /// Square crop size before resizing to the input size (fastai's `Resize(..)`); default:
    /// the model's input size.
    #[arg(long, value_parser = clap::value_parser!(u32).range(8..=2048))]
    resize: Option<u32>,
    /// How a photo becomes a square: `crop`, its centre square (fastai's validation
    /// transform, what training validated on), or `squish`, the whole photo stretched, as the
    /// viewer feeds it (the accuracy a viewer user sees).
    #[arg(long, default_value_t = Fit::CenterCrop)]
    fit: Fit,
    /// Input size (pixels, square) to run the network at instead of the model's own: to find
    /// the size to `woofcam export --size` (a network trained on random crops is often most
    /// accurate at a larger input than it trained at).
    #[arg(long, value_parser = clap::value_parser!(u32).range(32..=2048))]
    size: Option<u32>,
    /// Photos per forward pass.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    batch: u32,
    /// Colour map of the Grad-CAM overlays and the confusion matrix.
    #[arg(long, default_value = "magma")]
    cmap: Colormap,
    /// Folder for confusion_matrix.png, top_losses.png and eval.json (created if missing).
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

/// Smallest cell of the top-losses grid, in pixels: 24 caption characters a line, so that
/// most breed names fit on one.
const MIN_CELL: u32 = 192;

pub fn run(args: Args) -> Result<()> {
    let device = Backend::Cpu.device()?;
    let (model, mut meta) = crate::model_file::load(&args.weights, &device)?;
    if let Some(size) = args.size {
        meta.input_size = [size as usize; 2];
    }
    let [height, width] = meta.input_size;
    if height != width {
        bail!("eval needs a square input size; the model's is {height}x{width} (--size N runs it at NxN)");
    }
    let size = height as u32;
    let resize = args.resize.unwrap_or(size);

    let options = FolderOptions::at_most(args.limit_per_class.map(|n| n as usize));
    let data = Dataset::from_folder(&args.data, options)?;
    let labels = model_labels(&data, &meta).with_context(|| format!("evaluating {}", args.weights.display()))?;
    let (split_name, items) = match args.split {
        SplitArg::Val => ("val", data.valid),
        SplitArg::Train => ("train", data.train),
    };
    let items: Vec<Item> = items.into_iter().map(|item| Item { label: labels[item.label], ..item }).collect();
    if items.is_empty() {
        bail!("{} has no photos in its {split_name} split", args.data.display());
    }
    let mut transform = Transform::new(resize, size);
    transform.normalization = meta.normalization;
    transform.fit = args.fit;

    let num_classes = meta.classes.len();
    let mut interp = Interpretation::new(&meta);
    let summary = run_batches(&items, transform.clone(), args.batch as usize, "eval", |batch| {
        let input = TensorData::new(batch.images, [batch.len, 3, batch.size, batch.size]);
        let logits = model.forward(Tensor::from_data(input, &device));
        let logits: Vec<f32> =
            logits.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for (i, (path, &label)) in batch.paths.iter().zip(&batch.labels).enumerate() {
            interp.add(path, label, &logits[i * num_classes..(i + 1) * num_classes]);
        }
        Ok(())
    })?;
    if interp.total() == 0 {
        bail!("none of the {} photos could be read", items.len());
    }
    for skipped in &summary.skipped {
        eprintln!("skipped {}: {}", skipped.path.display(), skipped.reason);
    }

    let limit = args.limit_per_class.map(|n| format!(" ({n} per class at most)")).unwrap_or_default();
    let fit = match args.fit {
        Fit::CenterCrop => "centre squares",
        Fit::Squish => "whole photos squished",
    };
    println!(
        "evaluated {} of {split_name}{limit} ({fit}), {} skipped, in {:.1} s ({:.1} images/s)",
        count(interp.total(), "photo"),
        summary.skipped.len(),
        summary.seconds,
        interp.total() as f64 / summary.seconds.max(1e-9)
    );
    let accuracy = interp.accuracy();
    println!(
        "accuracy {accuracy:.4} ({}/{}), error rate {:.4}, valid_loss {:.6}",
        interp.correct(),
        interp.total(),
        1.0 - accuracy,
        interp.mean_loss()
    );
    println!();
    let per_class = interp.per_class();
    let name_width = per_class.iter().map(|c| c.name.len()).max().unwrap_or(5).max(5);
    println!("{:<name_width$}  photos  correct  accuracy", "class");
    for class in &per_class {
        let accuracy = class.accuracy.map_or_else(|| "-".to_string(), |a| format!("{a:.4}"));
        println!("{:<name_width$}  {:>6}  {:>7}  {accuracy:>8}", class.name, class.images, class.correct);
    }
    println!();
    let confused = interp.most_confused(args.min_confused);
    if confused.is_empty() {
        println!("most confused: no pair of classes was mixed up {} times or more", args.min_confused.max(1));
    } else {
        println!("most confused (actual -> predicted, seen {} times or more):", args.min_confused.max(1));
        for pair in confused.iter().take(10) {
            println!("  {} -> {}: {}", pair.actual, pair.predicted, pair.count);
        }
    }

    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let matrix = plot::confusion_matrix(&interp.confusion, &interp.names, Colormap::Viridis);
    let matrix_path = args.out.join("confusion_matrix.png");
    matrix.save(&matrix_path).with_context(|| format!("cannot write {}", matrix_path.display()))?;
    println!("wrote {} ({}x{})", matrix_path.display(), matrix.width(), matrix.height());

    let top = interp.top_losses(args.top_losses as usize);
    if !top.is_empty() {
        let cell = size.max(MIN_CELL);
        let mut cells = Vec::with_capacity(top.len());
        for prediction in &top {
            cells.push(top_loss_cell(&model, &meta, &transform, prediction, &interp.names, cell, args.cmap, &device)?);
        }
        let grid = plot::grid(&cells, cell);
        let grid_path = args.out.join("top_losses.png");
        grid.save(&grid_path).with_context(|| format!("cannot write {}", grid_path.display()))?;
        println!(
            "wrote {} ({} photos, Grad-CAM of the predicted class; caption: prediction/actual / loss / probability)",
            grid_path.display(),
            top.len()
        );
    }

    let report = EvalReport {
        format_version: EvalReport::FORMAT_VERSION,
        weights: args.weights.clone(),
        data: args.data.clone(),
        split: split_name.to_string(),
        limit_per_class: args.limit_per_class.map(|n| n as usize),
        input_size: meta.input_size,
        resize,
        fit: args.fit,
        images: interp.total(),
        skipped: summary.skipped.clone(),
        correct: interp.correct(),
        accuracy,
        error_rate: 1.0 - accuracy,
        loss: interp.mean_loss(),
        classes: meta.classes.clone(),
        per_class,
        confusion_matrix: interp.confusion.clone(),
        most_confused: interp.most_confused(1),
        top_losses: top
            .iter()
            .map(|p| TopLoss {
                path: p.path.clone(),
                actual: interp.names[p.actual].clone(),
                predicted: interp.names[p.predicted].clone(),
                loss: p.loss,
                probability: p.probability,
            })
            .collect(),
    };
    let json_path = report.write(&args.out)?;
    println!("wrote {}", json_path.display());
    Ok(())
}

/// One cell of the top-losses grid: the network's input picture with the Grad-CAM map of the
/// predicted class over it, and fastai's caption.
#[allow(clippy::too_many_arguments)]
fn top_loss_cell(
    model: &ResNet,
    meta: &ModelMetadata,
    transform: &Transform,
    prediction: &Prediction,
    names: &[String],
    cell: u32,
    cmap: Colormap,
    device: &Device,
) -> Result<Captioned> {
    let path = &prediction.path;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let photo = decode(&bytes, DecodeLimits::default()).with_context(|| format!("{}", path.display()))?;
    // The validation transform draws nothing from the generator; any seed gives the same picture.
    let seen: RgbImage = transform.image(&photo.rgb, Split::Valid, &mut SplitMix64::new(0));
    let (w, h) = seen.dimensions();
    let input = TensorData::new(to_chw(&seen, &meta.normalization), [1, 3, h as usize, w as usize]);
    let request = Request {
        layer: model.default_layer().cut,
        target: Target::Class(prediction.predicted),
        gradcam: true,
        guided_backprop: false,
    };
    let data = explain(model, Tensor::from_data(input, device), request)?.read()?;
    let cam = data.gradcam.context("Grad-CAM was requested")?;
    let heat = colorize(&cam.heatmap(h as usize, w as usize, Upsampling::Bilinear), cmap);
    let image = overlay(&seen, &heat, 0.5)?;
    let caption = plot::top_loss_caption(
        &names[prediction.predicted],
        &names[prediction.actual],
        prediction.loss,
        prediction.probability,
        (cell / crate::render::GLYPH) as usize,
    );
    Ok(Captioned { image, caption })
}
