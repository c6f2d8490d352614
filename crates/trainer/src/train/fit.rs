//! The training loop: fastai's `Learner.fit_flat_cos` for each phase of the recipe, with
//! validation, the epoch table, the best checkpoint and resumable runs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use woofcam::metadata::{ClassInfo, ModelMetadata};
use woofcam::model::{HeadKind, ResNet};
use woofcam::weights::{Precision, TorchLayout};

use super::config::{Keep, TrainConfig};
use super::freeze::{freeze, unfreeze};
use super::loss::{Distillation, Targets, cross_entropy};
use super::metrics::{EpochRecord, SmoothLoss, clock, table_header, table_row};
use super::mixup::Mixup;
use super::progress::Progress;
use super::record::{BestEpoch, Host, TrainingRecord};
use super::run_dir::{Best, RunDir, RunState};
use super::schedule::FlatCos;
use crate::data::{Batch, Dataset, Loader, LoaderConfig, Skipped, Split, Transform};
use crate::device::Backend;
use crate::pytorch::load_torch_pth;
use crate::ranger::RangerConfig;
use crate::teacher::Teacher;

/// How this session runs, as opposed to what the run is ([`TrainConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// Decoding threads.
    pub workers: usize,
    /// Stop after this many epochs in this session (the run can be resumed later).
    pub stop_after: Option<usize>,
    /// Resume from the last checkpoint's model alone, with Ranger's state starting anew.
    pub fresh_optimizer: bool,
}

/// Everything one training session works with.
struct Learner {
    config: TrainConfig,
    device: Device,
    meta: ModelMetadata,
    train: Loader,
    valid: Loader,
    run: RunDir,
    state: RunState,
    /// The distillation teacher and how its soft targets mix with the labels.
    teacher: Option<(Teacher, Distillation)>,
    /// Unreadable photos already named on stderr (each is skipped again every epoch).
    reported: HashSet<PathBuf>,
}

/// Starts a run in `run`, or continues the one there (`state` from its `run.json`).
/// Returns the run's state after this session.
pub fn fit(run: RunDir, state: RunState, session: Session) -> Result<RunState> {
    let config = state.config.clone();
    if config.phases.is_empty() || config.total_epochs() == 0 {
        bail!("nothing to train: every phase has 0 epochs");
    }
    let data = Dataset::from_folder(&config.data, config.folder_options())?;
    if data.train.len() < config.batch_size {
        bail!(
            "{} has {} training images, fewer than one batch of {}; lower --batch-size",
            config.data.display(),
            data.train.len(),
            config.batch_size
        );
    }
    if data.valid.is_empty() {
        bail!("{}/val holds no images to validate on", config.data.display());
    }
    println!(
        "{} photos to train on, {} to validate on{}",
        data.train.len(),
        data.valid.len(),
        config.holdout_percent.map_or_else(String::new, |p| format!(" ({p}% of each class of train, held out)"))
    );
    let mut meta = ModelMetadata::imagewoof(config.size as usize);
    meta.architecture = config.architecture.clone();
    meta.head = HeadKind::Fastai;
    meta.dtype = Precision::F32;
    meta.classes = data.classes.iter().map(|c| ClassInfo { id: c.folder.clone(), name: c.name.clone() }).collect();
    meta.config()?;
    let teacher = match &config.distill {
        None => None,
        Some(distill) => {
            // The data's class folders are ImageNet synsets: the teacher's outputs for them.
            let synsets: Vec<&str> = data.classes.iter().map(|c| c.folder.as_str()).collect();
            let teacher = Teacher::load(&distill.teacher, &synsets, &config.backend.device()?)
                .with_context(|| format!("cannot load the teacher in {}", distill.teacher.display()))?;
            Some((teacher, Distillation { alpha: distill.alpha, temperature: distill.temperature }))
        }
    };

    let mut transform = Transform::new(config.resize, config.size);
    transform.fit = config.fit;
    let loader = |items, split: Split, drop_last| {
        let loader_config = LoaderConfig {
            batch_size: config.batch_size,
            workers: session.workers,
            prefetch: 2,
            seed: config.seed,
            drop_last,
            // Training batches only: validation measures the network, not the teacher.
            teacher_size: (teacher.is_some() && split == Split::Train).then_some(Teacher::INPUT_SIZE as u32),
        };
        Loader::new(items, split, transform.clone(), loader_config)
    };
    let learner = Learner {
        device: config.backend.device()?.autodiff(),
        train: loader(data.train, Split::Train, true),
        valid: loader(data.valid, Split::Valid, false),
        meta,
        run,
        config,
        state,
        teacher,
        reported: HashSet::new(),
    };
    learner.fit(session)
}

