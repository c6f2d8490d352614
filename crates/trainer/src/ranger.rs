//! fastai's Ranger optimiser (RAdam inside Lookahead) for Burn.
//!
//! Burn 0.22 ships neither RAdam nor Lookahead, and the model we reproduce was trained by
//! fastai with `ranger` (its default for `fit_flat_cos`), so this is a port of fastai's own
//! update rules, step for step, rather than of the papers: fastai's RAdam differs from
//! PyTorch's `torch.optim.RAdam` (it decays weights first, decoupled, adds `eps` after the
//! square root, and has an optional SAdam softplus), and its Lookahead keeps slow weights
//! taken *before* the first step.
//!
//! Source: fastai 2.8.12, `fastai/optimizer.py`: `ranger`, `Lookahead`, `RAdam`,
//! `weight_decay`, `average_grad`, `average_sqr_grad`, `step_stat`, `debias`, `radam_step`.
//! The unit test replays a sequence of updates computed by fastai itself
//! (`tests/reference/ranger_reference.py` -> `tests/fixtures/ranger/ranger_steps.json`).
//!
//! It implements Burn's per-tensor [`Optimizer`] trait (as Burn's `AdamW` does), so
//! [`RangerConfig::init`] gives the same [`ModuleOptimizer`] every Burn optimiser gives:
//! `optim.step(lr, model, grads)`, schedulers, parameter groups and state saving all work.

use burn::config::Config;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::store::burn_pack::Scalar;
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Tensor};

/// [`Ranger`] configuration. The defaults are fastai's `ranger` defaults.
///
/// The coefficients are `f64` on purpose: fastai computes `1 - mom`, the debias terms and
/// the step sizes in Python floats (double) and only then applies them to float32
/// tensors. `1.0 - 0.95_f32` is not `(1.0 - 0.95_f64) as f32`, so `f32` fields would drift
/// from fastai in the last bits.
#[derive(Config, Debug)]
pub struct RangerConfig {
    /// Gradient moving-average coefficient (fastai's `mom`, Adam's beta1).
    /// fastai `ranger` default 0.95 (plain `RAdam`'s is 0.9).
    #[config(default = 0.95)]
    pub mom: f64,
    /// Squared-gradient moving-average coefficient (fastai's `sqr_mom`, Adam's beta2).
    /// fastai `RAdam` default 0.99, which `ranger` keeps.
    #[config(default = 0.99)]
    pub sqr_mom: f64,
    /// Added to the denominator's square root for numerical stability; 0 disables it.
    /// fastai `ranger` default 1e-6 (plain `RAdam`'s is 1e-5).
    #[config(default = 1e-6)]
    pub eps: f64,
    /// Decoupled (AdamW-style) weight decay: `p *= 1 - lr * wd` before the update.
    /// fastai `ranger` default 0.01 (fastai's `decouple_wd=True`; L2 regularisation,
    /// `decouple_wd=False`, is not ported).
    #[config(default = 0.01)]
    pub weight_decay: f64,
    /// SAdam: when non-zero the rectified step's denominator goes through
    /// `softplus(denom, beta)`. fastai default 0 (off).
    #[config(default = 0.0)]
    pub beta: f64,
    /// Lookahead: the slow weights are synchronised every `k` steps. fastai default 6.
    #[config(default = 6)]
    pub k: usize,
    /// Lookahead: slow-weight moving-average coefficient. fastai default 0.5.
    #[config(default = 0.5)]
    pub alpha: f64,
}

impl RangerConfig {
    /// Build the bare [`Ranger`], which
    /// [`ModuleOptimizer::with_group`] takes to optimise one parameter group.
    pub fn build(&self) -> Ranger {
        assert!(self.k > 0, "Lookahead's k must be at least 1");
        Ranger {
            mom: self.mom,
            sqr_mom: self.sqr_mom,
            eps: self.eps,
            weight_decay: self.weight_decay,
            beta: self.beta,
            k: self.k,
            alpha: self.alpha,
        }
    }

