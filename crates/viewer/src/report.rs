//! What the viewer sends back to JavaScript besides an analysis's [`Report`] (the core's,
//! shared with `explain --json`): the layer list and the raw maps offered for download.

use serde::Serialize;
use woofcam::explain::ExplanationData;
use woofcam::explain::render::Method;
use woofcam::metadata::ModelMetadata;
use woofcam::model::LayerSummary;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
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

/// A method's raw numbers, as downloaded: Grad-CAM's pre-ReLU map `[h, w]` at the layer's
/// resolution, or a guided method's input gradient `[3, H, W]`.
#[derive(Debug, Serialize)]
pub struct RawMap {
    pub method: &'static str,
    pub class: usize,
    pub class_name: String,
    pub layer: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl RawMap {
    pub fn new(data: &ExplanationData, meta: &ModelMetadata, layer: &str, method: Method) -> Option<Self> {
        let (shape, values) = match method {
            Method::GradCam => {
                let raw = &data.gradcam.as_ref()?.raw;
                (vec![raw.height, raw.width], raw.values.clone())
            }
            Method::GuidedBackprop => {
                let g = &data.guided_backprop.as_ref()?.0;
                (vec![3, g.height, g.width], g.values.clone())
            }
            Method::GuidedGradCam => {
                let g = woofcam::explain::guided_gradcam(data.gradcam.as_ref()?, data.guided_backprop.as_ref()?);
                (vec![3, g.height, g.width], g.values)
            }
        };
        Some(Self {
            method: method.name(),
            class: data.class,
            class_name: meta.class_names()[data.class].clone(),
            layer: layer.to_string(),
            shape,
            values,
        })
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a raw map always serialises")
    }

    /// NumPy's `.npy` format (version 1.0, little-endian f32, C order), readable with
    /// `numpy.load`.
    pub fn to_npy(&self) -> Vec<u8> {
        let shape: Vec<String> = self.shape.iter().map(usize::to_string).collect();
        let shape = if shape.len() == 1 { format!("{},", shape[0]) } else { shape.join(", ") };
        let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({shape}), }}");
        // Magic (6) + version (2) + header length (2) + header, padded with spaces and
        // ended by a newline to a multiple of 64 bytes.
        let unpadded = 10 + header.len() + 1;
        header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
        header.push('\n');
        let mut bytes = Vec::with_capacity(10 + header.len() + 4 * self.values.len());
        bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for v in &self.values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_readable() {
        let raw = RawMap {
            method: "gradcam",
            class: 0,
            class_name: "x".into(),
            layer: "layer4".into(),
            shape: vec![2, 3],
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let npy = raw.to_npy();
        let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&npy[10..10 + header_len]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(npy.len(), 10 + header_len + 24);
        assert_eq!(&npy[10 + header_len..10 + header_len + 4], &1.0f32.to_le_bytes());
    }
}
