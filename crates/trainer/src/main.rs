//! `woofcam`: the native command line.

use clap::{Parser, Subcommand};
use woofcam_trainer::commands;

#[derive(Parser)]
#[command(name = "woofcam", version, about = "Train, inspect and explain Woofcam's ResNet34 dog-breed classifier")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Explain a photo: top-5 breeds and Grad-CAM / Guided Backprop / Guided Grad-CAM PNGs.
    Explain(commands::explain::Args),
    /// Write an untrained model (weights and metadata) to try the pipeline.
    Init(commands::init::Args),
    /// Architecture summary: every layer an explanation can use, with its output shape.
    Arch(commands::arch::Args),
    /// A PNG grid of training (augmented) or validation samples with their labels.
    ShowBatch(commands::show_batch::Args),
    /// Train the model: fastai's recipe (frozen then unfrozen `fit_flat_cos`, Ranger), resumable.
    Train(commands::train::Args),
    /// Accuracy, per-class accuracy, most confused pairs, a confusion matrix and a top-losses grid with Grad-CAM.
    Eval(commands::eval::Args),
    /// The weights the viewer loads (f16 where it keeps the logits, else f32), or a PyTorch state dict.
    Export(commands::export::Args),
    /// A PyTorch checkpoint (fastai's learn.save, a state dict, safetensors) into Woofcam's weights.
    Import(commands::import::Args),
    /// The model card (markdown) of a trained model: accuracy from a `woofcam eval` folder, every training run, limits.
    Card(commands::card::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => commands::explain::run(args),
        Command::Arch(args) => commands::arch::run(args),
        Command::Init(args) => commands::init::run(args),
        Command::ShowBatch(args) => commands::show_batch::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Import(args) => commands::import::run(args),
        Command::Card(args) => commands::card::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
