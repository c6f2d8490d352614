//! The card's prose: each section written from the records, figures quoted as measured.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use woofcam::image::Fit;
use woofcam::metadata::ModelMetadata;
use woofcam::model::HeadKind;
use woofcam::weights::Precision;

use super::MATRIX;
use super::count;
use super::measure::{OutsideAnswer, PhotoKey, measured_photos, shared_photos};
use crate::device::Backend;
use crate::interpret::EvalReport;
use crate::model_file::metadata_path;
use crate::teacher::{ByProvenance, IMAGENET_VAL_PREFIX, Tally, Teacher};
use crate::train::metrics::{EpochRecord, clock};
use crate::train::{Keep, TrainConfig, TrainingRecord};

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

pub(super) fn card(
    weights: &Path,
    meta: &ModelMetadata,
    record: &TrainingRecord,
    eval: &EvalReport,
    others: &[EvalReport],
    outside: &[OutsideAnswer],
    teacher: Option<(&Path, ByProvenance)>,
) -> Result<String> {
    let runs = record.chain()?;
    let mut md = String::new();
    let w = &mut md;
    title(w, weights, meta)?;
    accuracy_section(w, weights, meta, &runs, eval, others)?;
    training_section(w, &runs, eval)?;
    if let Some((dir, scores)) = teacher {
        teacher_section(w, dir, &scores)?;
    }
    data_section(w)?;
    limitations_section(w, meta, eval, others, outside)?;
    Ok(md)
}

/// A path's file name, as the card names the files beside it.
fn file(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The title and what the model is.
fn title(w: &mut String, weights: &Path, meta: &ModelMetadata) -> Result<()> {
    let [height, width] = meta.input_size;
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
            Precision::Int8 =>
                "int8 with one scale per output channel, small weights and biases f16, BatchNorm statistics f32",
        },
        file(&metadata_path(weights)),
    )?;
    Ok(())
}

/// Accuracy from `eval` (and each of `others`, the same photos fed another way), per class,
/// the most confused pairs, the confusion matrix and, when the model runs at another size than
/// it trained at, why.
fn accuracy_section(
    w: &mut String,
    weights: &Path,
    meta: &ModelMetadata,
    runs: &[TrainingRecord],
    eval: &EvalReport,
    others: &[EvalReport],
) -> Result<()> {
    let [height, width] = meta.input_size;
    writeln!(w, "## Accuracy\n")?;
    let subset = eval.limit_per_class.map_or_else(String::new, |n| format!(", the first {n} photos of each class"));
    writeln!(
        w,
        "**{:.1}%** top-1: {} of {} photos of the `{}` split of `{}`{subset}, none of them seen in training, \
         from {}. Measured by `woofcam eval --weights {} --data {}{}`.\n",
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
            "It runs at {height}x{width}, not the {trained}x{trained} it last trained at (`woofcam export \
             --size`): a network trained on random crops sees dogs larger than a centre crop of the \
             same size shows them, and is often more accurate at a larger input (Touvron et al. 2019, \
             \"Fixing the train-test resolution discrepancy\").\n"
        )?;
    }
    Ok(())
}

/// Every run behind the model, oldest first.
fn training_section(w: &mut String, runs: &[TrainingRecord], eval: &EvalReport) -> Result<()> {
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
    Ok(())
}

/// The data and its label swap.
fn data_section(w: &mut String) -> Result<()> {
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
    Ok(())
}

/// What the model cannot do, with its answers for photos of none of its breeds.
fn limitations_section(
    w: &mut String,
    meta: &ModelMetadata,
    eval: &EvalReport,
    others: &[EvalReport],
    outside: &[OutsideAnswer],
) -> Result<()> {
    let [height, width] = meta.input_size;
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
    Ok(())
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
        None => writeln!(w, "(a recipe no `woofcam train` command line gives)\n")?,
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
        || "not recorded".to_string(),
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
/// Epochs whose record has no backend are left out.
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
