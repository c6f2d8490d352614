//! `trainer card`: the model card (markdown) of a trained model, written from what the model
//! and its evaluation recorded rather than by hand: accuracy and per-class accuracy with the
//! confusion matrix (a `trainer eval` folder), and every training run behind the model with
//! the command that starts it, its epoch table and its time (the model's training record,
//! `--init` runs included), then the data and the model's limits, with what it answers for
//! photos of none of its breeds (`--outside`), and the distillation teacher's accuracy on
//! photos it never saw (`--teacher`).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use burn::tensor::Tensor;
use woofcam::explain::{Request, Target, explain};
use woofcam::image::{DecodeLimits, Fit, decode};
use woofcam::metadata::ModelMetadata;
use woofcam::model::HeadKind;
use woofcam::weights::Precision;

use super::count;
use crate::data::{Dataset, FolderOptions, Item};
use crate::device::Backend;
use crate::interpret::EvalReport;
use crate::model_file::{load, metadata_path, read_metadata};
use crate::teacher::{ByProvenance, IMAGENET_VAL_PREFIX, Tally, Teacher, accuracy_by_provenance};
use crate::train::metrics::{EpochRecord, clock};
use crate::train::{Keep, TrainConfig, TrainingRecord};

#[derive(clap::Args)]
pub struct Args {
    /// The model (`NAME.bpk`, with `NAME.json` beside it), as `trainer train` or `export` wrote it.
    #[arg(long)]
    weights: PathBuf,
    /// A folder `trainer eval --weights NAME.bpk` wrote (eval.json, confusion_matrix.png).
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
const MATRIX: &str = "confusion_matrix.png";

/// What the model answers for a photo of none of its breeds: its most probable classes.
struct OutsideAnswer {
    photo: PathBuf,
    top: Vec<(String, f32)>,
}

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

/// How `eval` brought each photo to the network's input, as a phrase.
fn fit_phrase(fit: Fit, height: usize, width: usize) -> String {
    match fit {
        Fit::CenterCrop => {
            format!("a centre square of each photo resized to {height}x{width} (fastai's validation transform)")
        }
        Fit::Squish => format!("each whole photo squished to {height}x{width}, as the viewer feeds it"),
    }
}

/// How the measured accuracy relates to what a viewer user gets: the viewer squishes the
/// whole photo so that nothing is cut off, which training's centre squares never do.
fn viewer_caveat(eval: &EvalReport, others: &[EvalReport], height: usize, width: usize) -> String {
    if eval.fit == Fit::Squish {
        return format!(
            "The accuracy above is of {}; that distorts photos far from square.",
            fit_phrase(eval.fit, height, width)
        );
    }
    let measured = others.iter().find(|e| e.fit == Fit::Squish).map_or_else(
        || " (how accurate it is on photos fed that way was not measured for this card)".to_string(),
        |e| format!(": fed that way, the same photos scored {:.1}%", 100.0 * e.accuracy),
    );
    format!(
        "The accuracy above is of {}; the viewer squishes the whole photo to that size instead, so \
         that nothing is cut off. That distorts photos far from square{measured}.",
        fit_phrase(eval.fit, height, width)
    )
}

/// The teacher in `dir` on the photos `eval` measured, by where in ImageNet they come from.
fn score_teacher(dir: &Path, eval: &EvalReport) -> Result<ByProvenance> {
    let data = Dataset::from_folder(&eval.data, FolderOptions::at_most(eval.limit_per_class))
        .with_context(|| format!("listing the photos {} measured, for the teacher", eval.data.display()))?;
    let synsets: Vec<&str> = data.classes.iter().map(|c| c.folder.as_str()).collect();
    let teacher = Teacher::load(dir, &synsets, &Backend::Cpu.device()?)
        .with_context(|| format!("cannot load the teacher in {}", dir.display()))?;
    let items = if eval.split == "train" { &data.train } else { &data.valid };
    accuracy_by_provenance(&teacher, items, 32)
}

/// The model's three most probable classes for each photo, from the whole photo squished to
/// the input size, as the viewer feeds it.
fn answer_outside(weights: &Path, photos: &[PathBuf]) -> Result<Vec<OutsideAnswer>> {
    if photos.is_empty() {
        return Ok(Vec::new());
    }
    let device = Backend::Cpu.device()?;
    let (model, meta) = load(weights, &device)?;
    let names = meta.class_names();
    photos
        .iter()
        .map(|photo| {
            let bytes = std::fs::read(photo).with_context(|| format!("cannot read {}", photo.display()))?;
            let decoded = decode(&bytes, DecodeLimits::default()).with_context(|| format!("{}", photo.display()))?;
            let input = Tensor::from_data(meta.input(&decoded.rgb, Fit::Squish), &device);
            let request = Request {
                layer: model.default_layer().cut,
                target: Target::Predicted,
                gradcam: false,
                guided_backprop: false,
            };
            let data = explain(&model, input, request)?.read()?;
            let top = data.top_k(3).into_iter().map(|(class, p)| (names[class].clone(), p)).collect();
            Ok(OutsideAnswer { photo: photo.clone(), top })
        })
        .collect()
}

fn card(
    weights: &Path,
    meta: &ModelMetadata,
    record: &TrainingRecord,
    eval: &EvalReport,
    others: &[EvalReport],
    outside: &[OutsideAnswer],
    teacher: Option<(&Path, ByProvenance)>,
) -> Result<String> {
    let runs = record.chain()?;
    let file =
        |path: &Path| path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let [height, width] = meta.input_size;
    let mut md = String::new();
    let w = &mut md;
    writeln!(w, "# Model card: {}\n", file(weights))?;
    writeln!(
        w,
        "A {} with {} head that tells {} dog breeds apart in {height}x{width} photos. Weights: \
         `{}` ({}), metadata (input size, normalisation, classes, this record): `{}`.\n",
        meta.architecture,
        match meta.head {
            HeadKind::Fastai => "fastai's",
            HeadKind::Torchvision => "torchvision's",
        },
        meta.classes.len(),
        file(weights),
        match meta.dtype {
            Precision::F32 => "f32",
            Precision::F16 => "f16, BatchNorm statistics f32",
        },
        file(&metadata_path(weights)),
    )?;

    writeln!(w, "## Accuracy\n")?;
    let subset = eval.limit_per_class.map_or_else(String::new, |n| format!(", the first {n} photos of each class"));
    writeln!(
        w,
        "**{:.1}%** top-1: {} of {} photos of the `{}` split of `{}`{subset}, none of them seen in training, \
         from {}. Measured by `trainer eval --weights {} --data {}{}`.\n",
        100.0 * eval.accuracy,
        eval.correct,
        eval.images,
        eval.split,
        eval.data.display(),
        fit_phrase(eval.fit, height, width),
        file(weights),
        eval.data.display(),
        match eval.fit {
            Fit::CenterCrop => String::new(),
            fit => format!(" --fit {}", fit.name()),
        },
    )?;
    for other in others {
        writeln!(
            w,
            "From {}: **{:.1}%** ({} of {}, `--fit {}`).\n",
            fit_phrase(other.fit, height, width),
            100.0 * other.accuracy,
            other.correct,
            other.images,
            other.fit.name(),
        )?;
    }
    writeln!(w, "| Breed | Synset | Accuracy | Photos |\n|---|---|---|---|")?;
    for class in &eval.per_class {
        let accuracy = class.accuracy.map_or_else(|| "-".to_string(), |a| format!("{:.1}%", 100.0 * a));
        writeln!(w, "| {} | {} | {accuracy} | {} |", class.name, class.id, class.images)?;
    }
    let confused: Vec<String> =
        eval.most_confused.iter().take(5).map(|c| format!("{} as {} ({})", c.actual, c.predicted, c.count)).collect();
    if !confused.is_empty() {
        writeln!(w, "\nMost confused (actual as predicted, photos): {}.", confused.join("; "))?;
    }
    writeln!(w, "\n![Confusion matrix: rows actual, columns predicted]({MATRIX})\n")?;
    let trained = runs.last().expect("a chain has this model's run").recipe.size as usize;
    if [trained; 2] != meta.input_size {
        writeln!(
            w,
            "It runs at {height}x{width}, not the {trained}x{trained} it last trained at (`trainer export \
             --size`): a network trained on random crops sees dogs larger than a centre crop of the \
             same size shows them, and is often more accurate at a larger input (Touvron et al. 2019, \
             \"Fixing the train-test resolution discrepancy\").\n"
        )?;
    }

    writeln!(w, "## How it was trained\n")?;
    let epochs: usize = runs.iter().map(|r| r.epochs_completed).sum();
    let seconds: f64 = runs.iter().map(|r| r.training_seconds).sum();
    writeln!(
        w,
        "{}, {} and {} of training in all, with Woofcam's trainer (Burn): fastai's \
         recipe, Ranger and `fit_flat_cos` (flat for 75% of a phase's steps, then cosine to zero), \
         Resize then `aug_transforms`, ImageNet normalisation. Each later run starts from the model \
         the one before it kept (`--init`), with a new schedule. The error rates in the tables are \
         on each run's own validation folder.\n",
        count(runs.len(), "run"),
        count(epochs, "epoch"),
        clock(Duration::from_secs_f64(seconds)),
    )?;
    let measured = measured_photos(eval);
    for (index, run) in runs.iter().enumerate() {
        run_section(w, index, runs.len(), run, eval, measured.as_ref())?;
    }
    if let Some((dir, scores)) = teacher {
        teacher_section(w, dir, &scores)?;
    }

    writeln!(w, "## Data\n")?;
    writeln!(
        w,
        "Imagewoof 2 (fast.ai's imagenette project): ten dog breeds of ImageNet that are hard to tell \
         apart, 9,025 train and 3,929 val photos; this copy has every photo downscaled to a short side \
         of 160 px. Training used the train split only; the val split measures.\n\n\
         Labels: a widely copied notebook swaps two of them, naming n02093754 \"Australian terrier\" \
         and n02096294 \"Border terrier\". ImageNet (and the photos) say n02093754 is the Border \
         terrier (ImageNet class 182) and n02096294 the Australian terrier (class 193); this model \
         uses ImageNet's names, as in the table above.\n"
    )?;

    writeln!(w, "## Limitations\n")?;
    writeln!(
        w,
        "- It knows only these {n} breeds and has no \"none of these\" class: every photo, a cat's, a \
         person's or another breed's, gets {n} probabilities that sum to 1, often with one of them \
         high. A confident answer is not evidence that the photo shows one of these dogs.\n\
         - {viewer} It learnt from \
         photos of one dog each, mostly from the side or the front, as ImageNet photographers took \
         them; small, distant or partly hidden dogs, drawings and unusual angles are harder for it.\n\
         - Breeds that look alike are its most common mistakes (see the confusion matrix); mixed \
         breeds have no right answer here.\n\
         - Grad-CAM and Guided Backprop show what the network's output depends on, not why a breed is \
         that breed; Guided Backprop looks like an edge detector even for an untrained network \
         (Adebayo et al., 2018).",
        n = meta.classes.len(),
        viewer = viewer_caveat(eval, others, height, width),
    )?;
    if !outside.is_empty() {
        writeln!(
            w,
            "\nWhat it answers for photos of none of its breeds (the whole photo squished to {height}x{width}, \
             as in the viewer):\n\n| Photo | Its three most probable breeds |\n|---|---|"
        )?;
        for answer in outside {
            let top: Vec<String> = answer.top.iter().map(|(name, p)| format!("{name} {:.1}%", 100.0 * p)).collect();
            writeln!(w, "| `{}` | {} |", answer.photo.display(), top.join(", "))?;
        }
    }
    Ok(md)
}

/// One run: the command that starts it, its recipe in words, its validation photos against
/// the ones `eval` measured (`measured`: [`measured_photos`]), and its epoch table.
fn run_section(
    w: &mut String,
    index: usize,
    runs: usize,
    run: &TrainingRecord,
    eval: &EvalReport,
    measured: Option<&HashSet<PhotoKey>>,
) -> Result<()> {
    let recipe = &run.recipe;
    writeln!(w, "### Run {} of {runs}\n", index + 1)?;
    match recipe.command_line() {
        Some(command) => writeln!(w, "```sh\n{command}\n```\n")?,
        None => writeln!(w, "(a recipe no `trainer train` command line gives)\n")?,
    }
    let phases: Vec<String> = recipe
        .phases
        .iter()
        .map(|p| format!("{} at a peak lr of {:e}", count(p.epochs, &format!("{} epoch", p.name())), p.lr))
        .collect();
    writeln!(
        w,
        "- Phases: {}; batch {}, Resize({}) then {} px.",
        phases.join(", then "),
        recipe.batch_size,
        recipe.resize,
        recipe.size
    )?;
    let start = match (&recipe.init, &recipe.pretrained) {
        (Some(init), _) => format!("every weight of `{}` (run {index}'s model)", init.display()),
        (None, Some(pretrained)) => format!("the body of `{}`, a new head", pretrained.display()),
        (None, None) => "a random initialisation (the seed's)".to_string(),
    };
    writeln!(w, "- Start: {start}; seed {}.", recipe.seed)?;
    let host = run.host.as_ref().map_or_else(
        || "not recorded (runs before the trainer recorded it)".to_string(),
        |h| format!("{}, {} threads, {}", h.cpu.as_deref().unwrap_or("CPU model unknown"), h.threads, h.os),
    );
    match backend_spans(&run.history) {
        spans if spans.len() > 1 => {
            writeln!(w, "- Backends: {}; machine of its last session: {host}.", spans.join(", "))?
        }
        _ => writeln!(w, "- Backend `{}`; machine: {host}.", recipe.backend.name())?,
    }
    if let Some(distill) = &recipe.distill {
        writeln!(
            w,
            "- Knowledge distillation from `{}`: alpha {} (the teacher's soft targets' weight against the labels), temperature {}.",
            distill.teacher.display(),
            distill.alpha,
            distill.temperature
        )?;
    }
    let mut regularised = Vec::new();
    if let Some(alpha) = recipe.mixup {
        let teacher = if recipe.distill.is_some() { ", the teacher seeing the same blend" } else { "" };
        regularised.push(format!(
            "mixup on every training batch (a share drawn from Beta({alpha}, {alpha}), labels mixed likewise{teacher})"
        ));
    }
    if recipe.label_smoothing > 0.0 {
        regularised.push(format!("label smoothing {} on the cross-entropy term", recipe.label_smoothing));
    }
    if !regularised.is_empty() {
        let text = regularised.join("; ");
        writeln!(w, "- {}{}.", text[..1].to_uppercase(), &text[1..])?;
    }
    let best = run.best.as_ref().map_or_else(
        || "no epoch kept".to_string(),
        |b| format!("kept {} epoch {} (error rate {:.4})", b.phase, b.epoch, b.error_rate),
    );
    writeln!(
        w,
        "- {} in {}; {best}.",
        count(run.epochs_completed, "epoch"),
        clock(Duration::from_secs_f64(run.training_seconds))
    )?;
    if !run.optimizer_restarts.is_empty() {
        let after: Vec<String> = run.optimizer_restarts.iter().map(|e| e.to_string()).collect();
        writeln!(
            w,
            "- It went on from its model alone after {} {} (`--resume --fresh-optimizer`): Ranger's state \
             started anew there.",
            if after.len() == 1 { "epoch" } else { "epochs" },
            after.join(", ")
        )?;
    }
    let photos = validation_photos(recipe);
    if recipe.keep == Keep::Last {
        writeln!(w, "- It kept its last epoch: its validation photos ({photos}) chose nothing.\n")?;
    } else {
        best_epoch_choice(w, recipe, &photos, eval, measured)?;
    }
    writeln!(w, "| phase | epoch | train_loss | valid_loss | error_rate | time |\n|---|---|---|---|---|---|")?;
    for e in &run.history {
        writeln!(
            w,
            "| {} | {} | {:.6} | {:.6} | {:.6} | {} |",
            e.phase,
            e.epoch,
            e.train_loss,
            e.valid_loss,
            e.error_rate,
            clock(Duration::from_secs_f64(e.seconds))
        )?;
    }
    writeln!(w)?;
    Ok(())
}

/// The teacher's accuracy on the measured photos it never saw and on those it trained on.
fn teacher_section(w: &mut String, dir: &Path, scores: &ByProvenance) -> Result<()> {
    let tally = |t: &Tally| format!("**{:.1}%** ({} of {})", 100.0 * t.accuracy(), t.correct, t.photos);
    writeln!(w, "### The teacher's own accuracy\n")?;
    write!(
        w,
        "The teacher (`{}`, its outputs for these breeds, each photo's centre square at {side}x{side}) on the \
         photos measured above: ",
        dir.display(),
        side = Teacher::INPUT_SIZE
    )?;
    let mut parts = Vec::new();
    if scores.unseen.photos > 0 {
        parts.push(format!(
            "{} on the {} from ImageNet's validation split (named `{IMAGENET_VAL_PREFIX}*`), which no ImageNet \
             model trained on: its honest figure",
            tally(&scores.unseen),
            count(scores.unseen.photos, "photo")
        ));
    }
    if scores.seen.photos > 0 {
        parts.push(format!(
            "{} on the {} from ImageNet's train split, which it trained on",
            tally(&scores.seen),
            count(scores.seen.photos, "photo")
        ));
    }
    writeln!(w, "{}.", parts.join("; "))?;
    writeln!(
        w,
        "The student learnt from the train split only, so its own figures on the val split are honest \
         on every photo.\n"
    )?;
    Ok(())
}

/// The photos a run validated on: its data folder's `val`, the first so many of each class there, or
/// a share of `train` held out.
fn validation_photos(recipe: &TrainConfig) -> String {
    let folder = recipe.data.join("val");
    match (recipe.holdout_percent, recipe.valid_per_class) {
        (Some(percent), _) => {
            format!("{percent}% of each class of `{}`, held out from training", recipe.data.join("train").display())
        }
        (None, Some(n)) => format!("the first {n} of each class in `{}`", folder.display()),
        (None, None) => format!("`{}`", folder.display()),
    }
}

/// Which backend trained which epochs (counted from 0 over the run, as the table's rows), as
/// "`cpu` for epochs 0-11 and 22-59": one entry per backend, in the order they first ran.
/// Epochs from before the trainer recorded it have no backend and are left out.
fn backend_spans(history: &[EpochRecord]) -> Vec<String> {
    let mut spans: Vec<(Backend, Vec<(usize, usize)>)> = Vec::new();
    for (epoch, backend) in history.iter().enumerate().filter_map(|(i, e)| Some((i, e.backend?))) {
        let ranges = match spans.iter_mut().find(|(b, _)| *b == backend) {
            Some((_, ranges)) => ranges,
            None => {
                spans.push((backend, Vec::new()));
                &mut spans.last_mut().expect("just pushed").1
            }
        };
        match ranges.last_mut() {
            Some((_, last)) if *last + 1 == epoch => *last = epoch,
            _ => ranges.push((epoch, epoch)),
        }
    }
    spans
        .into_iter()
        .map(|(backend, ranges)| {
            let ranges: Vec<String> =
                ranges.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
            let (last, rest) = ranges.split_last().expect("a backend has an epoch");
            let epochs = if rest.is_empty() { last.clone() } else { format!("{} and {last}", rest.join(", ")) };
            let noun = if ranges.len() == 1 && !last.contains('-') { "epoch" } else { "epochs" };
            format!("`{}` for {noun} {epochs}", backend.name())
        })
        .collect()
}

/// Where a run that kept its best epoch chose it (`photos`: [`validation_photos`]), and how
/// many of those photos `eval` measured (`measured`: [`measured_photos`]).
fn best_epoch_choice(
    w: &mut String,
    recipe: &TrainConfig,
    photos: &str,
    eval: &EvalReport,
    measured: Option<&HashSet<PhotoKey>>,
) -> Result<()> {
    match measured.and_then(|measured| shared_photos(recipe, measured)) {
        Some((0, total)) => writeln!(
            w,
            "- Its best epoch was chosen on {photos}: none of its {total} photos is among those measured above.\n"
        )?,
        Some((shared, total)) => writeln!(
            w,
            "- Its best epoch was chosen on {photos} (fastai's recipe keeps the epoch its validation photos \
             like best): {shared} of its {total} photos are among the {} measured above, which are \
             therefore not wholly independent of that choice.\n",
            eval.images
        )?,
        None => writeln!(
            w,
            "- Its best epoch was chosen on {photos}; that folder or the one measured above is not on \
             this machine, so whether they share photos is not checked.\n"
        )?,
    }
    Ok(())
}

/// A photo by class folder and file name: how a run's validation folder and the folder
/// `eval` measured are compared (one may hold links to, or copies of, the other's photos).
type PhotoKey = (String, String);

fn photo_key(item: &Item) -> Option<PhotoKey> {
    let class = item.path.parent()?.file_name()?.to_string_lossy().into_owned();
    Some((class, item.path.file_name()?.to_string_lossy().into_owned()))
}

/// The photos `eval` measured, listed once for every run's comparison; `None` when their
/// folder cannot be listed here.
fn measured_photos(eval: &EvalReport) -> Option<HashSet<PhotoKey>> {
    let data = Dataset::from_folder(&eval.data, FolderOptions::at_most(eval.limit_per_class)).ok()?;
    let items = if eval.split == "train" { data.train } else { data.valid };
    Some(items.iter().filter_map(photo_key).collect())
}

/// How many of a run's validation photos (which chose its best epoch) are among the
/// `measured` ones, and how many it had; `None` when its folder cannot be listed here.
fn shared_photos(recipe: &TrainConfig, measured: &HashSet<PhotoKey>) -> Option<(usize, usize)> {
    let validation = Dataset::from_folder(&recipe.data, recipe.folder_options()).ok()?.valid;
    let shared = validation.iter().filter_map(photo_key).filter(|k| measured.contains(k)).count();
    Some((shared, validation.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epochs(backends: &[Option<Backend>]) -> Vec<EpochRecord> {
        let record = |backend| EpochRecord {
            phase: "unfrozen".into(),
            epoch: 0,
            train_loss: 1.0,
            valid_loss: 1.0,
            error_rate: 0.5,
            accuracy: 0.5,
            seconds: 1.0,
            skipped: 0,
            backend,
        };
        backends.iter().copied().map(record).collect()
    }

    #[test]
    fn backend_spans_name_the_epochs_each_backend_trained() {
        let (cpu, wgpu) = (Some(Backend::Cpu), Some(Backend::Wgpu));
        let history = epochs(&[None, cpu, cpu, wgpu, wgpu, wgpu, cpu, wgpu, cpu, cpu]);
        assert_eq!(backend_spans(&history), ["`cpu` for epochs 1-2, 6 and 8-9", "`wgpu` for epochs 3-5 and 7"]);
        assert_eq!(backend_spans(&epochs(&[cpu, wgpu])), ["`cpu` for epoch 0", "`wgpu` for epoch 1"]);
        assert_eq!(backend_spans(&epochs(&[cpu, cpu])), ["`cpu` for epochs 0-1"]);
        assert!(backend_spans(&epochs(&[None, None])).is_empty());
    }
}
