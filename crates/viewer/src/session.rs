//! One person's viewing session, in plain Rust so that it runs (and is tested) natively
//! exactly as it runs in the browser: a loaded model, the current photo, and the last
//! explanation, from which every picture, hover value and download is drawn.
//!
//! The network runs only in [`Session::analyze`]; changing the colour map, opacity or
//! upsampling only redraws from the stored explanation.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use image::RgbImage;
use woofcam::explain::render::{Method, Style, display_view, picture, strength};
use woofcam::explain::{Explanation, ExplanationData, Report, Request, Target, explain};
use woofcam::image::{DecodeLimits, Fit, Map, decode, overlay};
use woofcam::metadata::ModelMetadata;
use woofcam::model::ResNet;
use woofcam::weights::from_burnpack;

use crate::error::ViewerError;

/// Longest side of the photo as shown (and as downloaded): enough for a sharp overlay on
/// any screen, small enough to redraw while a slider moves.
pub const MAX_DISPLAY_SIDE: u32 = 1024;

/// The network's view of the current photo and the photo as shown.
struct CurrentPhoto {
    /// Normalised network input `[1, 3, H, W]`, on the host.
    input: burn::tensor::TensorData,
    /// The photo as shown, at most [`MAX_DISPLAY_SIDE`] on its long side.
    view: RgbImage,
}

/// What the last analysis computed, with the names a download should carry.
struct Analysis {
    data: ExplanationData,
    layer: String,
}

pub struct Session {
    model: ResNet,
    meta: ModelMetadata,
    device: Device,
    photo: Option<CurrentPhoto>,
    analysis: Option<Analysis>,
}

/// The size of the current photo, as decoded and as shown.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoInfo {
    /// Upright size (EXIF orientation applied).
    pub width: u32,
    pub height: u32,
    /// Size of the view every picture is drawn at.
    pub view_width: u32,
    pub view_height: u32,
}

impl Session {
    /// Loads burnpack `weights` described by `metadata_json` onto `device`, in eval mode.
    pub fn new(weights: Vec<u8>, metadata_json: &str, device: Device) -> Result<Self, ViewerError> {
        let meta = ModelMetadata::from_json(metadata_json)?;
        let model = from_burnpack(meta.config()?.init(&device), weights, meta.dtype)?;
        Ok(Session { model: model.valid(), meta, device, photo: None, analysis: None })
    }

    pub fn meta(&self) -> &ModelMetadata {
        &self.meta
    }

    pub fn model(&self) -> &ResNet {
        &self.model
    }

    /// Decodes photo bytes (any format the core reads, sniffed from the content). A bad
    /// file leaves the previous photo and its analysis in place.
    pub fn set_photo(&mut self, bytes: &[u8]) -> Result<PhotoInfo, ViewerError> {
        let photo = decode(bytes, DecodeLimits::default()).map_err(woofcam::Error::from)?;
        let [height, width] = self.meta.input_size;
        let view = display_view(&photo.rgb, Fit::Squish, height, width, MAX_DISPLAY_SIDE);
        let info = PhotoInfo {
            width: photo.rgb.width(),
            height: photo.rgb.height(),
            view_width: view.width(),
            view_height: view.height(),
        };
        self.photo = Some(CurrentPhoto { input: self.meta.input(&photo.rgb, Fit::Squish), view });
        self.analysis = None;
        Ok(info)
    }

    /// Starts the network on the current photo for `methods`, explaining `class` (default:
    /// the predicted one) at `layer` (default: the body's output). The returned tensors
    /// are read with [`Session::finish`]; the two halves let a browser await the read.
    pub fn start(&self, layer: Option<&str>, class: Option<usize>, methods: &[Method]) -> Result<Pending, ViewerError> {
        let photo = self.photo.as_ref().ok_or(ViewerError::NoPhoto)?;
        let layer = match layer {
            Some(spec) => self.model.layer(spec)?,
            None => self.model.default_layer(),
        };
        let (gradcam, guided_backprop) =
            methods.iter().map(|m| m.needs()).fold((false, false), |(c, g), (mc, mg)| (c || mc, g || mg));
        let request = Request {
            layer: layer.cut,
            target: class.map_or(Target::Predicted, Target::Class),
            gradcam,
            guided_backprop,
        };
        let input = Tensor::from_data(photo.input.clone(), &self.device);
        Ok(Pending { explanation: explain(&self.model, input, request)?, layer: layer.name })
    }

    /// Stores a finished analysis and returns what the page shows first.
    pub fn finish(&mut self, data: ExplanationData, layer: String) -> Report {
        let report = Report::new(&data, &self.meta, &layer);
        self.analysis = Some(Analysis { data, layer });
        report
    }

    /// Runs [`Session::start`] and a blocking read (native only; browsers await the read).
    pub fn analyze(
        &mut self,
        layer: Option<&str>,
        class: Option<usize>,
        methods: &[Method],
    ) -> Result<Report, ViewerError> {
        let pending = self.start(layer, class, methods)?;
        let data = pending.explanation.read()?;
        Ok(self.finish(data, pending.layer))
    }

    /// `method`'s picture over the photo with opacity `alpha` (0: the photo alone, 1: the
    /// map alone), at the view's size.
    pub fn render(&self, method: Method, style: Style, alpha: f32) -> Result<RgbImage, ViewerError> {
        let (view, data) = self.current()?;
        let map = picture(data, method, view.width(), view.height(), style).ok_or(ViewerError::NotComputed(method))?;
        Ok(overlay(view, &map, alpha).map_err(woofcam::Error::from)?)
    }

    /// The values a person reads from `method`'s map, in [0, 1], at the view's size.
    pub fn strength(&self, method: Method, style: Style) -> Result<Map, ViewerError> {
        let (view, data) = self.current()?;
        let map = strength(data, method, view.width(), view.height(), style).ok_or(ViewerError::NotComputed(method))?;
        Ok(if (map.width, map.height) == (view.width() as usize, view.height() as usize) {
            map
        } else {
            woofcam::image::bilinear_resize(&map, view.height() as usize, view.width() as usize)
        })
    }

    /// The last analysis, for downloads.
    pub fn analysis(&self) -> Option<(&ExplanationData, &str)> {
        self.analysis.as_ref().map(|a| (&a.data, a.layer.as_str()))
    }

    fn current(&self) -> Result<(&RgbImage, &ExplanationData), ViewerError> {
        match (&self.photo, &self.analysis) {
            (Some(photo), Some(analysis)) => Ok((&photo.view, &analysis.data)),
            (None, _) => Err(ViewerError::NoPhoto),
            (Some(_), None) => Err(ViewerError::NotAnalysed),
        }
    }
}

/// An analysis whose tensors are still on the device.
pub struct Pending {
    pub explanation: Explanation,
    pub layer: String,
}
