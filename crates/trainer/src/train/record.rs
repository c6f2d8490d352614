//! The training record a model's metadata carries (`training` in `NAME.json`): the recipe,
//! the epoch table and the time of the run that made the model, and the record of the model
//! it started from (`--init`), so that a model made by a chain of runs names every one.
//! `woofcam train` writes it; `woofcam card` reads it.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::TrainConfig;
use super::metrics::EpochRecord;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    pub recipe: TrainConfig,
    pub epochs_completed: usize,
    pub history: Vec<EpochRecord>,
    pub best: Option<BestEpoch>,
    /// Seconds spent training, over all sessions of the run.
    pub training_seconds: f64,
    /// The machine the run trained on (its last session's), where the record has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
    /// The record of the model this run started from (`--init`), as that model carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_from: Option<Value>,
    /// The epochs after which the run went on with Ranger's state started anew (see
    /// [`super::RunState::optimizer_restarts`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optimizer_restarts: Vec<usize>,
}

/// What a model card says of the hardware: the CPU (which runs the `cpu` backend and feeds a
/// GPU), its threads and the system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// The CPU's model name, where the system says it (Linux's /proc/cpuinfo).
    pub cpu: Option<String>,
    pub threads: usize,
    /// `linux`, `macos`, `windows`...
    pub os: String,
}

impl Host {
    pub fn this_machine() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_string())
        });
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { cpu, threads, os: std::env::consts::OS.to_string() }
    }
}

/// The epoch whose model the run kept (the lowest valid error rate, or the last epoch with
/// `--keep last`: the recipe says which).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestEpoch {
    pub error_rate: f64,
    pub phase: String,
    pub epoch: usize,
}

impl TrainingRecord {
    /// Reads a model's `training` metadata, which must come from `woofcam train` (an imported
    /// or untrained model's has another shape, or none).
    pub fn from_metadata(training: Option<&Value>) -> Result<Self> {
        let training = training.context("the model's metadata has no training record")?;
        serde_json::from_value(training.clone())
            .context("the model's training record is not one `woofcam train` writes (an imported or untrained model?)")
    }

    /// Every run that made the model, the first one first.
    pub fn chain(&self) -> Result<Vec<TrainingRecord>> {
        let mut runs = vec![self.clone()];
        while let Some(earlier) = &runs.last().expect("runs is never empty").started_from {
            let earlier = serde_json::from_value(earlier.clone())
                .with_context(|| format!("the record of run {} before this model's cannot be read", runs.len()))?;
            runs.push(earlier);
        }
        runs.reverse();
        Ok(runs)
    }
}
