//! `trainer`: Woofcam's native command line.

mod commands;
mod model_file;

use clap::{Parser, Subcommand};

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
    /// Architecture summary: every layer an explanation can use, with its output shape.
    Arch(commands::arch::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => commands::explain::run(args),
        Command::Arch(args) => commands::arch::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
