//! fastai's `fit_flat_cos` learning-rate schedule.
//!
//! `Learner.fit_flat_cos(n_epoch, lr, div_final=1e5, pct_start=0.75)` keeps `lr` for the
//! first 75% of the iterations, then anneals it along half a cosine to `lr / 1e5` (not to
//! zero), evaluated before each batch at `iteration / total_iterations`.
//!
//! A pure function of the iteration rather than one of Burn's stateful schedulers, so that
//! `--resume` needs nothing but the iteration count to continue exactly where it stopped.

use std::f64::consts::PI;

/// Flat, then cosine: fastai's `combine_scheds([pct, 1-pct], [SchedNo(lr, lr), SchedCos(lr, lr/div)])`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatCos {
    pub lr: f64,
    pub total_iterations: usize,
    /// Share of the iterations at the full rate (fastai 0.75).
    pub pct_start: f64,
    /// The final rate is `lr / div_final` (fastai 1e5).
    pub div_final: f64,
}

impl FlatCos {
    pub fn new(lr: f64, total_iterations: usize) -> Self {
        Self { lr, total_iterations: total_iterations.max(1), pct_start: 0.75, div_final: 1e5 }
    }

    /// The rate for the 0-based `iteration` of the fit.
    pub fn lr(&self, iteration: usize) -> f64 {
        let pos = iteration as f64 / self.total_iterations as f64;
        if pos < self.pct_start {
            return self.lr;
        }
        // fastai's SchedCos(start, end)(p) = start + (1 + cos(pi * (1 - p))) * (end - start) / 2.
        let p = ((pos - self.pct_start) / (1.0 - self.pct_start)).min(1.0);
        let end = self.lr / self.div_final;
        self.lr + (1.0 + (PI * (1.0 - p)).cos()) * (end - self.lr) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// fastai's own schedule objects, evaluated by `tests/reference/schedule_reference.py`.
    #[test]
    fn matches_fastai_fit_flat_cos() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/schedule/flat_cos.json");
        let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for case in fixture["cases"].as_array().unwrap() {
            let lr = case["lr"].as_f64().unwrap();
            let total = (case["epochs"].as_u64().unwrap() * case["iters_per_epoch"].as_u64().unwrap()) as usize;
            let schedule = FlatCos::new(lr, total);
            let expected = case["lrs"].as_array().unwrap();
            assert_eq!(expected.len(), total);
            for (i, e) in expected.iter().enumerate() {
                let e = e.as_f64().unwrap();
                let got = schedule.lr(i);
                // fastai computes the position within the cosine part in float32 tensors;
                // this does it in f64, hence 1e-6 rather than exact.
                assert!((got - e).abs() <= 1e-6 * lr, "iteration {i}: {got} vs fastai {e}");
            }
            // The fixture covers both parts: flat at the start, annealed below lr/10 at the end.
            assert_eq!(schedule.lr(0), lr);
            assert!(schedule.lr(total - 1) < lr / 10.0);
        }
    }
}
