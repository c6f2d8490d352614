//! Addressing the layers an explanation can look at, the way people name them.
//!
//! Two spellings name the same place:
//! - torchvision names: `conv1`, `bn1`, `relu`, `maxpool`, `layer1`..`layer4` (a stage's
//!   output) and `layer3.2` (one residual block's output); `body` is the whole body;
//! - fastai index paths into `nn.Sequential(body, head)`: `[0]` is the body's output,
//!   `[0,-2]` the body's second-to-last child (`layer3`), `[0,7,1]` block 1 of `layer4`.
//!   Negative indices count from the end, as in Python.

use std::fmt;

use super::body::{Cut, STAGE_CHANNELS, STEM_CHANNELS, STEM_UNITS};
use super::resnet::ResNet;
use crate::Error;

/// A layer of the body whose output an explainer can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// torchvision-style name, e.g. `layer4` or `layer3.2`.
    pub name: String,
    /// fastai index path, e.g. `[0, 7]`.
    pub path: Vec<usize>,
    /// Where the body is split to read this layer's output.
    pub cut: Cut,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path: Vec<String> = self.path.iter().map(usize::to_string).collect();
        write!(f, "{} [{}]", self.name, path.join(","))
    }
}

/// One line of the architecture summary: a layer and its output shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSummary {
    pub layer: Layer,
    /// `[channels, height, width]` for one image of the summarised input size.
    pub shape: [usize; 3],
}

const STEM_NAMES: [&str; STEM_UNITS] = ["conv1", "bn1", "relu", "maxpool"];

impl ResNet {
    /// Every addressable layer, in forward order, ending with the body's output (`layer4`).
    ///
    /// Stage outputs (`layer2`) come right after their last block (`layer2.3`) and share
    /// its cut.
    pub fn layers(&self) -> Vec<Layer> {
        let mut layers: Vec<Layer> = STEM_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| Layer { name: name.to_string(), path: vec![0, i], cut: Cut(i + 1) })
            .collect();
        let mut cut = STEM_UNITS;
        for (stage, blocks) in self.body.blocks().into_iter().enumerate() {
            let child = STEM_UNITS + stage;
            for block in 0..blocks {
                cut += 1;
                layers.push(Layer {
                    name: format!("layer{}.{block}", stage + 1),
                    path: vec![0, child, block],
                    cut: Cut(cut),
                });
            }
            layers.push(Layer { name: format!("layer{}", stage + 1), path: vec![0, child], cut: Cut(cut) });
        }
        layers
    }

    /// The layer Grad-CAM uses unless told otherwise: the body's output.
    pub fn default_layer(&self) -> Layer {
        self.layer("layer4").expect("every ResNet body has layer4")
    }

    /// Finds a layer by torchvision name (`layer3`, `layer4.2`, `body`) or fastai index
    /// path (`[0,-2]`, `0,-2`, `[0]`).
    pub fn layer(&self, spec: &str) -> Result<Layer, Error> {
        let spec = spec.trim();
        let unknown = || Error::UnknownLayer {
            spec: spec.to_string(),
            known: self.layers().iter().map(|l| l.name.clone()).collect(),
        };
        let layers = self.layers();
        if spec == "body" {
            return Ok(layers.last().cloned().expect("layers is never empty"));
        }
        if let Some(found) = layers.iter().find(|l| l.name == spec) {
            return Ok(found.clone());
        }
        let indices = parse_path(spec).ok_or_else(unknown)?;
        let path = self.resolve_path(&indices).ok_or_else(unknown)?;
        if path == [0] {
            return Ok(layers.last().cloned().expect("layers is never empty"));
        }
        layers.into_iter().find(|l| l.path == path).ok_or_else(unknown)
    }

    /// Turns Python-style (possibly negative) indices into plain ones, checking bounds
    /// against `nn.Sequential(body, head)` and the body's children and blocks.
    fn resolve_path(&self, indices: &[i64]) -> Option<Vec<usize>> {
        let resolve = |index: i64, len: usize| -> Option<usize> {
            let len = len as i64;
            let i = if index < 0 { index + len } else { index };
            (0..len).contains(&i).then_some(i as usize)
        };
        let blocks = self.body.blocks();
        let (first, rest) = indices.split_first()?;
        // Only the body (index 0 of `Sequential(body, head)`) has spatial layers.
        let mut path = vec![resolve(*first, 2).filter(|&i| i == 0)?];
        if let Some((child, rest)) = rest.split_first() {
            let child = resolve(*child, STEM_UNITS + blocks.len())?;
            path.push(child);
            if let Some((block, rest)) = rest.split_first() {
                let stage = child.checked_sub(STEM_UNITS)?;
                path.push(resolve(*block, blocks[stage])?);
                if !rest.is_empty() {
                    return None;
                }
            }
        }
        Some(path)
    }

    /// The architecture summary: every addressable layer with its output shape for an
    /// input of `height` x `width`.
    pub fn summary(&self, height: usize, width: usize) -> Vec<LayerSummary> {
        // PyTorch's output size for kernel k, stride s, padding p.
        let down = |size: usize, k: usize, s: usize, p: usize| (size + 2 * p - k) / s + 1;
        let stem_conv = [down(height, 7, 2, 3), down(width, 7, 2, 3)];
        let pooled = stem_conv.map(|n| down(n, 3, 2, 1));
        self.layers()
            .into_iter()
            .map(|layer| {
                let shape = match layer.path[1] {
                    0..=2 => [STEM_CHANNELS, stem_conv[0], stem_conv[1]],
                    3 => [STEM_CHANNELS, pooled[0], pooled[1]],
                    child => {
                        let stage = child - STEM_UNITS;
                        // Stages 2-4 halve the resolution in their first block (3x3, stride 2, pad 1).
                        let [h, w] = (0..stage).fold(pooled, |hw, _| hw.map(|n| down(n, 3, 2, 1)));
                        [STAGE_CHANNELS[stage], h, w]
                    }
                };
                LayerSummary { layer, shape }
            })
            .collect()
    }
}

