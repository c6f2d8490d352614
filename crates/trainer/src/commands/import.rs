//! `woofcam import`: a model trained in PyTorch into Woofcam's weights (`NAME.bpk` +
//! `NAME.json`), so that `explain`, `eval`, `export` and the viewer can use it.
//!
//! It reads fastai's `learn.save` files (`{'model': state_dict, 'opt': ..}`, `.pth`), plain
//! PyTorch state dicts (`torch.save(model.state_dict())`, e.g. torchvision's) and
//! safetensors state dicts such as `woofcam export --format safetensors` writes. What the
//! checkpoint is (key names, ResNet18 or 34, head, class count) is read from its keys and
//! shapes; only the class names and the input size have to come from elsewhere: the
//! safetensors header of a Woofcam export, `--data`, or Imagewoof's ten breeds.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::tensor::Device;
use serde_json::json;
use woofcam::image::Normalization;
use woofcam::metadata::{ClassInfo, ModelMetadata};
use woofcam::weights::{Precision, load_torch_safetensors, safetensors_metadata};

use crate::data::{Dataset, FolderOptions};
use crate::pytorch::{Container, inspect, load_torch_pth};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    F32,
    F16,
    /// Convolution and linear weights as int8, one scale per output channel.
    Int8,
}

#[derive(clap::Args)]
pub struct Args {
    /// The PyTorch checkpoint: `.pth`/`.pt` (fastai's `learn.save`, or a state dict) or `.safetensors`.
    checkpoint: PathBuf,
    /// Where to write the weights (`DIR/NAME.bpk`); the metadata goes beside it as `NAME.json`.
    #[arg(long)]
    out: PathBuf,
    /// Data folder whose class folders (sorted, as fastai's vocab) name the classes.
    /// Default: the checkpoint's own metadata (a Woofcam safetensors export), else
    /// Imagewoof's ten breeds.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Input size (pixels, square) recorded in the metadata. Default: the checkpoint's own
    /// metadata, else 224.
    #[arg(long, value_parser = clap::value_parser!(u32).range(32..=2048))]
    size: Option<u32>,
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    precision: PrecisionArg,
}

pub fn run(args: Args) -> Result<()> {
    let checkpoint = inspect(&args.checkpoint)?;
    let Some(num_classes) = checkpoint.num_classes else {
        bail!(
            "{} has no classifier head (no {} key); it can be a body for `--pretrained`, not a model to import",
            args.checkpoint.display(),
            match checkpoint.layout.head() {
                woofcam::model::HeadKind::Fastai => "1.8.weight",
                woofcam::model::HeadKind::Torchvision => "fc.weight",
            }
        );
    };
    let (embedded_meta, safetensors_bytes) = match checkpoint.container {
        Container::Safetensors => {
            let bytes = std::fs::read(&args.checkpoint)
                .with_context(|| format!("cannot read {}", args.checkpoint.display()))?;
            (safetensors_metadata(&bytes)?, Some(bytes))
        }
        Container::Pth => (None, None),
    };

    let classes = match (&args.data, &embedded_meta) {
        (Some(dir), _) => {
            let data = Dataset::from_folder(dir, FolderOptions::at_most(Some(1)))?;
            data.classes.into_iter().map(|c| ClassInfo { id: c.folder, name: c.name }).collect()
        }
        (None, Some(meta)) => meta.classes.clone(),
        (None, None) if num_classes == woofcam::labels::IMAGEWOOF.len() => ModelMetadata::imagewoof(224).classes,
        (None, None) => bail!(
            "the checkpoint has {num_classes} classes; pass --data DIR so their names come from DIR's class folders"
        ),
    };
    if classes.len() != num_classes {
        bail!(
            "the checkpoint has {num_classes} classes but {} names {} of them",
            args.data.as_ref().map_or("its metadata".to_string(), |d| d.display().to_string()),
            classes.len()
        );
    }
    let input_size = match (args.size, &embedded_meta) {
        (Some(size), _) => [size as usize; 2],
        (None, Some(meta)) => meta.input_size,
        (None, None) => [224; 2],
    };
    let precision = match args.precision {
        PrecisionArg::F32 => Precision::F32,
        PrecisionArg::F16 => Precision::F16,
        PrecisionArg::Int8 => Precision::Int8,
    };
    let source = match (checkpoint.container, &checkpoint.top_level_key) {
        (Container::Safetensors, _) => "safetensors state dict".to_string(),
        (Container::Pth, Some(key)) => format!("torch.save dict, state dict under `{key}` (fastai's learn.save)"),
        (Container::Pth, None) => "torch.save state dict".to_string(),
    };
    let meta = ModelMetadata {
        architecture: checkpoint.architecture.to_string(),
        head: checkpoint.layout.head(),
        input_size,
        normalization: embedded_meta.as_ref().map_or(Normalization::IMAGENET, |m| m.normalization),
        classes,
        dtype: precision,
        training: Some(json!({
            "imported_from": args.checkpoint.display().to_string(),
            "source": source,
            "layout": checkpoint.layout.name(),
            "checkpoint_dtypes": checkpoint.float_types,
            "original": embedded_meta.and_then(|m| m.training),
        })),
    };

    let device = Device::flex();
    let model = meta.config()?.init(&device);
    let model = match safetensors_bytes {
        Some(bytes) => load_torch_safetensors(model, bytes, checkpoint.layout)
            .with_context(|| format!("loading {}", args.checkpoint.display()))?,
        None => load_torch_pth(model, &args.checkpoint, checkpoint.layout, false)?,
    };
    let model = model.valid();
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::model_file::save(&model, &meta, &args.out)?;
    println!(
        "read {} tensors ({source}; {} key names, {} with {} head, {num_classes} classes, {})",
        checkpoint.tensors,
        checkpoint.layout.name(),
        checkpoint.architecture,
        checkpoint.layout.name(),
        checkpoint.float_types.join("/"),
    );
    println!(
        "wrote {} ({}, input {}x{}) and {}",
        args.out.display(),
        precision.name(),
        meta.input_size[0],
        meta.input_size[1],
        crate::model_file::metadata_path(&args.out).display()
    );
    Ok(())
}