    /// The whole-module optimiser: `optim.step(lr, model, GradientsParams)`.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }
}

/// fastai's `ranger`: `Lookahead(RAdam(params, lr, mom, sqr_mom, eps, wd, beta), k, alpha)`.
///
/// One step for one parameter `p` with gradient `g`, exactly in fastai's order
/// (`weight_decay`, `average_grad(dampening=True)`, `average_sqr_grad`, `step_stat`,
/// `radam_step`, then Lookahead):
///
/// ```text
/// slow      = p                                  (first step only, before any update)
/// p        *= 1 - lr*wd                          (if wd != 0)
/// grad_avg  = mom*grad_avg + (1-mom)*g           (grad_avg starts at 0)
/// sqr_avg   = sqr_mom*sqr_avg + (1-sqr_mom)*g^2  (sqr_avg starts at 0)
/// step     += 1
/// debias1   = 1 - mom^step,  debias2 = 1 - sqr_mom^step
/// r_inf     = 2/(1-sqr_mom) - 1
/// r         = r_inf - 2*step*sqr_mom^step / (1 - sqr_mom^step)
/// if r > 5:  v     = sqrt((r-4)(r-2) r_inf / ((r_inf-4)(r_inf-2) r))
///            denom = sqrt(sqr_avg/debias2) + eps  [then softplus(denom, beta) if beta != 0]
///            p    -= lr*v/debias1 * grad_avg/denom
/// else:      p    -= lr/debias1 * grad_avg        (variance not yet trustworthy: momentum SGD)
/// if step % k == 0:  slow += alpha*(p - slow);  p = slow
/// ```
///
/// With the default `sqr_mom` 0.99, steps 1-5 take the un-rectified branch.
///
/// fastai's Lookahead counts optimiser steps globally; here the count is the parameter's
/// own `step`. They agree whenever every parameter gets a gradient at every step (one
/// training phase); a parameter that starts training later (after `unfreeze`) syncs on its
/// own 6th step rather than on the global one.
#[derive(Clone, Debug)]
pub struct Ranger {
    mom: f64,
    sqr_mom: f64,
    eps: f64,
    weight_decay: f64,
    beta: f64,
    k: usize,
    alpha: f64,
}

/// Per-parameter [`Ranger`] state: fastai's `grad_avg`, `sqr_avg` and `step`, plus the
/// parameter's Lookahead slow weights.
#[derive(Clone, Debug)]
pub struct RangerState<const D: usize> {
    /// Dampened moving average of the gradient (fastai `grad_avg`).
    pub grad_avg: Tensor<D>,
    /// Dampened moving average of the squared gradient (fastai `sqr_avg`).
    pub sqr_avg: Tensor<D>,
    /// Lookahead's slow weights.
    pub slow: Tensor<D>,
    /// Steps taken by this parameter (fastai `step`; also the Lookahead count).
    pub step: usize,
}

// Written by hand: `#[derive(RecordState)]` expands to `crate::RecordState` paths, which
// only resolve inside burn-optim. This is what the derive would generate.
impl<const D: usize> RecordState for RangerState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "grad_avg", self.grad_avg.clone().into_data());
        out.push_tensor(prefix, "sqr_avg", self.sqr_avg.clone().into_data());
        out.push_tensor(prefix, "slow", self.slow.clone().into_data());
        out.push_scalar(prefix, "step", Scalar::from(self.step));
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self {
            grad_avg: Tensor::from_data(src.take_tensor(prefix, "grad_avg")?, device),
            sqr_avg: Tensor::from_data(src.take_tensor(prefix, "sqr_avg")?, device),
            slow: Tensor::from_data(src.take_tensor(prefix, "slow")?, device),
            step: usize::try_from(src.take_scalar(prefix, "step")?).ok()?,
        })
    }
}

