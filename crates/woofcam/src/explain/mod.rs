//! Explanations of one prediction: Grad-CAM, Guided Backprop and Guided Grad-CAM.
//!
//! The shared base ([`explain`]) runs the network once on the device and produces every
//! tensor the methods need; the method files turn those into maps on the host:
//! - [`gradcam`]: channel weights = spatial mean of d(score)/dA at a layer, map =
//!   ReLU(sum_k w_k A_k), on the pre-softmax score;
//! - [`guided_backprop`]: d(score)/d(input) with every ReLU's backward guided;
//! - [`guided_gradcam`]: the Grad-CAM map upsampled bilinearly, times Guided Backprop.
//!
//! One forward pass serves all three. Burn has no `retain_graph`, and Grad-CAM needs the
//! *ordinary* gradient after the layer while Guided Backprop needs the *guided* one, so
//! the part of the network after the layer runs twice from the same activations: once
//! from a detached copy (ordinary ReLUs, for Grad-CAM) and once from the activations
//! themselves (guided ReLUs). The two scores are summed and a single backward pass gives
//! both gradients, because each branch reaches only its own leaf.
//!
//! The model must be in eval mode (`Module::valid`): BatchNorm then uses its running
//! statistics even though the pass runs on an autodiff device, and dropout is off.

pub mod gradcam;
pub mod guided_backprop;
pub mod guided_gradcam;
pub mod render;
pub mod report;

use burn::tensor::{Int, Tensor, TensorData, Transaction};

use crate::Error;
use crate::image::{InputGradient, Map};
use crate::model::{Cut, ReluMode, ResNet};
pub use gradcam::{GradCam, Upsampling};
pub use guided_backprop::GuidedBackprop;
pub use guided_gradcam::guided_gradcam;
pub use report::Report;

/// A network an explainer can split at a layer.
pub trait Explainable {
    /// A position in the network where activations can be read.
    type Cut: Copy;
    /// Runs the network from the input `[1, C, H, W]` up to `cut`.
    fn features(&self, input: Tensor<4>, cut: Self::Cut, mode: ReluMode) -> Tensor<4>;
    /// Runs the rest of the network from the activations at `cut` to class scores.
    fn scores(&self, features: Tensor<4>, cut: Self::Cut, mode: ReluMode) -> Tensor<2>;
    fn num_classes(&self) -> usize;
}

impl Explainable for ResNet {
    type Cut = Cut;
    fn features(&self, input: Tensor<4>, cut: Cut, mode: ReluMode) -> Tensor<4> {
        ResNet::features(self, input, cut, mode)
    }
    fn scores(&self, features: Tensor<4>, cut: Cut, mode: ReluMode) -> Tensor<2> {
        ResNet::scores(self, features, cut, mode)
    }
    fn num_classes(&self) -> usize {
        ResNet::num_classes(self)
    }
}

/// Which class an explanation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Target {
    /// The class with the highest score.
    #[default]
    Predicted,
    Class(usize),
}

/// What to compute in one pass.
#[derive(Clone, Copy, Debug)]
pub struct Request<C> {
    /// Where Grad-CAM reads activations and gradients.
    pub layer: C,
    pub target: Target,
    pub gradcam: bool,
    pub guided_backprop: bool,
}

/// The device tensors of one explanation; [`Explanation::read`] brings them to the host.
pub struct Explanation {
    /// Pre-softmax scores, `[num_classes]`.
    pub logits: Tensor<1>,
    /// The explained class, `[1]`.
    pub class: Tensor<1, Int>,
    /// Channel weights `[C]` and pre-ReLU map `[h, w]`.
    pub gradcam: Option<(Tensor<1>, Tensor<2>)>,
    /// d(score)/d(input) with guided ReLUs, `[3, H, W]`.
    pub guided_backprop: Option<Tensor<3>>,
}

/// Host copies of an explanation.
#[derive(Clone, Debug)]
pub struct ExplanationData {
    pub logits: Vec<f32>,
    pub class: usize,
    pub gradcam: Option<GradCam>,
    pub guided_backprop: Option<GuidedBackprop>,
}