/// Parses `[0,-2]`, `0,-2`, `(0, -2)` or `0` into indices.
fn parse_path(spec: &str) -> Option<Vec<i64>> {
    let inner = spec.trim_start_matches(['[', '(']).trim_end_matches([']', ')']);
    if inner.trim().is_empty() {
        return None;
    }
    inner.split(',').map(|part| part.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ReluMode;
    use crate::model::ResNetConfig;
    use burn::tensor::{Device, Tensor};

    fn resnet34() -> ResNet {
        ResNetConfig::fastai_resnet34(10).init(&Device::flex())
    }

    #[test]
    fn names_and_fastai_paths_agree() {
        let model = resnet34();
        assert_eq!(model.layer("layer3").unwrap(), model.layer("[0,-2]").unwrap());
        assert_eq!(model.layer("layer4").unwrap(), model.layer("[0]").unwrap());
        assert_eq!(model.layer("layer4").unwrap(), model.layer("body").unwrap());
        assert_eq!(model.layer("layer4.2").unwrap(), model.layer("0,-1,-1").unwrap());
        assert_eq!(model.layer("layer1.0").unwrap(), model.layer("[0, 4, 0]").unwrap());
        assert_eq!(model.layer("maxpool").unwrap(), model.layer("[0,3]").unwrap());
        // A stage's output is its last block's output.
        assert_eq!(model.layer("layer3").unwrap().cut, model.layer("layer3.5").unwrap().cut);
        assert_eq!(model.layer("layer4").unwrap().cut, model.body.end());
    }

    #[test]
    fn unknown_layers_are_clear_errors() {
        let model = resnet34();
        for spec in ["layer5", "layer3.6", "[1]", "[0,8]", "[0,-9]", "[0,2,0]", "[0,4,0,0]", "", "[]", "fc"] {
            let err = model.layer(spec).unwrap_err();
            let message = err.to_string();
            assert!(message.contains("layer4.2"), "{spec}: {message}");
            assert!(matches!(err, Error::UnknownLayer { .. }), "{spec}");
        }
    }

    #[test]
    fn resnet34_has_every_stage_and_block() {
        let names: Vec<String> = resnet34().layers().into_iter().map(|l| l.name).collect();
        assert_eq!(names.len(), 4 + 16 + 4);
        assert_eq!(names[..5], ["conv1", "bn1", "relu", "maxpool", "layer1.0"]);
        assert_eq!(names.last().unwrap(), "layer4");
    }

    #[test]
    fn summary_shapes_match_a_real_forward_pass() {
        let model = ResNetConfig::new(crate::model::ResNetBodyConfig::resnet18(), crate::model::HeadKind::Fastai, 3)
            .init(&Device::flex());
        let (height, width) = (67, 45);
        let input = Tensor::<4>::zeros([1, 3, height, width], &Device::flex());
        for row in model.summary(height, width) {
            let out = model.features(input.clone(), row.layer.cut, ReluMode::Standard);
            assert_eq!(out.dims()[1..], row.shape, "{}", row.layer.name);
        }
    }
}
