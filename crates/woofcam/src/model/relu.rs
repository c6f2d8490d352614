//! ReLU with a switchable backward rule.
//!
//! Guided Backprop (Springenberg et al. 2015) changes only the *backward* pass of every
//! ReLU: the gradient passes where the forward input was positive **and** the incoming
//! gradient is positive. Burn has no module hooks, so the rule is a custom autodiff
//! operation written through Burn's backend-extension API: the forward is the ordinary
//! ReLU on every backend, the backward is `relu_backward(x, relu(grad))`.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;

/// Which backward rule the network's ReLUs use in a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReluMode {
    /// The ordinary ReLU: `grad * (x > 0)`.
    Standard,
    /// Guided Backprop's ReLU: `grad * (x > 0) * (grad > 0)`.
    Guided,
}

/// Applies a ReLU whose backward follows `mode`. The forward value is the same either way.
pub fn relu<const D: usize>(x: Tensor<D>, mode: ReluMode) -> Tensor<D> {
    match mode {
        ReluMode::Standard => burn::tensor::activation::relu(x),
        // Without autodiff there is no backward to change, so skip the extension dispatch.
        ReluMode::Guided if !x.is_autodiff() => burn::tensor::activation::relu(x),
        ReluMode::Guided => Tensor::from_dispatch(<Dispatch as GuidedRelu>::guided_relu(x.into_dispatch())),
    }
}

/// The backend extension behind [`ReluMode::Guided`].
#[backend_extension(Autodiff, Flex, Cube: cfg(feature = "wgpu"), Fusion: cfg(feature = "fusion"))]
pub trait GuidedRelu: Backend {
    /// ReLU whose backward keeps only positive gradients at positive inputs.
    #[fusion(default)]
    fn guided_relu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::relu(x)
    }
}

impl GuidedRelu for Flex {}

#[cfg(feature = "wgpu")]
// Every CubeCL runtime (WebGPU, Vulkan, Metal, CUDA) is this one backend type in Burn 0.22.
impl GuidedRelu for burn::backend::Cube {}

impl<B: Backend, C: CheckpointStrategy> GuidedRelu for Autodiff<B, C> {
    fn guided_relu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct GuidedReluBackward;

        impl<B: Backend> Backward<B, 1> for GuidedReluBackward {
            type State = NodeId;

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
                let input = checkpointer.retrieve_node_output(ops.state);
                unary::<B, _>(ops.parents, ops.node, grads, |grad| B::relu_backward(input, B::relu(grad)));
            }
        }

        match GuidedReluBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&x);
                prep.finish(state, B::relu(x.primitive().clone()))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::relu(x.into_primitive())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn input_gradient(mode: ReluMode) -> Vec<f32> {
        let device = Device::flex().autodiff();
        let x = Tensor::<1>::from_floats([-1.0, 2.0, 3.0, 0.5], &device).require_grad();
        let upstream = Tensor::<1>::from_floats([5.0, -7.0, 11.0, 2.0], &device);
        let grads = (relu(x.clone(), mode) * upstream).sum().backward();
        x.grad(&grads).unwrap().into_data().try_to_vec().unwrap()
    }

    #[test]
    fn guided_backward_keeps_positive_gradient_at_positive_input() {
        assert_eq!(input_gradient(ReluMode::Guided), vec![0.0, 0.0, 11.0, 2.0]);
    }

    #[test]
    fn standard_backward_is_the_ordinary_relu() {
        assert_eq!(input_gradient(ReluMode::Standard), vec![0.0, -7.0, 11.0, 2.0]);
    }

    #[test]
    fn forward_is_the_same_in_both_modes() {
        let device = Device::flex();
        let x = Tensor::<1>::from_floats([-1.0, 2.0, 0.0], &device);
        let a: Vec<f32> = relu(x.clone(), ReluMode::Guided).into_data().try_to_vec().unwrap();
        let b: Vec<f32> = relu(x, ReluMode::Standard).into_data().try_to_vec().unwrap();
        assert_eq!(a, vec![0.0, 2.0, 0.0]);
        assert_eq!(a, b);
    }
}
