//! fastai's `freeze` / `unfreeze` for a `cnn_learner`.
//!
//! `learn.freeze()` stops training the body but, with fastai's default `train_bn=True`,
//! keeps training every BatchNorm in it (their affine weights, and their running
//! statistics, which follow the new data in train mode). Only the body's convolutions are
//! held fixed, which is what this does: Burn's parameter groups select them by path.

use burn::module::{Module, ParamGroup};
use woofcam::model::ResNet;

/// Every convolution weight of the body: the stem's `body.conv1`, each block's
/// `conv1`/`conv2` and each `downsample.conv`. (The body's convolutions have no bias.)
const BODY_CONVOLUTIONS: &str = r"^body\.(.+\.)?conv[12]?\.weight$";

/// The body's convolutions stop requiring gradients; its BatchNorms and the head train.
pub fn freeze(model: ResNet) -> ResNet {
    let group = ParamGroup::from_regex(BODY_CONVOLUTIONS).expect("the pattern is a valid regex");
    model.set_require_grad_group(group, false)
}

/// Everything trains again.
pub fn unfreeze(model: ResNet) -> ResNet {
    model.set_require_grad(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{ModuleVisitor, Param};
    use burn::tensor::{Device, Tensor};
    use woofcam::model::ResNetConfig;

    /// Each trainable parameter's path and whether its gradient is on.
    #[derive(Default)]
    struct Trainable {
        paths: Vec<(String, bool)>,
        stack: Vec<String>,
    }

    impl ModuleVisitor for Trainable {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.stack.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.stack.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let path = self.stack.join(".");
            // BatchNorm's running statistics are buffers: never trained by gradient.
            if !path.contains("running_") {
                self.paths.push((path, param.val().is_require_grad()));
            }
        }
    }

    fn trainable(model: &ResNet) -> Vec<(String, bool)> {
        let mut visitor = Trainable::default();
        model.visit(&mut visitor);
        visitor.paths
    }

    #[test]
    fn freeze_keeps_batchnorm_and_head_training() {
        let device = Device::flex().autodiff();
        let model = freeze(ResNetConfig::fastai_resnet34(10).init(&device));
        let params = trainable(&model);
        let frozen: Vec<&String> = params.iter().filter(|(_, on)| !on).map(|(p, _)| p).collect();
        // ResNet34: the stem, 16 blocks of two convolutions and 3 downsample convolutions.
        assert_eq!(frozen.len(), 1 + 16 * 2 + 3, "{frozen:?}");
        assert!(frozen.iter().all(|p| p.starts_with("body") && p.contains("conv")), "{frozen:?}");
        let training: Vec<&String> = params.iter().filter(|(_, on)| *on).map(|(p, _)| p).collect();
        assert!(training.iter().any(|p| p.starts_with("body.layer4") && p.contains("bn")));
        assert!(training.iter().any(|p| p.starts_with("head.Fastai.linear2")));
        let model = unfreeze(model);
        assert!(trainable(&model).iter().all(|(_, on)| *on));
    }
}
