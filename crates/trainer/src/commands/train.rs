//! `woofcam train`: the notebook's recipe (`cnn_learner(dls, resnet34, metrics=error_rate)`,
//! `fit_flat_cos` frozen, `unfreeze`, `fit_flat_cos` again) as one command.

use std::path::PathBuf;

use anyhow::{Result, bail};

use woofcam::image::Fit;

use crate::device::Backend;
use crate::train::{DistillConfig, Keep, Phase, RunDir, RunState, Session, TrainConfig, fit};

#[derive(clap::Args)]
pub struct Args {
    /// The data folder: `train/<class>/*` and `val/<class>/*` (Imagewoof's layout). With
    /// --resume: where the run's data folder is on this machine, for a run carried here.
    #[arg(long, required_unless_present = "resume")]
    data: Option<PathBuf>,
    /// The run folder: checkpoints, `best.bpk` and `run.json` go here.
    #[arg(long)]
    out: PathBuf,
    /// Continue the run in --out from its last completed epoch, with its saved recipe; only
    /// --data, --teacher and --device may say where it goes on (another machine's paths, a GPU).
    #[arg(long)]
    resume: bool,
    /// With --resume: go on from the last checkpoint's model alone, Ranger's state starting
    /// anew (recorded in the run). For a checkpoint whose optimiser state (`optim.bpk`, three
    /// times the model's size) was left behind, to carry a run to another machine.
    #[arg(long, requires = "resume")]
    fresh_optimizer: bool,
    /// Epochs with the whole network training (the notebook's second `fit_flat_cos`).
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Peak learning rate of those epochs [default: 1e-4 after a frozen phase, 4e-3 from scratch].
    #[arg(long)]
    lr: Option<f64>,
    /// Epochs with the body's convolutions frozen first [default: 5 with --pretrained, else 0:
    /// freezing a randomly initialised body only wastes epochs].
    #[arg(long)]
    frozen_epochs: Option<usize>,
    /// Peak learning rate of the frozen epochs.
    #[arg(long, default_value_t = 1e-3)]
    frozen_lr: f64,
    /// fastai's item transform `Resize(resize)`: random crop on train, centre crop on valid.
    #[arg(long, default_value_t = 320, value_parser = clap::value_parser!(u32).range(16..=2048))]
    resize: u32,
    /// How `Resize` makes a photo square, on train and valid alike: `crop` (fastai's default)
    /// or `squish`, the whole photo stretched as the viewer feeds it, so that a model tuned
    /// this way sees photos in training as its users show them.
    #[arg(long, default_value_t = Fit::CenterCrop)]
    fit: Fit,
    /// The network's input size after augmentation (`aug_transforms(size=...)`).
    #[arg(long, default_value_t = 224, value_parser = clap::value_parser!(u32).range(16..=2048))]
    size: u32,
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(2..=4096))]
    batch_size: u64,
    /// `resnet34` (the notebook's) or `resnet18`.
    #[arg(long, default_value = "resnet34", value_parser = ["resnet34", "resnet18"])]
    arch: String,
    /// A torchvision ImageNet checkpoint (`.pth`) to start the body from.
    #[arg(long)]
    pretrained: Option<PathBuf>,
    /// A Woofcam model (`NAME.bpk` with `NAME.json` beside it, such as an earlier run's
    /// `best.bpk`) to start every weight from, head included: a new schedule from where
    /// another run, on another machine perhaps, left off.
    #[arg(long, conflicts_with = "pretrained")]
    init: Option<PathBuf>,
    /// Use at most this many images per class and split (a quick run).
    #[arg(long)]
    max_per_class: Option<usize>,
    /// Score each epoch on the first this-many photos of each class in `val` only (a quicker
    /// epoch; `woofcam eval` measures the whole split).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    valid_per_class: Option<u64>,
    /// Score each epoch on this percentage of each class of `train`, held out from training
    /// (the same photos for every run), instead of `val`: compare recipes without looking at
    /// the photos that measure the model.
    #[arg(long, value_name = "PERCENT", conflicts_with = "valid_per_class")]
    holdout: Option<f64>,
    /// Knowledge distillation: the folder of an ImageNet MobileNet v1 (TensorFlow.js) whose
    /// soft targets for the Imagewoof classes the model also learns from. With --resume: where
    /// the run's teacher is on this machine.
    #[arg(long)]
    teacher: Option<PathBuf>,
    /// Weight of the teacher's soft targets against the labels (0 = labels only, 1 = teacher only).
    #[arg(long, default_value_t = 0.9)]
    distill_alpha: f64,
    /// Softmax temperature of the distillation term.
    #[arg(long, default_value_t = 2.0)]
    distill_temperature: f64,
    /// Label smoothing of the cross-entropy term: `(1 - e)` on the label, `e / classes` on
    /// every class (fastai and the imagenette leaderboard use 0.1).
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f64,
    /// Mixup on every training batch: blend it with a shuffled copy of itself by a share
    /// drawn from Beta(ALPHA, ALPHA), the labels by the same share; a teacher sees the same
    /// blend (0.2-0.4 is usual).
    #[arg(long, value_name = "ALPHA")]
    mixup: Option<f64>,
    /// Which epoch's model `best.bpk` holds: `best` (fastai's recipe: the lowest valid
    /// error rate, so the validation photos take part in choosing the model) or `last`.
    #[arg(long, value_enum, default_value_t = Keep::Best)]
    keep: Keep,
    /// Decides the initial weights, data order, augmentation and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where the network computes [default: cpu; with --resume: the run's last backend].
    #[arg(long, value_enum)]
    device: Option<Backend>,
    /// Threads decoding and augmenting photos [default: the number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Stop after this many epochs in this session; `--resume` continues later.
    #[arg(long)]
    stop_after: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    let run = RunDir::new(&args.out);
    let state = if args.resume {
        let mut state = run.load_state()?;
        println!("recipe from {}/run.json (other recipe options are ignored)", args.out.display());
        carry_here(&mut state.config, &args)?;
        state
    } else {
        if run.has_state() {
            bail!("{} already holds a run; pass --resume to continue it, or choose another --out", args.out.display());
        }
        RunState::new(config(&args)?)
    };
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let session = Session { workers, stop_after: args.stop_after, fresh_optimizer: args.fresh_optimizer };
    let state = fit(run, state, session)?;
    if state.completed_epochs == state.config.total_epochs() {
        println!("done; the model kept is {}", args.out.join("best.bpk").display());
    }
    Ok(())
}

