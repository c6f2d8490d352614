//! The whole classifier: a ResNet body and a head.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::body::{Cut, ResNetBody, ResNetBodyConfig};
use super::head::{FastaiHead, Head, TorchvisionHead};
use super::relu::ReluMode;

/// Which head sits on the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// Average pool and one linear layer, as in torchvision's ImageNet checkpoints.
    Torchvision,
    /// fastai's `cnn_learner` head (concat pooling, two BatchNorm/Dropout/Linear groups).
    Fastai,
}

#[derive(Config, Debug)]
pub struct ResNetConfig {
    pub body: ResNetBodyConfig,
    pub head: HeadKind,
    pub num_classes: usize,
}

impl ResNetConfig {
    /// ResNet34 with fastai's head: the network Woofcam trains and shows.
    pub fn fastai_resnet34(num_classes: usize) -> Self {
        Self::new(ResNetBodyConfig::resnet34(), HeadKind::Fastai, num_classes)
    }

    /// torchvision's `resnet34(num_classes)`.
    pub fn torchvision_resnet34(num_classes: usize) -> Self {
        Self::new(ResNetBodyConfig::resnet34(), HeadKind::Torchvision, num_classes)
    }

    pub fn init(&self, device: &Device) -> ResNet {
        let head = match self.head {
            HeadKind::Torchvision => Head::Torchvision(TorchvisionHead::new(self.num_classes, device)),
            HeadKind::Fastai => Head::Fastai(FastaiHead::new(self.num_classes, device)),
        };
        ResNet { body: self.body.init(device), head }
    }
}

#[derive(Module, Debug)]
pub struct ResNet {
    pub body: ResNetBody,
    pub head: Head,
}

impl ResNet {
    /// Class scores (pre-softmax) for a batch `[N, 3, H, W]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.body.forward(images, ReluMode::Standard), ReluMode::Standard)
    }

    pub fn num_classes(&self) -> usize {
        self.head.num_classes()
    }

    pub fn head_kind(&self) -> HeadKind {
        match self.head {
            Head::Torchvision(_) => HeadKind::Torchvision,
            Head::Fastai(_) => HeadKind::Fastai,
        }
    }

    /// The activations at `cut`.
    pub fn features(&self, images: Tensor<4>, cut: Cut, mode: ReluMode) -> Tensor<4> {
        self.body.forward_until(images, cut, mode)
    }

    /// Class scores computed from the activations at `cut`.
    pub fn scores(&self, features: Tensor<4>, cut: Cut, mode: ReluMode) -> Tensor<2> {
        self.head.forward(self.body.forward_from(features, cut, mode), mode)
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;

    use super::*;

    /// The sample standard deviation of a parameter's values.
    fn std<const D: usize>(param: &Param<Tensor<D>>) -> f64 {
        let values: Vec<f32> = param.val().into_data().try_to_vec::<f32>().unwrap();
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
        (values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    }

    #[test]
    fn fresh_weights_follow_torchvision_and_fastai_init_with_zero_residual_gamma() {
        let model = ResNetConfig::fastai_resnet34(10).init(&Device::flex().autodiff());
        // Within 3% of sqrt(2 / fan), the std of kaiming_normal_ with the ReLU gain.
        let close = |got: f64, fan: f64| (got * (fan / 2.0).sqrt() - 1.0).abs() < 0.03;
        // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu") on every conv.
        let stem = std(&model.body.conv1.weight);
        assert!(close(stem, 64.0 * 49.0), "stem conv std {stem}");
        let conv = std(&model.body.layer3[1].conv2.weight);
        assert!(close(conv, 256.0 * 9.0), "layer3.1.conv2 std {conv}");
        let shortcut = std(&model.body.layer4[0].downsample.as_ref().unwrap().conv.weight);
        assert!(close(shortcut, 512.0), "layer4.0.downsample std {shortcut}");
        // fastai's head: kaiming_normal_ (fan-in) on its linear layers.
        let Head::Fastai(head) = &model.head else { panic!("fastai head expected") };
        let hidden = std(&head.linear1.weight);
        assert!(close(hidden, 1024.0), "head linear1 std {hidden}");
        // BatchNorm starts as the identity (weight 1, bias 0), but for the last one in each
        // block, whose weight starts at 0 (torchvision's zero_init_residual).
        let values = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
        let all = |t: Tensor<1>, v: f32| values(t).iter().all(|&x| x == v);
        assert!(all(model.body.bn1.gamma.val(), 1.0) && all(model.body.bn1.beta.val(), 0.0));
        for block in model.body.layers().into_iter().flatten() {
            assert!(all(block.bn1.gamma.val(), 1.0), "bn1 weight");
            assert!(all(block.bn2.gamma.val(), 0.0) && all(block.bn2.beta.val(), 0.0), "bn2 weight and bias");
            // Zero, yet a parameter that trains.
            assert!(block.bn2.gamma.val().is_require_grad(), "bn2 weight trains");
        }
    }
}
