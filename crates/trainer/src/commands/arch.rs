//! `woofcam arch`: the layers a user can pass to `--layer`, with output shapes.

use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::Device;
use woofcam::model::ResNetConfig;

#[derive(clap::Args)]
pub struct Args {
    /// Input height and width in pixels.
    #[arg(long, default_value_t = 224)]
    size: usize,
    /// Summarise this exported model instead of a plain ResNet34.
    #[arg(long)]
    weights: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let device = Device::flex();
    let model = match &args.weights {
        Some(path) => crate::model_file::load(path, &device)?.0,
        None => ResNetConfig::fastai_resnet34(10).init(&device),
    };
    println!("{:<10} {:<10} output (C x H x W)", "layer", "path");
    for row in model.summary(args.size, args.size) {
        let path: Vec<String> = row.layer.path.iter().map(usize::to_string).collect();
        let [c, h, w] = row.shape;
        println!("{:<10} {:<10} {c} x {h} x {w}", row.layer.name, format!("[{}]", path.join(",")));
    }
    Ok(())
}