fn config(args: &Args) -> Result<TrainConfig> {
    let Some(data) = args.data.clone() else { bail!("--data is needed to start a run") };
    let pretrained = args.pretrained.is_some();
    let frozen_epochs = args.frozen_epochs.unwrap_or(if pretrained { 5 } else { 0 });
    let lr = args.lr.unwrap_or(if frozen_epochs > 0 { 1e-4 } else { 4e-3 });
    for (name, value) in [("--lr", lr), ("--frozen-lr", args.frozen_lr)] {
        if !(value.is_finite() && value > 0.0) {
            bail!("{name} must be a positive number, not {value}");
        }
    }
    if let Some(percent) = args.holdout.filter(|p| !(*p > 0.0 && *p <= 50.0)) {
        bail!("--holdout is a percentage of the train split, above 0 and at most 50, not {percent}");
    }
    if !(0.0..1.0).contains(&args.label_smoothing) {
        bail!("--label-smoothing must be in [0, 1), not {}", args.label_smoothing);
    }
    if let Some(alpha) = args.mixup.filter(|a| !(a.is_finite() && *a > 0.0)) {
        bail!("--mixup takes Beta's alpha, a positive number, not {alpha}");
    }
    if !(0.0..=1.0).contains(&args.distill_alpha)
        || args.distill_temperature.is_nan()
        || args.distill_temperature <= 0.0
    {
        bail!("--distill-alpha must be in [0, 1] and --distill-temperature positive");
    }
    let mut phases = Vec::new();
    if frozen_epochs > 0 {
        phases.push(Phase { epochs: frozen_epochs, lr: args.frozen_lr, frozen: true });
    }
    if args.epochs > 0 {
        phases.push(Phase { epochs: args.epochs, lr, frozen: false });
    }
    if phases.is_empty() {
        bail!("nothing to train: --epochs and --frozen-epochs are both 0");
    }
    Ok(TrainConfig {
        data,
        max_per_class: args.max_per_class,
        valid_per_class: args.valid_per_class.map(|n| n as usize),
        holdout_percent: args.holdout,
        resize: args.resize,
        fit: args.fit,
        size: args.size,
        batch_size: args.batch_size as usize,
        architecture: args.arch.clone(),
        pretrained: args.pretrained.clone(),
        init: args.init.clone(),
        phases,
        distill: args.teacher.clone().map(|teacher| DistillConfig {
            teacher,
            alpha: args.distill_alpha,
            temperature: args.distill_temperature,
        }),
        label_smoothing: args.label_smoothing,
        mixup: args.mixup,
        keep: args.keep,
        seed: args.seed,
        backend: args.device.unwrap_or(Backend::Cpu),
    })
}

