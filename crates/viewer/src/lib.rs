//! The viewer's wasm API: load exported weights, then classify and explain photos, all
//! inside the browser tab. Photos never leave the device.
//!
//! This is the first increment: the CPU backend (Burn's flex, compiled to wasm), one call
//! that returns the top-5 and the Grad-CAM map. The page, WebGPU and the other methods'
//! renderings build on it.

mod report;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use wasm_bindgen::prelude::*;
use woofcam::explain::{Request, Target, explain};
use woofcam::image::{DecodeLimits, Fit, decode};
use woofcam::metadata::ModelMetadata;
use woofcam::model::ResNet;
use woofcam::weights::from_burnpack;

pub use report::Report;

#[wasm_bindgen]
pub struct Viewer {
    model: ResNet,
    meta: ModelMetadata,
    device: Device,
}

#[wasm_bindgen]
impl Viewer {
    /// Loads exported weights (`.bpk` bytes) described by their metadata JSON.
    #[wasm_bindgen(constructor)]
    pub fn new(weights: Vec<u8>, metadata_json: &str) -> Result<Viewer, JsError> {
        let device = Device::flex();
        let meta = ModelMetadata::from_json(metadata_json)?;
        let model = from_burnpack(meta.config()?.init(&device), weights, meta.dtype)?.valid();
        Ok(Viewer { model, meta, device })
    }

    /// The class names, in output order.
    #[wasm_bindgen(js_name = classNames)]
    pub fn class_names(&self) -> Vec<String> {
        self.meta.class_names()
    }

    /// Every layer Grad-CAM can use, as `{name, path, shape}` objects.
    pub fn layers(&self) -> Result<JsValue, JsError> {
        let [height, width] = self.meta.input_size;
        let rows: Vec<report::LayerRow> = self.model.summary(height, width).into_iter().map(Into::into).collect();
        Ok(serde_wasm_bindgen::to_value(&rows)?)
    }

    /// Classifies `photo` (file bytes) and explains `class` (default: the predicted one)
    /// with Grad-CAM at `layer` (default: `layer4`).
    pub fn explain(&self, photo: &[u8], layer: Option<String>, class: Option<usize>) -> Result<JsValue, JsError> {
        Ok(serde_wasm_bindgen::to_value(&self.report(photo, layer.as_deref(), class)?)?)
    }
}

impl Viewer {
    fn report(&self, photo: &[u8], layer: Option<&str>, class: Option<usize>) -> Result<Report, woofcam::Error> {
        let layer = match layer {
            Some(spec) => self.model.layer(spec)?,
            None => self.model.default_layer(),
        };
        let photo = decode(photo, DecodeLimits::default())?;
        let input = Tensor::from_data(self.meta.input(&photo.rgb, Fit::Squish), &self.device);
        let target = class.map_or(Target::Predicted, Target::Class);
        let request = Request { layer: layer.cut, target, gradcam: true, guided_backprop: false };
        let data = explain(&self.model, input, request)?.read()?;
        Ok(Report::new(&data, &self.meta, &layer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use woofcam::weights::{Precision, to_burnpack};

    fn viewer() -> Viewer {
        let mut meta = ModelMetadata::imagewoof(64);
        meta.architecture = "resnet18".into();
        let model = meta.config().unwrap().init(&Device::flex());
        Viewer::new(to_burnpack(&model, Precision::F32).unwrap(), &meta.to_json()).ok().unwrap()
    }

    fn photo() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/imagewoof2-160/val/n02111889/ILSVRC2012_val_00000590.JPEG"
        );
        std::fs::read(path).unwrap()
    }

    #[test]
    fn explains_a_real_photo() {
        let viewer = viewer();
        let report = viewer.report(&photo(), Some("[0,-2]"), Some(8)).unwrap();
        assert_eq!(report.class, 8);
        assert_eq!(report.class_name, "Samoyed");
        assert_eq!(report.layer, "layer3");
        assert_eq!(report.top.len(), 5);
        let total: f32 = report.top.iter().map(|t| t.probability).sum();
        assert!(total > 0.0 && total <= 1.0 + 1e-5);
        assert_eq!((report.heatmap.height, report.heatmap.width), (64, 64));
        assert!(report.heatmap.values.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn bad_input_is_an_error() {
        let viewer = viewer();
        assert!(viewer.report(b"", None, None).unwrap_err().to_string().contains("empty"));
        assert!(viewer.report(&photo(), Some("layer9"), None).unwrap_err().to_string().contains("unknown layer"));
        assert!(viewer.report(&photo(), None, Some(10)).unwrap_err().to_string().contains("out of range"));
    }
}
