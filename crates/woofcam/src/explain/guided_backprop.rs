//! Guided Backprop (Springenberg et al. 2015): the gradient of the class score with
//! respect to the input pixels, where every ReLU passes gradient back only where its
//! input was positive *and* the gradient is positive.
//!
//! The guided rule is [`crate::model::ReluMode::Guided`]; the shared pass in
//! [`super::explain`] computes the gradient. Caveat worth telling users: Guided Backprop
//! looks much the same for a randomly initialised network (Adebayo et al. 2018, "Sanity
//! Checks for Saliency Maps"); it shows edges the network can see, not what it decided on.

use image::RgbImage;

use crate::image::{InputGradient, Map};

/// The input gradient `[3, H, W]` under guided ReLUs.
#[derive(Clone, Debug, PartialEq)]
pub struct GuidedBackprop(pub InputGradient);

impl GuidedBackprop {
    /// Colour rendering: pytorch-grad-cam's standardised gradient with its channels as RGB.
    pub fn to_rgb(&self) -> RgbImage {
        self.0.to_rgb_standardised()
    }

    /// Greyscale rendering, scaled to [0, 1].
    pub fn to_grey(&self) -> Map {
        self.0.to_grey()
    }
}