impl Optimizer for Ranger {
    type State<const D: usize> = RangerState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        // Lookahead copies the weights before the wrapped optimiser's first step, and the
        // moving averages start at zero (fastai `torch.zeros_like`).
        let state = state.unwrap_or_else(|| RangerState {
            grad_avg: grad.zeros_like(),
            sqr_avg: grad.zeros_like(),
            slow: tensor.clone(),
            step: 0,
        });

        // weight_decay: `p.data.mul_(1 - lr*wd)`.
        let mut tensor =
            if self.weight_decay != 0.0 { tensor.mul_scalar(1.0 - lr * self.weight_decay) } else { tensor };

        // average_grad(dampening=True) and average_sqr_grad(dampening=True).
        let grad_avg = state.grad_avg.mul_scalar(self.mom).add(grad.clone().mul_scalar(1.0 - self.mom));
        let sqr_avg = state.sqr_avg.mul_scalar(self.sqr_mom).add(grad.square().mul_scalar(1.0 - self.sqr_mom));
        // step_stat.
        let step = state.step + 1;

        // radam_step. fastai's `debias(mom, 1-mom, step)` is `(1-mom)(1-mom^step)/(1-mom)`;
        // kept in that form so the double matches. `powf` is C's `pow`, as Python's `**`.
        let t = step as f64;
        let debias1 = (1.0 - self.mom) * (1.0 - self.mom.powf(t)) / (1.0 - self.mom);
        let debias2 = (1.0 - self.sqr_mom) * (1.0 - self.sqr_mom.powf(t)) / (1.0 - self.sqr_mom);
        let r_inf = 2.0 / (1.0 - self.sqr_mom) - 1.0;
        let r = r_inf - 2.0 * t * self.sqr_mom.powf(t) / (1.0 - self.sqr_mom.powf(t));
        if r > 5.0 {
            let v = (((r - 4.0) * (r - 2.0) * r_inf) / ((r_inf - 4.0) * (r_inf - 2.0) * r)).sqrt();
            let mut denom = sqr_avg.clone().div_scalar(debias2).sqrt();
            if self.eps != 0.0 {
                denom = denom.add_scalar(self.eps);
            }
            if self.beta != 0.0 {
                denom = softplus(denom, self.beta);
            }
            tensor = tensor.add(grad_avg.clone().div(denom).mul_scalar(-lr * v / debias1));
        } else {
            tensor = tensor.add(grad_avg.clone().mul_scalar(-lr / debias1));
        }

        // Lookahead: every k steps pull the slow weights half way (alpha) to the fast ones
        // and restart the fast weights from there.
        let mut slow = state.slow;
        if step % self.k == 0 {
            slow = slow.clone().add(tensor.sub(slow).mul_scalar(self.alpha));
            tensor = slow.clone();
        }

