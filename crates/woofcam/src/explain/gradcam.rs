//! Grad-CAM (Selvaraju et al. 2017): where in a layer's feature maps the evidence for a
//! class lies.
//!
//! For activations `A` (`C` maps of `h x w`) and the class's pre-softmax score `y`:
//! `w_k = mean_ij dy/dA_kij` and `map = ReLU(sum_k w_k A_k)`. The weights and the raw,
//! pre-ReLU map are kept because users ask for them (the raw map of the last layer with
//! torchvision's head sums to the logit minus the fc bias).

use burn::tensor::Tensor;

use crate::image::{Map, bicubic_resize, bilinear_resize};

/// Channel weights `[C]` and the raw map `[h, w]` from activations and their gradient,
/// both `[1, C, h, w]`.
pub(crate) fn weights_and_map(activations: Tensor<4>, gradient: Tensor<4>) -> (Tensor<1>, Tensor<2>) {
    let [_, channels, height, width] = activations.dims();
    let weights = gradient.mean_dim(3).mean_dim(2); // [1, C, 1, 1]
    let raw = (activations * weights.clone()).sum_dim(1).reshape([height, width]);
    (weights.reshape([channels]), raw)
}

/// How a low-resolution map is brought to the photo's size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Upsampling {
    /// Bilinear, as in the Grad-CAM paper's code and pytorch-grad-cam.
    #[default]
    Bilinear,
    /// Bicubic: smoother, spline-like blobs.
    Smooth,
}

/// A Grad-CAM result on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCam {
    /// `w_k`, one per channel of the layer.
    pub weights: Vec<f32>,
    /// `sum_k w_k A_k` before the ReLU, at the layer's resolution.
    pub raw: Map,
}

impl GradCam {
    /// The Grad-CAM map: ReLU of the raw map, at the layer's resolution.
    pub fn map(&self) -> Map {
        let values = self.raw.values.iter().map(|v| v.max(0.0)).collect();
        Map { values, ..self.raw.clone() }
    }

    /// The map as shown over a photo, in [0, 1] at the photo's size: ReLU, min-max,
    /// resize, min-max again. This is pytorch-grad-cam's order; the second scaling gives
    /// the colour map its full range (and takes back bicubic's overshoot).
    pub fn heatmap(&self, height: usize, width: usize, upsampling: Upsampling) -> Map {
        let scaled = self.map().min_max_scaled();
        let resized = match upsampling {
            Upsampling::Bilinear => bilinear_resize(&scaled, height, width),
            Upsampling::Smooth => bicubic_resize(&scaled, height, width),
        };
        resized.min_max_scaled()
    }
}
