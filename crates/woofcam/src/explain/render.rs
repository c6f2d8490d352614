//! Pictures of an explanation, at the size of the photo they are shown over.
//!
//! One implementation for every front end: the trainer writes these pictures as PNGs and
//! the browser viewer draws them to a canvas, so a map looks the same in both.

use std::str::FromStr;

use image::RgbImage;
use image::imageops::{self, FilterType};

use super::{ExplanationData, Upsampling, guided_gradcam};
use crate::image::{Colormap, Fit, Map, colorize};
use crate::names::names;

/// One of the three explanation methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    GradCam,
    GuidedBackprop,
    GuidedGradCam,
}

names!(Method { GradCam => "gradcam", GuidedBackprop => "guided-backprop", GuidedGradCam => "guided-gradcam" });

impl Method {
    /// Whether the shared pass must compute Grad-CAM / Guided Backprop for this method.
    pub fn needs(self) -> (bool, bool) {
        match self {
            Method::GradCam => (true, false),
            Method::GuidedBackprop => (false, true),
            Method::GuidedGradCam => (true, true),
        }
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::from_name(s)
            .ok_or_else(|| format!("unknown method `{s}`; choose one of {}", Method::ALL.map(Method::name).join(", ")))
    }
}

/// How a map becomes a picture.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Style {
    /// Colour map for Grad-CAM (the guided methods are drawn in the gradient's own RGB).
    pub cmap: Colormap,
    /// How Grad-CAM's coarse map is brought to the photo's size.
    pub upsampling: Upsampling,
}

/// The picture of `method` at `width` x `height`, or `None` when `data` lacks what the
/// method needs. Grad-CAM is coloured with the colour map; Guided Backprop and Guided
/// Grad-CAM are standardised gradients shown as RGB (pytorch-grad-cam's `deprocess_image`),
/// resized from the input size.
pub fn picture(data: &ExplanationData, method: Method, width: u32, height: u32, style: Style) -> Option<RgbImage> {
    let fit = |image: RgbImage| imageops::resize(&image, width, height, FilterType::Triangle);
    match method {
        Method::GradCam => {
            let heat = data.gradcam.as_ref()?.heatmap(height as usize, width as usize, style.upsampling);
            Some(colorize(&heat, style.cmap))
        }
        Method::GuidedBackprop => Some(fit(data.guided_backprop.as_ref()?.to_rgb())),
        Method::GuidedGradCam => {
            let (cam, guided) = (data.gradcam.as_ref()?, data.guided_backprop.as_ref()?);
            Some(fit(guided_gradcam(cam, guided).to_rgb_standardised()))
        }
    }
}

/// The map a person reads values from, in [0, 1]: Grad-CAM's heat map at `width` x
/// `height`; for the guided methods the per-pixel gradient strength (largest absolute
/// channel, min-max scaled) at the network's input size.
pub fn strength(data: &ExplanationData, method: Method, width: u32, height: u32, style: Style) -> Option<Map> {
    match method {
        Method::GradCam => Some(data.gradcam.as_ref()?.heatmap(height as usize, width as usize, style.upsampling)),
        Method::GuidedBackprop => Some(data.guided_backprop.as_ref()?.to_grey()),
        Method::GuidedGradCam => Some(guided_gradcam(data.gradcam.as_ref()?, data.guided_backprop.as_ref()?).to_grey()),
    }
}

/// The part of `photo` the model saw (all of it, or the centre crop of the input's aspect
/// ratio), scaled down so that its long side is at most `max_side`.
pub fn display_view(photo: &RgbImage, fit: Fit, input_height: usize, input_width: usize, max_side: u32) -> RgbImage {
    let (pw, ph) = photo.dimensions();
    let view = match fit {
        Fit::Squish => photo.clone(),
        Fit::CenterCrop => {
            // The largest centred region with the model input's aspect ratio.
            let scale = (pw as f64 / input_width as f64).min(ph as f64 / input_height as f64);
            let (cw, ch) = ((input_width as f64 * scale) as u32, (input_height as f64 * scale) as u32);
            imageops::crop_imm(photo, (pw - cw) / 2, (ph - ch) / 2, cw, ch).to_image()
        }
    };
    let (vw, vh) = view.dimensions();
    let long = vw.max(vh);
    if long <= max_side {
        return view;
    }
    let scale = f64::from(max_side) / f64::from(long);
    let size = |side: u32| ((f64::from(side) * scale) as u32).max(1);
    imageops::resize(&view, size(vw), size(vh), FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{GradCam, GuidedBackprop};
    use crate::image::InputGradient;

    fn data(with_cam: bool, with_guided: bool) -> ExplanationData {
        let raw = Map::new(2, 2, vec![1.0, -1.0, 0.5, 2.0]).unwrap();
        let gradient = InputGradient::new(4, 4, (0..48).map(|i| (i as f32 - 20.0) / 10.0).collect()).unwrap();
        ExplanationData {
            logits: vec![0.0, 1.0],
            class: 1,
            gradcam: with_cam.then(|| GradCam { weights: vec![1.0], raw }),
            guided_backprop: with_guided.then_some(GuidedBackprop(gradient)),
        }
    }

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.name().parse::<Method>(), Ok(m));
        }
        assert!("cam".parse::<Method>().unwrap_err().contains("gradcam, guided-backprop, guided-gradcam"));
    }

    #[test]
    fn pictures_have_the_asked_size_and_need_their_inputs() {
        let style = Style::default();
        let full = data(true, true);
        for m in Method::ALL {
            assert_eq!(picture(&full, m, 7, 5, style).unwrap().dimensions(), (7, 5), "{m}");
        }
        let cam_only = data(true, false);
        assert!(picture(&cam_only, Method::GradCam, 3, 3, style).is_some());
        assert!(picture(&cam_only, Method::GuidedBackprop, 3, 3, style).is_none());
        assert!(picture(&cam_only, Method::GuidedGradCam, 3, 3, style).is_none());
    }

    #[test]
    fn strength_is_in_unit_range() {
        let full = data(true, true);
        let cam = strength(&full, Method::GradCam, 6, 4, Style::default()).unwrap();
        assert_eq!((cam.height, cam.width), (4, 6));
        let guided = strength(&full, Method::GuidedBackprop, 6, 4, Style::default()).unwrap();
        assert_eq!((guided.height, guided.width), (4, 4));
        for map in [cam, guided] {
            assert!(map.values.iter().all(|v| (0.0..=1.0).contains(v)));
            assert_eq!(map.max(), 1.0);
        }
    }

    #[test]
    fn display_view_keeps_small_photos_and_shrinks_large_ones() {
        let photo = RgbImage::new(300, 200);
        assert_eq!(display_view(&photo, Fit::Squish, 224, 224, 1024).dimensions(), (300, 200));
        assert_eq!(display_view(&photo, Fit::Squish, 224, 224, 150).dimensions(), (150, 100));
        assert_eq!(display_view(&photo, Fit::CenterCrop, 224, 224, 1024).dimensions(), (200, 200));
    }
}
