//! `woofcam init`: write a freshly initialised (untrained) model with its metadata, to try
//! the pipeline end to end before any training, or as the start of a run.

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::module::Module;
use woofcam::metadata::ModelMetadata;

use crate::device::Backend;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the weights; the metadata goes beside it as `.json`.
    #[arg(long)]
    out: PathBuf,
    /// Input size (pixels, square) recorded in the metadata.
    #[arg(long, default_value_t = 224)]
    size: usize,
    /// Decides the weights: the same seed writes the same model (the site's default model
    /// and the browser tests depend on that).
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub fn run(args: Args) -> Result<()> {
    let meta = ModelMetadata::imagewoof(args.size);
    let device = Backend::Cpu.device()?;
    device.seed(args.seed);
    let model = meta.config()?.init(&device).valid();
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::model_file::save(&model, &meta, &args.out)?;
    println!("wrote an untrained {} to {}", meta.architecture, args.out.display());
    Ok(())
}