        let state = RangerState { grad_avg, sqr_avg, slow, step };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.grad_avg = state.grad_avg.to_device(device);
        state.sqr_avg = state.sqr_avg.to_device(device);
        state.slow = state.slow.to_device(device);
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Module, Param};
    use burn::optim::GradientsParams;
    use burn::tensor::TensorData;
    use std::path::PathBuf;

    /// The two parameters of the reference: a weight [3, 4] and a bias [4].
    #[derive(Module, Debug)]
    struct Tiny {
        weight: Param<Tensor<2>>,
        bias: Param<Tensor<1>>,
    }

    fn fixture() -> serde_json::Value {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/ranger/ranger_steps.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run tests/reference/ranger_reference.py)", path.display()));
        serde_json::from_str(&text).expect("valid JSON")
    }

    fn floats(value: &serde_json::Value) -> Vec<f32> {
        value.as_array().expect("array").iter().map(|v| v.as_f64().expect("number") as f32).collect()
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32 data")
    }

    /// Replays one fixture run through the full Burn API (backward, `GradientsParams`,
    /// `ModuleOptimizer::step`) and returns the worst relative error, after asserting
    /// every parameter after every step within 1e-6 relative of fastai.
    fn replay(run: &serde_json::Value) -> f32 {
        let hypers = &run["hypers"];
        let config = RangerConfig::new()
            .with_mom(hypers["mom"].as_f64().unwrap())
            .with_sqr_mom(hypers["sqr_mom"].as_f64().unwrap())
            .with_eps(hypers["eps"].as_f64().unwrap())
            .with_weight_decay(hypers["wd"].as_f64().unwrap())
            .with_beta(hypers["beta"].as_f64().unwrap())
            .with_k(hypers["k"].as_u64().unwrap() as usize)
            .with_alpha(hypers["alpha"].as_f64().unwrap());
        let mut optim = config.init();

        let device = Device::flex().autodiff();
        let weight = TensorData::new(floats(&run["initial"]["weight"]), [3, 4]);
        let bias = TensorData::new(floats(&run["initial"]["bias"]), [4]);
        let mut model = Tiny {
            weight: Param::from_tensor(Tensor::from_data(weight, &device)),
            bias: Param::from_tensor(Tensor::from_data(bias, &device)),
        };

        let mut worst = 0f32;
        for entry in run["steps"].as_array().unwrap() {
            let step = entry["step"].as_u64().unwrap();
            // loss = sum(weight * G_w) + sum(bias * G_b) has exactly the gradients G.
            let g_w = Tensor::<2>::from_data(TensorData::new(floats(&entry["grads"]["weight"]), [3, 4]), &device);
            let g_b = Tensor::<1>::from_data(TensorData::new(floats(&entry["grads"]["bias"]), [4]), &device);
            let loss = (model.weight.val() * g_w).sum() + (model.bias.val() * g_b).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            assert_eq!(grads.len(), 2);

            let lr = entry["lr"].as_f64().unwrap();
            model = optim.step(lr, model, grads);

            for (name, actual) in [("weight", values(model.weight.val())), ("bias", values(model.bias.val()))] {
                let expected = floats(&entry["params"][name]);
                assert_eq!(actual.len(), expected.len());
                for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
                    let rel = (a - e).abs() / e.abs().max(1e-3);
                    worst = worst.max(rel);
                    assert!(rel <= 1e-6, "step {step} {name}[{i}]: burn {a} vs fastai {e} (relative {rel:e})");
                }
            }
        }
        worst
    }

    #[test]
    fn matches_fastai_ranger() {
        let fixture = fixture();
        let runs = fixture["runs"].as_object().unwrap();
        for name in ["constant", "schedule"] {
            let run = &runs[name];
            // The fixture must exercise both RAdam branches and a Lookahead sync.
            let steps = run["steps"].as_array().unwrap();
            assert!(steps.iter().any(|s| s["rectified"] == true));
            assert!(steps.iter().any(|s| s["rectified"] == false));
            assert!(steps.iter().any(|s| s["lookahead_sync"] == true));
            let worst = replay(run);
            eprintln!("ranger {name}: worst relative error vs fastai {worst:e}");
        }
    }

    #[test]
    fn defaults_are_fastais() {
        let config = RangerConfig::new();
        assert_eq!((config.mom, config.sqr_mom, config.eps, config.weight_decay), (0.95, 0.99, 1e-6, 0.01));
        assert_eq!((config.beta, config.k, config.alpha), (0.0, 6, 0.5));
        let hypers = &fixture()["runs"]["constant"]["hypers"];
        assert_eq!(hypers["mom"].as_f64(), Some(config.mom));
        assert_eq!(hypers["sqr_mom"].as_f64(), Some(config.sqr_mom));
        assert_eq!(hypers["eps"].as_f64(), Some(config.eps));
        assert_eq!(hypers["wd"].as_f64(), Some(config.weight_decay));
        assert_eq!(hypers["k"].as_u64(), Some(config.k as u64));
        assert_eq!(hypers["alpha"].as_f64(), Some(config.alpha));
    }
}