/// A resumed run's recipe with where things are on this machine: a run carried to another
/// machine (one with a GPU, say) finds its data and teacher at other paths, and may compute on
/// another backend. The photos and the teacher must be the same; each epoch's record says
/// which backend trained it.
fn carry_here(recipe: &mut TrainConfig, args: &Args) -> Result<()> {
    if let Some(data) = &args.data {
        println!("data now in {} (was {})", data.display(), recipe.data.display());
        recipe.data = data.clone();
    }
    if let Some(teacher) = &args.teacher {
        let Some(distill) = &mut recipe.distill else {
            bail!("this run trains without a teacher; --teacher cannot add one to it")
        };
        println!("teacher now in {} (was {})", teacher.display(), distill.teacher.display());
        distill.teacher = teacher.clone();
    }
    if let Some(backend) = args.device {
        if backend != recipe.backend {
            println!("going on with the {} backend (was {})", backend.name(), recipe.backend.name());
        }
        recipe.backend = backend;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(line: &str) -> TrainConfig {
        let words = shlex::split(line).expect("a well-quoted command line");
        config(&Cli::try_parse_from(&words[1..]).expect("the command line parses").args).unwrap()
    }

    /// The command a model card gives for a run starts that very run: what it parses to is
    /// the recipe it was written from, for every shape of recipe the command line makes.
    #[test]
    fn a_recipes_command_line_gives_back_the_recipe() {
        for line in [
            "woofcam train --data 'my data/imagewoof' --out x --pretrained resnet34.pth",
            "woofcam train --data d --out x --resize 160 --size 128 --batch-size 64 --epochs 13 --lr 2e-3 --teacher t --seed 44 --init 'runs/a b/best.bpk'",
            "woofcam train --data d --out x --arch resnet18 --frozen-epochs 3 --frozen-lr 3e-3 --epochs 0 --max-per-class 4 --valid-per-class 2 --distill-alpha 0.5 --distill-temperature 4 --teacher t",
            "woofcam train --data d --out x --epochs 1 --lr 1e-30 --keep last",
            "woofcam train --data d --out x --label-smoothing 0.1 --mixup 0.4 --teacher t --holdout 5",
            "woofcam train --data d --out x --resize 160 --size 160 --fit squish --init m.bpk",
        ] {
            let recipe = parse(line);
            let command = recipe.command_line().expect("a recipe the command line made");
            assert!(command.starts_with("woofcam train "), "{command}");
            assert_eq!(parse(&command), recipe, "{line}\n{command}");
        }
    }
}
