//! `woofcam export`: the weights the viewer loads, or a PyTorch state dict.
//!
//! - `--format burnpack` (default): `NAME.bpk` + `NAME.json`. The validation photos (a
//!   fixed subset, or all) go through the model in f32 and as the viewer would load it in
//!   the smaller precision (f16, or int8 when asked): the largest logit difference, how many
//!   photos keep their top class, both accuracies, and how far Grad-CAM's map moves on the
//!   first photos. With `--precision auto` (default) f16 is chosen when every logit stays
//!   within `--tolerance` (1e-2) of f32, else f32. The metadata keeps the checkpoint's
//!   training record and adds what was measured here.
//! - `--format safetensors`: the same model as a PyTorch state dict (f32) with fastai's key
//!   names (`create_vision_model(resnet34, n)`) or torchvision's (`resnet34(num_classes=n)`),
//!   which `load_state_dict(.., strict=True)` takes; the metadata rides in the header.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde_json::{Value, json};
use woofcam::explain::{Request, Target, explain};
use woofcam::image::Fit;
use woofcam::metadata::ModelMetadata;
use woofcam::model::ResNet;
use woofcam::weights::{Precision, TorchLayout, from_burnpack, to_burnpack, to_torch_safetensors};

use crate::data::{Dataset, FolderOptions, Item, Transform};
use crate::device::Backend;
use crate::interpret::{Interpretation, model_labels, run_batches};
use crate::model_file::{metadata_path, write_atomically};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Woofcam's burnpack weights and JSON metadata, for the viewer.
    Burnpack,
    /// A PyTorch state dict in safetensors.
    Safetensors,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    /// f16 where it keeps the logits within the tolerance of f32 on the checked photos.
    Auto,
    F16,
    F32,
    /// Convolution and linear weights as int8 with one scale per output channel: a quarter
    /// of f32's size, for the download. Check it with --data.
    Int8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    /// The one that names the model's head: fastai's for fastai's head.
    Auto,
    /// fastai's `nn.Sequential(body, head)`: `0.4.0.conv1.weight`, `1.8.weight`.
    Fastai,
    /// torchvision's ResNet: `layer1.0.conv1.weight`, `fc.weight` (torchvision head only).
    Torchvision,
}

#[derive(clap::Args)]
pub struct Args {
    /// The checkpoint to export (`NAME.bpk` with `NAME.json` beside it).
    #[arg(long)]
    weights: PathBuf,
    /// Where to write: `DIR/NAME.bpk` (metadata to `DIR/NAME.json`) or `DIR/NAME.safetensors`.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Burnpack)]
    format: Format,
    /// Data folder whose `val/` photos check the smaller precision against f32 and measure
    /// the accuracy recorded in the metadata.
    #[arg(long)]
    data: Option<PathBuf>,
    /// How the check brings photos to the input size: the viewer's `squish` or `crop`.
    #[arg(long, default_value_t = Fit::Squish)]
    fit: Fit,
    /// Of the checked photos, how many (the first) also compare Grad-CAM's map at layer4
    /// between f32 and the smaller precision.
    #[arg(long, default_value_t = 20)]
    check_maps: usize,
    #[arg(long, value_enum, default_value_t = PrecisionArg::Auto)]
    precision: PrecisionArg,
    /// Largest |logit f16 - logit f32| that still allows f16.
    #[arg(long, default_value_t = 1e-2)]
    tolerance: f64,
    /// Validation photos to check: `all` (the whole val split, as the f16 rule asks), or a
    /// number for a quicker check (the first ones of each class, spread evenly over them).
    #[arg(long, default_value = "all")]
    check_images: CheckImages,
    /// Key names of a safetensors export.
    #[arg(long, value_enum, default_value_t = LayoutArg::Auto)]
    layout: LayoutArg,
    /// Input size (pixels, square) recorded in the metadata, which the viewer resizes photos
    /// to; default: the checkpoint's (its training size). A network trained on random crops
    /// sees dogs larger than a centre crop of the same size shows them, so it is often more
    /// accurate at a larger input (Touvron et al. 2019, "Fixing the train-test resolution
    /// discrepancy"): compare sizes with `woofcam eval --size`. The check runs at this size.
    #[arg(long, value_parser = clap::value_parser!(u32).range(32..=2048))]
    size: Option<u32>,
    /// Photos per forward pass of the check.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    batch: u32,
}

