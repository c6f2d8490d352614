//! The metadata file that travels with exported weights: everything a viewer needs to use
//! the model without hard-coding it (architecture, input size, normalisation, classes).

use ::image::RgbImage;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::image::{Fit, Normalization, resize, to_chw};
use crate::labels::IMAGEWOOF;
use crate::model::{HeadKind, ResNetBodyConfig, ResNetConfig};
use crate::weights::Precision;

/// One output class of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassInfo {
    /// The folder name the class was trained from (a WordNet synset for Imagewoof).
    pub id: String,
    /// What to show a person.
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// `resnet34` or `resnet18`.
    pub architecture: String,
    pub head: HeadKind,
    /// `[height, width]` of the model's input.
    pub input_size: [usize; 2],
    pub normalization: Normalization,
    pub classes: Vec<ClassInfo>,
    /// How the weights file stores them.
    pub dtype: Precision,
    /// Free-form record of how the model was made (recipe, command, accuracy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
}

impl ModelMetadata {
    /// Metadata for a fastai-head ResNet34 over the Imagewoof classes at `size` pixels.
    pub fn imagewoof(size: usize) -> Self {
        Self {
            architecture: "resnet34".into(),
            head: HeadKind::Fastai,
            input_size: [size, size],
            normalization: Normalization::IMAGENET,
            classes: IMAGEWOOF.iter().map(|b| ClassInfo { id: b.synset.into(), name: b.name.into() }).collect(),
            dtype: Precision::F32,
            training: None,
        }
    }

    pub fn from_json(text: &str) -> Result<Self, Error> {
        let meta: Self = serde_json::from_str(text).map_err(|e| Error::Weights(format!("bad model metadata: {e}")))?;
        meta.config()?;
        if meta.classes.is_empty() || meta.input_size.contains(&0) {
            return Err(Error::Weights("model metadata needs classes and a non-zero input size".into()));
        }
        Ok(meta)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("metadata always serialises")
    }

    /// The network these weights belong to.
    pub fn config(&self) -> Result<ResNetConfig, Error> {
        let body = match self.architecture.as_str() {
            "resnet34" => ResNetBodyConfig::resnet34(),
            "resnet18" => ResNetBodyConfig::resnet18(),
            other => {
                return Err(Error::Weights(format!("unknown architecture `{other}` (expected resnet34 or resnet18)")));
            }
        };
        Ok(ResNetConfig::new(body, self.head, self.classes.len()))
    }

    /// The network's input for a photo: resized to `input_size`, normalised, `[1, 3, H, W]`.
    pub fn input(&self, photo: &RgbImage, fit: Fit) -> TensorData {
        let [height, width] = self.input_size;
        let resized = resize(photo, height as u32, width as u32, fit);
        TensorData::new(to_chw(&resized, &self.normalization), [1, 3, height, width])
    }

    pub fn class_names(&self) -> Vec<String> {
        self.classes.iter().map(|c| c.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let meta = ModelMetadata::imagewoof(224);
        assert_eq!(ModelMetadata::from_json(&meta.to_json()).unwrap(), meta);
        assert_eq!(meta.class_names()[4], "Border terrier");
    }

    #[test]
    fn input_is_the_resized_normalised_photo() {
        let meta = ModelMetadata::imagewoof(32);
        let photo = RgbImage::from_pixel(50, 40, ::image::Rgb([255, 0, 128]));
        let data = meta.input(&photo, Fit::Squish);
        assert_eq!(data.shape().to_vec(), vec![1, 3, 32, 32]);
        let values: Vec<f32> = data.try_to_vec().unwrap();
        assert!((values[0] - (1.0 - 0.485) / 0.229).abs() < 1e-5);
        assert!((values[32 * 32] - (0.0 - 0.456) / 0.224).abs() < 1e-5);
    }

    #[test]
    fn rejects_unknown_architectures_and_garbage() {
        let mut meta = ModelMetadata::imagewoof(224);
        meta.architecture = "vgg16".into();
        assert!(ModelMetadata::from_json(&meta.to_json()).unwrap_err().to_string().contains("vgg16"));
        assert!(ModelMetadata::from_json("{not json").is_err());
    }
}