impl Learner {
    fn fit(mut self, session: Session) -> Result<RunState> {
        let (mut model, mut optimizer) = self.start(session.fresh_optimizer)?;
        let total = self.config.total_epochs();
        let last = session.stop_after.map_or(total, |n| (self.state.completed_epochs + n).min(total));
        let first_of_session = self.state.completed_epochs;
        if self.config.backend != Backend::Cpu {
            // Otherwise the first batch looks hung: on an H200 it took about two minutes.
            println!(
                "{}: Burn tunes its GPU kernels for this run's shapes first; the first batches can take minutes",
                self.config.backend.name()
            );
        }
        while self.state.completed_epochs < last {
            let epoch = self.state.completed_epochs;
            let (phase_index, epoch_in_phase) = self.config.locate(epoch).expect("epoch < total epochs");
            if epoch_in_phase == 0 || epoch == first_of_session {
                let phase = &self.config.phases[phase_index];
                println!(
                    "\n{} phase: {} epochs at lr {:e}{}",
                    phase.name(),
                    phase.epochs,
                    phase.lr,
                    if epoch_in_phase > 0 { format!(" (resuming at epoch {epoch_in_phase})") } else { String::new() }
                );
                println!("{}", table_header());
            }
            if epoch_in_phase == 0 {
                // fastai's Recorder resets the smoothed loss at the start of each fit.
                self.state.smooth_loss = SmoothLoss::new();
            }
            let started = Instant::now();
            model = if self.config.phases[phase_index].frozen { freeze(model) } else { unfreeze(model) };
            let (trained, optim, skipped_train) =
                self.train_epoch(model, optimizer, epoch, phase_index, epoch_in_phase)?;
            (model, optimizer) = (trained, optim);
            let (valid_loss, accuracy, skipped_valid) = self.validate(&model);
            self.report(skipped_train.iter().chain(&skipped_valid));
            let record = EpochRecord {
                phase: self.config.phases[phase_index].name().to_string(),
                epoch: epoch_in_phase,
                train_loss: self.state.smooth_loss.get(),
                valid_loss,
                error_rate: 1.0 - accuracy,
                accuracy,
                seconds: started.elapsed().as_secs_f64(),
                skipped: skipped_train.len() + skipped_valid.len(),
                backend: Some(self.config.backend),
            };
            println!("{}", table_row(&record));
            if !record.train_loss.is_finite() {
                bail!("the training loss is {} at epoch {epoch}: lower the learning rate", record.train_loss);
            }
            self.state.seconds += record.seconds;
            self.state.history.push(record);
            self.state.completed_epochs += 1;
            self.save(&model, &optimizer)?;
        }
        self.summary();
        Ok(self.state)
    }

    /// A fresh model and optimiser, or the last checkpoint's (its model alone with
    /// `fresh_optimizer`).
    fn start(&mut self, fresh_optimizer: bool) -> Result<(ResNet, ModuleOptimizer)> {
        let optimizer = RangerConfig::new().init();
        if self.state.completed_epochs > 0 {
            let model = self.run.load_model(&self.state, &self.device)?;
            let optimizer = if fresh_optimizer {
                // Recorded, since from here on the run is not what an uninterrupted one gives.
                self.state.optimizer_restarts.push(self.state.completed_epochs);
                optimizer
            } else {
                self.run.load_optimizer(&self.state, optimizer)?
            };
            println!(
                "resuming {} after epoch {} of {}{}",
                self.run.root().display(),
                self.state.completed_epochs,
                self.config.total_epochs(),
                if fresh_optimizer { ", from the model alone: Ranger's state starts anew" } else { "" }
            );
            return Ok((model, optimizer));
        }
        self.run.create()?;
        if let Some(init) = &self.config.init {
            // Every weight comes from the file (`--pretrained` is refused beside it), so no
            // fresh network is drawn only to be overwritten.
            let (model, training) = self.initial_weights(init)?;
            self.state.started_from = training;
            println!("weights initialised from {}", init.display());
            return Ok((model, optimizer));
        }
        // The initial weights follow from the seed (Kaiming init draws from the device's RNG).
        self.device.seed(self.config.seed);
        let mut model = self.meta.config()?.init(&self.device);
        if let Some(pretrained) = &self.config.pretrained {
            // The notebook's `pretrained=True`: torchvision's ImageNet body, a new head.
            model = load_torch_pth(model, pretrained, TorchLayout::Torchvision, true)
                .with_context(|| format!("cannot start the body from {}", pretrained.display()))?;
            println!("body initialised from {}", pretrained.display());
        }
        Ok((model, optimizer))
    }

