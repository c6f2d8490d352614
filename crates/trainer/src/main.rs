//! `trainer`: Woofcam's native command line.

use clap::{Parser, Subcommand};
use woofcam_trainer::commands;

#[derive(Parser)]
#[command(name = "trainer", version, about = "Train, inspect and explain Woofcam's ResNet34 dog-breed classifier")]
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
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => commands::explain::run(args),
        Command::Arch(args) => commands::arch::run(args),
        Command::Init(args) => commands::init::run(args),
        Command::ShowBatch(args) => commands::show_batch::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
