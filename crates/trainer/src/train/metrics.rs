//! What a run reports: fastai's smoothed training loss and the per-epoch table.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::device::Backend;

/// fastai's `AvgSmoothLoss`: an exponential moving average of the batch losses
/// (`beta` 0.98), debiased, so the first batches are not pulled towards zero. It is what
/// fastai's `train_loss` column shows, and like fastai's it runs on across the epochs of
/// one fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SmoothLoss {
    value: f64,
    count: u32,
}

impl SmoothLoss {
    const BETA: f64 = 0.98;

    pub fn new() -> Self {
        Self { value: 0.0, count: 0 }
    }

    pub fn add(&mut self, loss: f64) {
        // torch.lerp(loss, val, beta) = loss + beta * (val - loss).
        self.value = loss + Self::BETA * (self.value - loss);
        self.count += 1;
    }

    /// The debiased average; NaN before the first batch.
    pub fn get(&self) -> f64 {
        self.value / (1.0 - Self::BETA.powi(self.count as i32))
    }
}

impl Default for SmoothLoss {
    fn default() -> Self {
        Self::new()
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// `frozen` or `unfrozen`.
    pub phase: String,
    /// Epoch within its phase, from 0 as fastai counts.
    pub epoch: usize,
    pub train_loss: f64,
    pub valid_loss: f64,
    pub error_rate: f64,
    pub accuracy: f64,
    pub seconds: f64,
    /// Images that could not be read this epoch (train and valid).
    #[serde(default)]
    pub skipped: usize,
    /// The backend that trained this epoch (a run may go on elsewhere: `--resume --device`),
    /// where the record has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
}

/// The header of fastai's epoch table.
pub fn table_header() -> String {
    format!(
        "{:<7} {:<11} {:<11} {:<11} {:<9} {}",
        "epoch", "train_loss", "valid_loss", "error_rate", "accuracy", "time"
    )
}

/// One row of the table, in fastai's format (six decimals, `mm:ss`).
pub fn table_row(record: &EpochRecord) -> String {
    format!(
        "{:<7} {:<11.6} {:<11.6} {:<11.6} {:<9.6} {}",
        record.epoch,
        record.train_loss,
        record.valid_loss,
        record.error_rate,
        record.accuracy,
        clock(Duration::from_secs_f64(record.seconds))
    )
}

/// `mm:ss`, or `h:mm:ss` past an hour.
pub fn clock(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m:02}:{s:02}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_loss_is_debiased() {
        let mut loss = SmoothLoss::new();
        loss.add(2.0);
        // One value: the debiased average is the value itself, not 2% of it.
        assert!((loss.get() - 2.0).abs() < 1e-12);
        loss.add(1.0);
        // (0.98 * 0.02 * 2 + 0.02 * 1) / (1 - 0.98^2)
        let expected = (0.98 * 0.02 * 2.0 + 0.02 * 1.0) / (1.0 - 0.98f64.powi(2));
        assert!((loss.get() - expected).abs() < 1e-12);
    }

    #[test]
    fn rows_line_up_with_the_header() {
        let record = EpochRecord {
            phase: "frozen".into(),
            epoch: 3,
            train_loss: 1.25,
            valid_loss: 1.5,
            error_rate: 0.25,
            accuracy: 0.75,
            seconds: 83.4,
            skipped: 0,
            backend: None,
        };
        let (header, row) = (table_header(), table_row(&record));
        assert_eq!(row, "3       1.250000    1.500000    0.250000    0.750000  01:23");
        assert_eq!(header.find("time"), row.find("01:23"));
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }
}
