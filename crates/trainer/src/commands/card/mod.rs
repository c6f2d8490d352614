//! `woofcam card`: the model card (markdown) of a trained model, written from what the model
//! and its evaluation recorded rather than by hand: accuracy and per-class accuracy with the
//! confusion matrix (a `woofcam eval` folder), and every training run behind the model with
//! the command that starts it, its epoch table and its time (the model's training record,
//! `--init` runs included), then the data and the model's limits, with what it answers for
//! photos of none of its breeds (`--outside`), and the distillation teacher's accuracy on
//! photos it never saw (`--teacher`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use woofcam::metadata::ModelMetadata;

use super::count;
use crate::interpret::EvalReport;
use crate::model_file::{metadata_path, read_metadata};
use crate::train::TrainingRecord;

mod measure;
mod prose;

use measure::{answer_outside, score_teacher};
use prose::card;

#[derive(clap::Args)]
pub struct Args {
    /// The model (`NAME.bpk`, with `NAME.json` beside it), as `woofcam train` or `export` wrote it.
    #[arg(long)]
    weights: PathBuf,
    /// A folder `woofcam eval --weights NAME.bpk` wrote (eval.json, confusion_matrix.png).
    /// Repeatable: the first gives the card's accuracy, per-class table and confusion matrix;
    /// each other one (`eval --fit squish`, the viewer's way) adds its accuracy on the same
    /// photos beside it.
    #[arg(long, required = true)]
    eval: Vec<PathBuf>,
    /// The card to write; the confusion matrix goes beside it [default: MODEL_CARD.md beside the weights].
    #[arg(long)]
    out: Option<PathBuf>,
    /// A photo of none of the model's breeds (a cat, say; repeatable): the card's limitations
    /// give the model's answer for it, as the viewer would show it.
    #[arg(long, value_name = "PHOTO")]
    outside: Vec<PathBuf>,
    /// Markdown to add as the card's last section, "Notes": what the training records cannot
    /// say (which trainer builds ran which epochs, say).
    #[arg(long, value_name = "FILE")]
    notes: Option<PathBuf>,
    /// The distillation teacher's folder (the MobileNet's TensorFlow.js export): the card gives
    /// its accuracy on the photos the evaluation measured, apart on those from ImageNet's
    /// validation split (which it never trained on) and on those from ImageNet's train split.
    #[arg(long, value_name = "DIR")]
    teacher: Option<PathBuf>,
}

/// The confusion matrix's file name, beside the card.
pub(super) const MATRIX: &str = "confusion_matrix.png";

pub fn run(args: Args) -> Result<()> {
    let meta = read_metadata(&args.weights)?;
    let record = TrainingRecord::from_metadata(meta.training.as_ref())
        .with_context(|| format!("{} cannot have a card", metadata_path(&args.weights).display()))?;
    let evals = args.eval.iter().map(|dir| read_evaluation(dir, &meta, &args.weights)).collect::<Result<Vec<_>>>()?;
    let (eval, others) = evals.split_first().context("--eval is required")?;
    for (other, dir) in others.iter().zip(&args.eval[1..]) {
        if (&other.data, &other.split, other.limit_per_class) != (&eval.data, &eval.split, eval.limit_per_class) {
            bail!(
                "{} measured other photos than {} (data folder, split or --limit-per-class differ)",
                dir.display(),
                args.eval[0].display()
            );
        }
    }
    let notes = match &args.notes {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?),
        None => None,
    };
    let outside = answer_outside(&args.weights, &args.outside)?;
    let teacher = match &args.teacher {
        Some(dir) => Some((dir.as_path(), score_teacher(dir, eval)?)),
        None => None,
    };
    let out = args.out.unwrap_or_else(|| args.weights.with_file_name("MODEL_CARD.md"));
    let mut card = card(&args.weights, &meta, &record, eval, others, &outside, teacher)?;
    if let Some(notes) = notes {
        write!(card, "\n## Notes\n\n{}\n", notes.trim_end())?;
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&out, card).with_context(|| format!("cannot write {}", out.display()))?;
    let matrix = out.with_file_name(MATRIX);
    let source = args.eval[0].join(MATRIX);
    std::fs::copy(&source, &matrix)
        .with_context(|| format!("cannot copy {} to {}", source.display(), matrix.display()))?;
    println!("wrote {} and {}", out.display(), matrix.display());
    Ok(())
}

/// `DIR/eval.json`, checked to be an evaluation of the model the card is for.
fn read_evaluation(dir: &Path, meta: &ModelMetadata, weights: &Path) -> Result<EvalReport> {
    let eval = EvalReport::read(dir)?;
    if eval.classes != meta.classes || eval.input_size != meta.input_size {
        bail!(
            "{} evaluated another model (other classes or input size) than {}",
            EvalReport::path(dir).display(),
            weights.display()
        );
    }
    Ok(eval)
}
