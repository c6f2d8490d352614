//! One explanation's numbers as Woofcam hands them out: the page receives this from the
//! viewer, and `explain --json` writes it, so both speak one format.

use serde::{Deserialize, Serialize};

use super::ExplanationData;
use crate::image::Map;
use crate::metadata::ModelMetadata;

/// One of the most probable classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    pub class: usize,
    pub name: String,
    /// Softmax probability.
    pub probability: f32,
}

/// A map's numbers, row by row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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

/// The outcome of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// This layout's version ([`Report::FORMAT_VERSION`] when written).
    pub format_version: u32,
    /// The five most probable classes.
    pub top: Vec<Prediction>,
    /// Every pre-softmax score, in class order.
    pub logits: Vec<f32>,
    /// The explained class.
    pub class: usize,
    pub class_name: String,
    pub layer: String,
    /// Grad-CAM before ReLU at the layer's resolution, when Grad-CAM was computed.
    pub gradcam_raw: Option<MapData>,
    /// Why the Grad-CAM (and Guided Grad-CAM) picture is blank, when it is.
    pub gradcam_note: Option<String>,
}

impl Report {
    /// The layout written now.
    pub const FORMAT_VERSION: u32 = 1;

    /// The report of `data`, an explanation at the layer named `layer` of a model with
    /// `meta`'s classes.
    pub fn new(data: &ExplanationData, meta: &ModelMetadata, layer: &str) -> Self {
        let names = meta.class_names();
        Self {
            format_version: Self::FORMAT_VERSION,
            top: data
                .top_k(5)
                .into_iter()
                .map(|(class, probability)| Prediction { class, name: names[class].clone(), probability })
                .collect(),
            logits: data.logits.clone(),
            class: data.class,
            class_name: names[data.class].clone(),
            layer: layer.to_string(),
            gradcam_raw: data.gradcam.as_ref().map(|cam| cam.raw.clone().into()),
            gradcam_note: data.gradcam.as_ref().and_then(|cam| cam.blank_note(&names[data.class], layer)),
        }
    }
}
