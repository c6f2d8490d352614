//! Training, as fastai's `cnn_learner` + `fit_flat_cos` do it:
//!
//! - [`config`]: the recipe (phases of frozen/unfrozen epochs, sizes, seed), saved with the run;
//! - [`fit`]: the loop: augmented batches, Ranger steps on the flat-cos schedule, validation,
//!   the epoch table, the kept model (best or last epoch) and per-epoch checkpoints;
//! - [`schedule`], [`loss`], [`mixup`], [`freeze`], [`metrics`], [`progress`]: its parts;
//! - [`run_dir`]: the run folder that makes `--resume` continue exactly;
//! - [`record`]: the training record the model's metadata carries.

pub mod config;
pub mod fit;
pub mod freeze;
pub mod loss;
pub mod metrics;
pub mod mixup;
pub mod progress;
pub mod record;
pub mod run_dir;
pub mod schedule;

pub use config::{DistillConfig, Keep, Phase, TrainConfig};
pub use fit::{Session, fit};
pub use record::TrainingRecord;
pub use run_dir::{RunDir, RunState};
