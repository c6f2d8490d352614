//! Guided Grad-CAM: Guided Backprop's fine detail, kept only where Grad-CAM finds evidence
//! for the class. As in the paper and its code, the Grad-CAM map (after ReLU, not
//! normalised) is upsampled bilinearly to the input size and multiplied into each channel.

use super::{GradCam, GuidedBackprop};
use crate::image::{InputGradient, bilinear_resize};

/// `guided_backprop * upsample(ReLU(gradcam))`, both for the same class.
pub fn guided_gradcam(cam: &GradCam, guided: &GuidedBackprop) -> InputGradient {
    let InputGradient { height, width, values } = &guided.0;
    let cam = bilinear_resize(&cam.map(), *height, *width);
    let plane = height * width;
    let values = values.iter().enumerate().map(|(i, g)| g * cam.values[i % plane]).collect();
    InputGradient { height: *height, width: *width, values }
}
