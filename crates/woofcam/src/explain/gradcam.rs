//! Grad-CAM (Selvaraju et al. 2017): where in a layer's feature maps the evidence for a
//! class lies.
//!
//! For activations `A` (`C` maps of `h x w`) and the class's pre-softmax score `y`:
//! `w_k = mean_ij dy/dA_kij` and `map = ReLU(sum_k w_k A_k)`. The weights and the raw,
//! pre-ReLU map are kept because users ask for them (the raw map of the last layer with
//! torchvision's head sums to the logit minus the fc bias).

use burn::tensor::Tensor;

use crate::image::{Map, bicubic_resize, bilinear_resize};
use crate::names::names;

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

names!(Upsampling { Bilinear => "bilinear", Smooth => "smooth" });

impl std::str::FromStr for Upsampling {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Upsampling::from_name(s).ok_or_else(|| format!("unknown upsampling `{s}` (bilinear or smooth)"))
    }
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

    /// Whether some cell of the raw map is positive. When none is, the map is zero after
    /// its ReLU: nothing at this layer raises the class's score, and the picture (and
    /// Guided Grad-CAM's) is blank. [`Self::blank_note`] says so in words.
    pub fn has_evidence(&self) -> bool {
        self.raw.values.iter().any(|&v| v > 0.0)
    }

    /// What to tell a person looking at a blank map, so that it does not read as a fault:
    /// `None` when the map has evidence.
    pub fn blank_note(&self, class: &str, layer: &str) -> Option<String> {
        (!self.has_evidence()).then(|| {
            format!(
                "Grad-CAM is zero everywhere: at {layer}, no region raises the score of {class}, \
                 so this map and Guided Grad-CAM's are blank. Try another layer or class."
            )
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cam(raw: Vec<f32>) -> GradCam {
        GradCam { weights: vec![1.0], raw: Map { height: 1, width: raw.len(), values: raw } }
    }

    #[test]
    fn upsampling_names_parse_back() {
        for upsampling in Upsampling::ALL {
            assert_eq!(upsampling.name().parse::<Upsampling>(), Ok(upsampling));
        }
        assert_eq!("nearest".parse::<Upsampling>().unwrap_err(), "unknown upsampling `nearest` (bilinear or smooth)");
    }

    #[test]
    fn a_map_with_no_positive_cell_is_blank_and_says_why() {
        let blank = cam(vec![-2.0, -0.5, 0.0]);
        assert!(!blank.has_evidence());
        assert_eq!(blank.map().values, vec![0.0, 0.0, 0.0]);
        let note = blank.blank_note("Beagle", "layer4").expect("a blank map gets a note");
        assert!(
            note.starts_with("Grad-CAM is zero everywhere: at layer4, no region raises the score of Beagle"),
            "{note}"
        );
    }

    #[test]
    fn one_positive_cell_is_evidence() {
        let cam = cam(vec![-2.0, 1e-6, -1.0]);
        assert!(cam.has_evidence());
        assert_eq!(cam.blank_note("Beagle", "layer4"), None);
    }
}