/// `--check-images`: how many validation photos the check uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckImages {
    All,
    Count(usize),
}

impl std::str::FromStr for CheckImages {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "all" => Ok(CheckImages::All),
            n => match n.parse::<usize>() {
                Ok(0) | Err(_) => Err(format!("expected a positive number of photos or `all`, got `{s}`")),
                Ok(n) => Ok(CheckImages::Count(n)),
            },
        }
    }
}

/// The outcome of running the checked photos through f32 and a smaller precision.
struct Check {
    /// The precision compared with f32.
    smaller: Precision,
    images: usize,
    skipped: usize,
    /// Largest |logit smaller - logit f32|.
    max_diff: f32,
    /// Photos whose top class is the same in both.
    same_top1: usize,
    /// Photos whose Grad-CAM maps were compared, and the largest |map smaller - map f32|
    /// over the f32 map's peak.
    maps: usize,
    max_map_diff: f32,
    f32: Interpretation,
    smaller_interp: Interpretation,
}

pub fn run(args: Args) -> Result<()> {
    if !(args.tolerance >= 0.0 && args.tolerance.is_finite()) {
        bail!("--tolerance must be a non-negative number, got {}", args.tolerance);
    }
    let device = Backend::Cpu.device()?;
    let (model, mut meta) = crate::model_file::load(&args.weights, &device)?;
    if let Some(size) = args.size {
        meta.input_size = [size as usize; 2];
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    match args.format {
        Format::Burnpack => export_burnpack(&args, &model, meta, &device),
        Format::Safetensors => export_safetensors(&args, &model, meta, &device),
    }
}

fn export_burnpack(args: &Args, model: &ResNet, mut meta: ModelMetadata, device: &Device) -> Result<()> {
    if args.out.extension().is_some_and(|e| e == "json") {
        bail!("--out names the weights file (NAME.bpk); the metadata goes beside it as NAME.json");
    }
    let smaller = if args.precision == PrecisionArg::Int8 { Precision::Int8 } else { Precision::F16 };
    let f32_bytes = to_burnpack(model, Precision::F32)?;
    let smaller_bytes = to_burnpack(model, smaller)?;
    let check = match &args.data {
        Some(data) => Some(check(args, data, model, &meta, (smaller, &smaller_bytes), device)?),
        None if args.precision == PrecisionArg::Auto => bail!(
            "--precision auto compares f16 with f32 on validation photos: pass --data DIR, or choose --precision f16 or f32"
        ),
        None => None,
    };
    let precision = match (args.precision, &check) {
        (PrecisionArg::F16, _) => Precision::F16,
        (PrecisionArg::F32, _) => Precision::F32,
        (PrecisionArg::Int8, _) => Precision::Int8,
        (PrecisionArg::Auto, Some(check)) if f64::from(check.max_diff) <= args.tolerance => Precision::F16,
        (PrecisionArg::Auto, _) => Precision::F32,
    };
    if let Some(check) = &check {
        let name = smaller.name();
        println!(
            "max |logit {name} - logit f32| = {:.6} over {} photos x {} classes ({} skipped); tolerance {}",
            check.max_diff,
            check.images,
            meta.classes.len(),
            check.skipped,
            args.tolerance
        );
        println!(
            "same top class in {name} and f32: {} of {} photos ({:.2}%)",
            check.same_top1,
            check.images,
            100.0 * check.same_top1 as f64 / check.images as f64
        );
        println!(
            "val accuracy on those photos: f32 {:.4}, {name} {:.4}",
            check.f32.accuracy(),
            check.smaller_interp.accuracy()
        );
        if check.maps > 0 {
            println!(
                "Grad-CAM at layer4, {name} vs f32: at most {:.5} of the f32 map's peak apart over {} photos",
                check.max_map_diff, check.maps
            );
        }
    }
    let choice = match (args.precision, precision) {
        (PrecisionArg::Auto, Precision::F16) => "f16 (within the tolerance)".to_string(),
        (PrecisionArg::Auto, _) => "f32 (f16 moves the logits more than the tolerance)".to_string(),
        (_, precision) => format!("{} (as asked)", precision.name()),
    };
    println!(
        "precision: {choice}; file sizes: f32 {}, {} {}",
        megabytes(f32_bytes.len()),
        smaller.name(),
        megabytes(smaller_bytes.len())
    );

    meta.dtype = precision;
    meta.training = Some(training_record(meta.training.take(), args, check.as_ref(), precision, meta.input_size));
    let bytes = if precision == smaller { smaller_bytes } else { f32_bytes };
    write_atomically(&args.out, &bytes)?;
    let meta_path = metadata_path(&args.out);
    write_atomically(&meta_path, meta.to_json().as_bytes())?;
    println!("wrote {} ({}) and {}", args.out.display(), megabytes(bytes.len()), meta_path.display());
    Ok(())
}

fn export_safetensors(args: &Args, model: &ResNet, mut meta: ModelMetadata, device: &Device) -> Result<()> {
    if matches!(args.precision, PrecisionArg::F16 | PrecisionArg::Int8) {
        bail!("a safetensors export is f32 (PyTorch's own precision); leave out --precision");
    }
    let layout = match args.layout {
        LayoutArg::Auto => TorchLayout::for_head(model.head_kind()),
        LayoutArg::Fastai => TorchLayout::Fastai,
        LayoutArg::Torchvision => TorchLayout::Torchvision,
    };
    if let Some(data) = &args.data {
        let f16_bytes = to_burnpack(model, Precision::F16)?;
        let check = check(args, data, model, &meta, (Precision::F16, &f16_bytes), device)?;
        println!("val accuracy on {} photos: {:.4}", check.images, check.f32.accuracy());
        meta.training =
            Some(training_record(meta.training.take(), args, Some(&check), Precision::F32, meta.input_size));
    }
    meta.dtype = Precision::F32;
    let bytes = to_torch_safetensors(model, layout, Some(&meta))?;
    write_atomically(&args.out, &bytes)?;
    let loader = match layout {
        TorchLayout::Fastai => format!("fastai's create_vision_model(resnet34, {})", meta.classes.len()),
        TorchLayout::Torchvision => format!("torchvision's resnet34(num_classes={})", meta.classes.len()),
    };
    println!(
        "wrote {} ({}, {} key names: load_state_dict of {loader} takes it)",
        args.out.display(),
        megabytes(bytes.len()),
        layout.name()
    );
    Ok(())
}

/// Runs the checked validation photos through the model in f32 and in `smaller`, as the
/// viewer loads it (its [`to_burnpack`] bytes read back with [`from_burnpack`]), and compares
/// Grad-CAM's maps on the first `--check-maps` of them.
fn check(
    args: &Args,
    data_dir: &Path,
    model: &ResNet,
    meta: &ModelMetadata,
    (smaller, smaller_bytes): (Precision, &[u8]),
    device: &Device,
) -> Result<Check> {
    let [height, width] = meta.input_size;
    if height != width {
        bail!("the check needs a square input size; the model's is {height}x{width}");
    }
    let num_classes = meta.classes.len();
    let max_per_class = match args.check_images {
        CheckImages::All => None,
        CheckImages::Count(n) => Some(n.div_ceil(num_classes)),
    };
    let data = Dataset::from_folder(data_dir, FolderOptions::at_most(max_per_class))?;
    let labels = model_labels(&data, meta)?;
    let mut items: Vec<Item> = data.valid.into_iter().map(|item| Item { label: labels[item.label], ..item }).collect();
    if let CheckImages::Count(n) = args.check_images {
        items.truncate(n);
    }
    if items.is_empty() {
        bail!("{} has no validation photos to check on", data_dir.display());
    }
    let small_model = from_burnpack(meta.config()?.init(device), smaller_bytes.to_vec(), smaller)?.valid();
    let layer = model.layer("layer4")?.cut;
    let mut transform = Transform::new(height as u32, height as u32);
    transform.normalization = meta.normalization;
    transform.fit = args.fit;

    let (mut f32_interp, mut smaller_interp) = (Interpretation::new(meta), Interpretation::new(meta));
    let (mut max_diff, mut maps, mut max_map_diff) = (0f32, 0, 0f32);
    let summary = run_batches(&items, transform, args.batch as usize, "check", |batch| {
        let shape = [batch.len, 3, batch.size, batch.size];
        let input = Tensor::from_data(TensorData::new(batch.images.clone(), shape), device);
        let full = read(model.forward(input.clone()))?;
        let small = read(small_model.forward(input))?;
        for (a, b) in full.iter().zip(&small) {
            // A NaN in either makes the smaller precision unusable.
            let diff = (a - b).abs();
            max_diff = if diff.is_nan() { f32::INFINITY } else { max_diff.max(diff) };
        }
        for (i, (path, &label)) in batch.paths.iter().zip(&batch.labels).enumerate() {
            let row = i * num_classes..(i + 1) * num_classes;
            f32_interp.add(path, label, &full[row.clone()]);
            smaller_interp.add(path, label, &small[row]);
        }
        let pixels = 3 * batch.size * batch.size;
        for photo in batch.images.chunks_exact(pixels).take(args.check_maps.saturating_sub(maps)) {
            let photo = || Tensor::from_data(TensorData::new(photo.to_vec(), [1, 3, batch.size, batch.size]), device);
            let request = |target| Request { layer, target, gradcam: true, guided_backprop: false };
            let reference = explain(model, photo(), request(Target::Predicted))?.read()?;
            let other = explain(&small_model, photo(), request(Target::Class(reference.class)))?.read()?;
            let (a, b) = (gradcam_map(&reference)?, gradcam_map(&other)?);
            let peak = a.iter().fold(0f32, |m, v| m.max(*v));
            let worst = a.iter().zip(&b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            max_map_diff = max_map_diff.max(if peak > 0.0 { worst / peak } else { worst });
            maps += 1;
        }
        Ok(())
    })?;
    if f32_interp.total() == 0 {
        bail!("none of the {} validation photos could be read", items.len());
    }
    let same_top1 = f32_interp
        .predictions
        .iter()
        .zip(&smaller_interp.predictions)
        .filter(|(a, b)| a.predicted == b.predicted)
        .count();
    Ok(Check {
        smaller,
        images: f32_interp.total(),
        skipped: summary.skipped.len(),
        max_diff,
        same_top1,
        maps,
        max_map_diff,
        f32: f32_interp,
        smaller_interp,
    })
}

fn read(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn gradcam_map(data: &woofcam::explain::ExplanationData) -> Result<Vec<f32>> {
    Ok(data.gradcam.as_ref().context("the explanation has no Grad-CAM map")?.map().values)
}

/// The checkpoint's training record with what this export measured added: the validation
/// accuracy (of the precision written), the f16 check, and the input size it was measured at.
fn training_record(
    previous: Option<Value>,
    args: &Args,
    check: Option<&Check>,
    precision: Precision,
    input_size: [usize; 2],
) -> Value {
    let mut record = match previous {
        Some(Value::Object(map)) => map,
        Some(other) => serde_json::Map::from_iter([("record".to_string(), other)]),
        None => serde_json::Map::new(),
    };
    let mut export = json!({
        "from": args.weights.display().to_string(),
        "precision": precision,
        "input_size": input_size,
    });
    if let Some(check) = check {
        let name = check.smaller.name();
        let chosen = if precision == check.smaller { &check.smaller_interp } else { &check.f32 };
        record.insert("val_accuracy".into(), json!(chosen.accuracy()));
        record.insert("val_images".into(), json!(check.images));
        export["check_images"] = json!(check.images);
        export["check_fit"] = json!(args.fit);
        export[format!("max_logit_diff_{name}")] = json!(check.max_diff);
        export["tolerance"] = json!(args.tolerance);
        export["val_accuracy_f32"] = json!(check.f32.accuracy());
        export[format!("val_accuracy_{name}")] = json!(check.smaller_interp.accuracy());
        export[format!("same_top1_{name}")] = json!(check.same_top1);
        if check.maps > 0 {
            export["check_maps"] = json!(check.maps);
            export[format!("max_gradcam_diff_{name}")] = json!(check.max_map_diff);
        }
    }
    record.insert("export".into(), export);
    Value::Object(record)
}

fn megabytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
