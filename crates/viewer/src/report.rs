//! What one explanation sends back to JavaScript.

use serde::Serialize;
use woofcam::explain::{ExplanationData, Upsampling};
use woofcam::image::Map;
use woofcam::metadata::ModelMetadata;
use woofcam::model::{Layer, LayerSummary};

#[derive(Debug, Serialize)]
pub struct Prediction {
    pub class: usize,
    pub name: String,
    pub probability: f32,
}

#[derive(Debug, Serialize)]
pub struct MapData {
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

impl From<Map> for MapData {
    fn from(map: Map) -> Self {
        Self { height: map.height, width: map.width, values: map.values }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// The five most probable classes.
    pub top: Vec<Prediction>,
    /// The explained class.
    pub class: usize,
    pub class_name: String,
    pub layer: String,
    /// Grad-CAM before ReLU, at the layer's resolution.
    pub raw: MapData,
    /// Grad-CAM scaled to [0, 1] at the model's input size.
    pub heatmap: MapData,
}

impl Report {
    pub fn new(data: &ExplanationData, meta: &ModelMetadata, layer: &Layer) -> Self {
        let names = meta.class_names();
        let cam = data.gradcam.as_ref().expect("the viewer always asks for Grad-CAM");
        let [height, width] = meta.input_size;
        Self {
            top: data
                .top_k(5)
                .into_iter()
                .map(|(class, probability)| Prediction { class, name: names[class].clone(), probability })
                .collect(),
            class: data.class,
            class_name: names[data.class].clone(),
            layer: layer.name.clone(),
            raw: cam.raw.clone().into(),
            heatmap: cam.heatmap(height, width, Upsampling::Bilinear).into(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LayerRow {
    pub name: String,
    pub path: Vec<usize>,
    pub shape: [usize; 3],
}

impl From<LayerSummary> for LayerRow {
    fn from(row: LayerSummary) -> Self {
        Self { name: row.layer.name, path: row.layer.path, shape: row.shape }
    }
}