    /// `--init`: the model in `path`, which must be this run's network over this run's classes,
    /// and the record of how it was trained.
    fn initial_weights(&self, path: &Path) -> Result<(ResNet, Option<serde_json::Value>)> {
        let (model, meta) = crate::model_file::read(path, &self.device)
            .with_context(|| format!("cannot start the weights from {}", path.display()))?;
        let ids = |m: &ModelMetadata| m.classes.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        if meta.architecture != self.meta.architecture || meta.head != self.meta.head {
            bail!(
                "{} is a {} with a {:?} head; this run trains a {} with a {:?} head",
                path.display(),
                meta.architecture,
                meta.head,
                self.meta.architecture,
                self.meta.head
            );
        }
        if ids(&meta) != ids(&self.meta) {
            bail!(
                "{} was trained on the classes {:?}; this run's data has {:?}",
                path.display(),
                ids(&meta),
                ids(&self.meta)
            );
        }
        Ok((model, meta.training))
    }

    fn train_epoch(
        &mut self,
        mut model: ResNet,
        mut optimizer: ModuleOptimizer,
        epoch: usize,
        phase_index: usize,
        epoch_in_phase: usize,
    ) -> Result<(ResNet, ModuleOptimizer, Vec<Skipped>)> {
        let phase = &self.config.phases[phase_index];
        let per_epoch = self.train.batches_per_epoch();
        let schedule = FlatCos::new(phase.lr, phase.epochs * per_epoch);
        // Dropout draws from the device's RNG: seeding it per epoch makes a resumed run
        // draw what the uninterrupted one would have.
        self.device.seed(self.config.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut progress = Progress::new(per_epoch, self.config.batch_size);
        let mut skipped = Vec::new();
        for (i, mut batch) in self.train.epoch(epoch as u64).enumerate() {
            skipped.append(&mut batch.skipped);
            if batch.len < 2 {
                // BatchNorm cannot take batch statistics over one image.
                continue;
            }
            let lr = schedule.lr(epoch_in_phase * per_epoch + i);
            let (images, labels) = self.tensors(&batch, &self.device);
            let mixup =
                self.config.mixup.map(|alpha| Mixup::draw(alpha, self.config.seed, epoch as u64, i as u64, batch.len));
            let blend = |x: Tensor<4>| match &mixup {
                Some(m) => m.blend(x),
                None => x,
            };
            let targets = Targets {
                mixed: mixup.as_ref().map(|m| (m.partner_labels(labels.clone()), m.share)),
                labels,
                smoothing: self.config.label_smoothing,
            };
            let loss = match &self.teacher {
                Some((teacher, distillation)) => {
                    let side = Teacher::INPUT_SIZE;
                    let views = TensorData::new(std::mem::take(&mut batch.teacher_images), [batch.len, 3, side, side]);
                    let views = blend(Tensor::from_data(views, &self.device));
                    let soft_targets = teacher.class_logits(views, &self.train.normalization());
                    distillation.loss(model.forward(blend(images)), soft_targets, &targets)
                }
                None => targets.cross_entropy(model.forward(blend(images))),
            };
            let value: f32 = loss.clone().into_scalar();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
            self.state.smooth_loss.add(value as f64);
            progress.batch(batch.len, self.state.smooth_loss.get(), lr);
        }
        progress.finish();
        Ok((model, optimizer, skipped))
    }

    /// Mean cross entropy and accuracy on the valid split, the model in eval mode, and the
    /// photos skipped as unreadable.
    fn validate(&self, model: &ResNet) -> (f64, f64, Vec<Skipped>) {
        let model = model.valid();
        let device = self.device.clone().without_autodiff();
        let (mut loss, mut correct, mut seen, mut skipped) = (0.0, 0usize, 0usize, Vec::new());
        for batch in self.valid.epoch(0) {
            skipped.extend(batch.skipped.iter().cloned());
            if batch.len == 0 {
                continue;
            }
            let (images, labels) = self.tensors(&batch, &device);
            let logits = model.forward(images);
            let batch_loss: f32 = cross_entropy(logits.clone(), labels.clone()).into_scalar();
            let hits: i64 = logits.argmax(1).squeeze_dim::<1>(1).equal(labels).int().sum().into_scalar();
            loss += batch_loss as f64 * batch.len as f64;
            correct += hits as usize;
            seen += batch.len;
        }
        let seen = seen.max(1) as f64;
        (loss / seen, correct as f64 / seen, skipped)
    }

    fn tensors(&self, batch: &Batch, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let size = self.config.size as usize;
        let images = TensorData::new(batch.images.clone(), [batch.len, 3, size, size]);
        let labels = TensorData::new(batch.labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [batch.len]);
        (Tensor::from_data(images, device), Tensor::from_data(labels, device))
    }

    /// The epoch's checkpoint, and the kept model when the recipe keeps this epoch: the best
    /// so far or, with `--keep last`, every epoch in turn.
    fn save(&mut self, model: &ResNet, optimizer: &ModuleOptimizer) -> Result<()> {
        let index = self.state.history.len() - 1;
        let error_rate = self.state.history[index].error_rate;
        let kept = match self.config.keep {
            // fastai's SaveModelCallback(monitor='error_rate'): keep the best, not the last.
            Keep::Best => self.state.best.as_ref().is_none_or(|best| error_rate < best.error_rate),
            Keep::Last => true,
        };
        if kept {
            self.state.best = Some(Best { error_rate, record: index });
        }
        let mut meta = self.meta.clone();
        meta.training = Some(self.record());
        if kept {
            crate::model_file::save(model, &meta, &self.run.best_model()).context("cannot save the kept model")?;
        }
        self.run.save_checkpoint(model, &meta, optimizer, &mut self.state)
    }

    /// The training record the model's metadata carries (the model card quotes it).
    fn record(&self) -> serde_json::Value {
        let record = TrainingRecord {
            recipe: self.config.clone(),
            epochs_completed: self.state.completed_epochs,
            history: self.state.history.clone(),
            best: self.state.best.as_ref().map(|b| BestEpoch {
                error_rate: b.error_rate,
                phase: self.state.history[b.record].phase.clone(),
                epoch: self.state.history[b.record].epoch,
            }),
            training_seconds: self.state.seconds,
            host: Some(Host::this_machine()),
            started_from: self.state.started_from.clone(),
            optimizer_restarts: self.state.optimizer_restarts.clone(),
        };
        serde_json::to_value(record).expect("a training record is plain data")
    }

    /// Names each unreadable photo on stderr the first time it is skipped.
    fn report<'a>(&mut self, skipped: impl Iterator<Item = &'a Skipped>) {
        for photo in skipped {
            if self.reported.insert(photo.path.clone()) {
                eprintln!("skipped {}: {}", photo.path.display(), photo.reason);
            }
        }
    }

    fn summary(&self) {
        let done = self.state.completed_epochs;
        let total = self.config.total_epochs();
        let time = clock(std::time::Duration::from_secs_f64(self.state.seconds));
        if let Some(best) = &self.state.best {
            let record = &self.state.history[best.record];
            let which = self.config.keep.name();
            println!(
                "\n{done}/{total} epochs in {time}; {which} error_rate {:.6} (accuracy {:.4}) at {} epoch {}, saved as {}",
                record.error_rate,
                record.accuracy,
                record.phase,
                record.epoch,
                self.run.best_model().display()
            );
        }
        if !self.reported.is_empty() {
            println!("{} unreadable photos were skipped (named above)", self.reported.len());
        }
        if done < total {
            println!("stopped early; continue with: woofcam train --resume --out {}", self.run.root().display());
        }
    }
}
