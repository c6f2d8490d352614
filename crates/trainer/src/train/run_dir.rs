//! A run's folder: what `--resume` needs to continue exactly, and the best model so far.
//!
//! ```text
//! RUN/run.json          the recipe, the epochs done, the table so far (written last: the commit point)
//! RUN/epoch-007/        the model (model.bpk + model.json) and optimiser state (optim.bpk)
//!                       after the 7th completed epoch; the previous one is removed once
//!                       run.json points here
//! RUN/best.bpk, .json   the model kept so far: the lowest valid error rate, or the last epoch
//! ```
//!
//! Each epoch's checkpoint goes to a new folder, and `run.json` is replaced atomically only
//! once that folder is complete, so a run killed at any moment resumes from its last whole
//! epoch.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use woofcam::metadata::ModelMetadata;
use woofcam::model::ResNet;

use super::config::TrainConfig;
use super::metrics::{EpochRecord, SmoothLoss};
use crate::{format_version, model_file};

/// The run's progress, saved after every epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// The layout of `run.json`; a file without one is version 1, whose recipe may lack
    /// `keep` (it kept the best epoch) and `fit` (it cropped).
    #[serde(default = "format_version::version_1")]
    pub format_version: u32,
    pub config: TrainConfig,
    /// Epochs done, over all phases.
    pub completed_epochs: usize,
    /// The folder of the last checkpoint, relative to the run folder.
    pub checkpoint: Option<String>,
    pub history: Vec<EpochRecord>,
    /// The current phase's smoothed train loss, which runs on across its epochs.
    pub smooth_loss: SmoothLoss,
    pub best: Option<Best>,
    /// Seconds spent training, over all sessions.
    pub seconds: f64,
    /// With `--init`: the training record of the model this run started from (with its own
    /// `started_from` inside), so that a model made by a chain of runs, on several machines
    /// perhaps, names every one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_from: Option<serde_json::Value>,
    /// The epochs (counted as `completed_epochs`) after which the run went on from its model
    /// alone, Ranger's state starting anew (`--resume --fresh-optimizer`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optimizer_restarts: Vec<usize>,
}

/// The epoch whose model is `best.bpk` (see [`crate::train::Keep`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    pub error_rate: f64,
    /// Index into the history.
    pub record: usize,
}

impl RunState {
    /// The layout written now.
    pub const FORMAT_VERSION: u32 = 2;

    pub fn new(config: TrainConfig) -> Self {
        Self {
            format_version: Self::FORMAT_VERSION,
            config,
            completed_epochs: 0,
            checkpoint: None,
            history: Vec::new(),
            smooth_loss: SmoothLoss::new(),
            best: None,
            seconds: 0.0,
            started_from: None,
            optimizer_restarts: Vec::new(),
        }
    }
}

pub struct RunDir {
    root: PathBuf,
}

const STATE: &str = "run.json";
const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optim.bpk";

impl RunDir {
    pub fn new(root: &Path) -> Self {
        Self { root: root.to_path_buf() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn has_state(&self) -> bool {
        self.root.join(STATE).is_file()
    }

    pub fn best_model(&self) -> PathBuf {
        self.root.join("best.bpk")
    }

    pub fn create(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create the run folder {}", self.root.display()))
    }

    pub fn load_state(&self) -> Result<RunState> {
        let path = self.root.join(STATE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read {} (is {} a training run folder?)", path.display(), self.root.display())
        })?;
        let state: RunState = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a run state Woofcam can read", path.display()))?;
        format_version::check(&path, state.format_version, RunState::FORMAT_VERSION)?;
        Ok(state)
    }

    /// Writes the epoch's checkpoint, then points `run.json` at it, then removes the previous one.
    pub fn save_checkpoint(
        &self,
        model: &ResNet,
        meta: &ModelMetadata,
        optimizer: &ModuleOptimizer,
        state: &mut RunState,
    ) -> Result<()> {
        let name = format!("epoch-{:03}", state.completed_epochs);
        let dir = self.root.join(&name);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        model_file::save(model, meta, &dir.join(MODEL))?;
        optimizer
            .save(dir.join(OPTIMIZER))
            .map_err(|e| anyhow::anyhow!("cannot save the optimiser state in {}: {e:?}", dir.display()))?;
        let previous = state.checkpoint.replace(name.clone());
        let json = serde_json::to_string_pretty(state).context("cannot serialise the run state")?;
        model_file::write_atomically(&self.root.join(STATE), json.as_bytes())?;
        if let Some(previous) = previous.filter(|p| *p != name) {
            // Best effort: a leftover folder costs disk, not correctness.
            let _ = std::fs::remove_dir_all(self.root.join(previous));
        }
        Ok(())
    }

    fn checkpoint_dir(&self, state: &RunState) -> Result<PathBuf> {
        let Some(name) = &state.checkpoint else { bail!("{} has no checkpoint to resume from", self.root.display()) };
        Ok(self.root.join(name))
    }

    /// The last checkpoint's model (on `device`, in training mode). Its weights may be f16
    /// (a `woofcam export --precision f16` of it put in its place, to carry the run about).
    pub fn load_model(&self, state: &RunState, device: &Device) -> Result<ResNet> {
        Ok(model_file::read(&self.checkpoint_dir(state)?.join(MODEL), device)?.0)
    }

    /// The last checkpoint's optimiser state, loaded into `optimizer`.
    pub fn load_optimizer(&self, state: &RunState, optimizer: ModuleOptimizer) -> Result<ModuleOptimizer> {
        let path = self.checkpoint_dir(state)?.join(OPTIMIZER);
        if !path.is_file() {
            bail!(
                "{} is missing, so the run cannot resume exactly; `woofcam train --resume --fresh-optimizer` \
                 continues its schedule from the model alone, Ranger's state starting anew",
                path.display()
            );
        }
        optimizer.load(&path).map_err(|e| anyhow::anyhow!("cannot read the optimiser state {}: {e:?}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::config::tests::sample;

    fn write_state(dir: &Path, state: serde_json::Value) {
        std::fs::write(dir.join(STATE), state.to_string()).unwrap();
    }

    #[test]
    fn a_run_state_without_a_version_is_version_1_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let mut state = serde_json::to_value(RunState::new(sample())).unwrap();
        state.as_object_mut().unwrap().remove("format_version");
        write_state(dir.path(), state.clone());
        assert_eq!(run.load_state().unwrap().format_version, 1);

        state["format_version"] = (RunState::FORMAT_VERSION + 1).into();
        write_state(dir.path(), state);
        let err = format!("{:#}", run.load_state().unwrap_err());
        assert!(err.contains("newer than this trainer's") && err.contains("update Woofcam"), "{err}");
    }
}