/// Runs the shared pass for one image `[1, 3, H, W]` on a plain (non-autodiff) device.
pub fn explain<M: Explainable>(model: &M, input: Tensor<4>, request: Request<M::Cut>) -> Result<Explanation, Error> {
    let num_classes = model.num_classes();
    if let Target::Class(index) = request.target
        && index >= num_classes
    {
        return Err(Error::ClassOutOfRange { index, num_classes });
    }
    let device = input.device();
    let cut = request.layer;

    // Guided Backprop needs the input as a gradient leaf and guided ReLUs up to the layer.
    let input = if request.guided_backprop { input.autodiff().require_grad() } else { input };
    let body_mode = if request.guided_backprop { ReluMode::Guided } else { ReluMode::Standard };
    let activations = model.features(input.clone(), cut, body_mode);

    // Grad-CAM's leaf: the activations with no history, so only the ordinary branch reaches it.
    let cam_leaf = request.gradcam.then(|| activations.clone().detach().autodiff().require_grad());
    let cam_logits = cam_leaf.as_ref().map(|leaf| model.scores(leaf.clone(), cut, ReluMode::Standard));
    let guided_logits = request.guided_backprop.then(|| model.scores(activations.clone(), cut, ReluMode::Guided));

    let logits = match (&cam_logits, &guided_logits) {
        (Some(l), _) | (None, Some(l)) => l.clone(),
        (None, None) => model.scores(activations.clone(), cut, ReluMode::Standard),
    };
    let logits = logits.detach().without_autodiff();
    let class = match request.target {
        Target::Predicted => logits.clone().argmax(1).reshape([1]),
        Target::Class(index) => Tensor::<1, Int>::from_data([index as i64], &device),
    };

    let mut explanation = Explanation {
        logits: logits.reshape([num_classes]),
        class: class.clone(),
        gradcam: None,
        guided_backprop: None,
    };
    if cam_logits.is_none() && guided_logits.is_none() {
        return Ok(explanation);
    }

    // The score is the target class's logit, selected by a mask built on the device.
    // (Not `one_hot`: it validates the indices by reading them back synchronously, which
    // WebGPU in a browser refuses.)
    let classes = Tensor::<1, Int>::arange(0..num_classes as i64, &device);
    let mask = classes.equal(class.clone().expand([num_classes])).float().reshape([1, num_classes]).autodiff();
    let score = [cam_logits, guided_logits]
        .into_iter()
        .flatten()
        .map(|l| (l * mask.clone()).sum())
        .reduce(|a, b| a + b)
        .expect("at least one branch is present");
    let grads = score.backward();

    if let Some(leaf) = cam_leaf {
        let gradient = leaf.grad(&grads).expect("the Grad-CAM leaf takes part in the score");
        let activations = activations.detach().without_autodiff();
        explanation.gradcam = Some(gradcam::weights_and_map(activations, gradient));
    }
    if request.guided_backprop {
        let gradient = input.grad(&grads).expect("the input takes part in the score");
        let [_, c, h, w] = gradient.dims();
        explanation.guided_backprop = Some(gradient.reshape([c, h, w]));
    }
    Ok(explanation)
}

impl Explanation {
    fn transaction(&self) -> Transaction {
        let mut t = Transaction::default().register(self.logits.clone()).register(self.class.clone());
        if let Some((weights, raw)) = &self.gradcam {
            t = t.register(weights.clone()).register(raw.clone());
        }
        if let Some(gbp) = &self.guided_backprop {
            t = t.register(gbp.clone());
        }
        t
    }

    fn unpack(&self, data: Vec<TensorData>) -> Result<ExplanationData, Error> {
        let mut data = data.into_iter();
        let mut next = || -> Result<TensorData, Error> {
            data.next().ok_or_else(|| Error::Device("the device returned fewer tensors than requested".into()))
        };
        let logits = floats(next()?)?;
        let class = next()?.convert::<i64>().try_to_vec::<i64>().map_err(|e| Error::Device(e.to_string()))?[0] as usize;
        let gradcam = match &self.gradcam {
            Some((_, raw)) => {
                let [height, width] = raw.dims();
                let weights = floats(next()?)?;
                let raw = Map { height, width, values: floats(next()?)? };
                Some(GradCam { weights, raw })
            }
            None => None,
        };
        let guided_backprop = match &self.guided_backprop {
            Some(gbp) => {
                let [_, height, width] = gbp.dims();
                Some(GuidedBackprop(InputGradient { height, width, values: floats(next()?)? }))
            }
            None => None,
        };
        Ok(ExplanationData { logits, class, gradcam, guided_backprop })
    }

    /// Reads the results, blocking. Native only: WebGPU in a browser needs [`Self::read_async`].
    pub fn read(self) -> Result<ExplanationData, Error> {
        let data = self.transaction().try_execute().map_err(|e| Error::Device(e.to_string()))?;
        self.unpack(data)
    }

    /// Reads the results without blocking (required on WebGPU in a browser).
    pub async fn read_async(self) -> Result<ExplanationData, Error> {
        let data = self.transaction().execute_async().await.map_err(|e| Error::Device(e.to_string()))?;
        self.unpack(data)
    }
}

fn floats(data: TensorData) -> Result<Vec<f32>, Error> {
    data.convert::<f32>().try_to_vec::<f32>().map_err(|e| Error::Device(e.to_string()))
}

impl ExplanationData {
    /// Softmax probabilities of the logits.
    pub fn probabilities(&self) -> Vec<f32> {
        let max = self.logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = self.logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        exp.into_iter().map(|e| e / sum).collect()
    }

    /// The `k` most probable classes, most probable first, as (class, probability).
    pub fn top_k(&self, k: usize) -> Vec<(usize, f32)> {
        let mut ranked: Vec<(usize, f32)> = self.probabilities().into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(k);
        ranked
    }
}

/// Resolves a class given as an index (`3`) or a name (case-insensitive, e.g. `samoyed`).
pub fn resolve_class(spec: &str, names: &[String]) -> Result<usize, Error> {
    let spec = spec.trim();
    if let Ok(index) = spec.parse::<usize>() {
        return if index < names.len() {
            Ok(index)
        } else {
            Err(Error::ClassOutOfRange { index, num_classes: names.len() })
        };
    }
    names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(spec))
        .ok_or_else(|| Error::UnknownClass { name: spec.to_string(), known: names.to_vec() })
}
