//! The ResNet's other convolutions (the 7x7 stem, the strided 3x3 and 1x1 ones: square,
//! bias-free, no dilation or groups) as a Burn operation of its own, so that under autodiff
//! the CPU backend gets their filters' gradient by [`super::im2col`] (one photo at a time)
//! instead of Burn's; the output and the input's gradient stay Burn's on every backend.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, TensorData};

use super::im2col::{self, Window};

/// Burn's options for a square window of this stride and padding.
pub(super) fn options(stride: usize, padding: usize) -> ConvOptions<2> {
    ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1)
}

/// A bias-free convolution of `x` `[n, c_in, h, w]` by `weight` `[c_out, c_in, k, k]` with
/// the same `stride` and `padding` along both axes.
#[backend_extension(Autodiff, Flex, Cube: cfg(feature = "wgpu"), Fusion: cfg(feature = "fusion"))]
pub trait SquareConv: Backend {
    #[fusion(default)]
    fn square_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options(stride, padding))
    }

    /// The filters' gradient of `square_conv(x, weight, stride, padding)` for the gradient
    /// `grad` at its output (training).
    #[fusion(default)]
    fn square_conv_filter_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, grad, options(stride, padding))
    }
}

impl SquareConv for Flex {
    fn square_conv_filter_gradient(
        x: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        stride: usize,
        padding: usize,
    ) -> FlexTensor {
        if x.dtype() != DType::F32 || grad.dtype() != DType::F32 {
            return Self::conv2d_weight_backward(x, weight, grad, options(stride, padding));
        }
        let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
        let dims: [usize; 4] = x.layout().shape().dims();
        let [c_out, c_in, kernel, _] = weight.layout().shape().dims::<4>();
        let window = Window { kernel, stride, padding };
        let out = im2col::filter_gradient(x.storage(), dims, grad.storage(), c_out, window);
        FlexTensor::from_data(TensorData::new(out, [c_out, c_in, kernel, kernel]))
    }
}

#[cfg(feature = "wgpu")]
impl SquareConv for burn::backend::Cube {}

impl<B: SquareConv, C: CheckpointStrategy> SquareConv for Autodiff<B, C> {
    fn square_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct SquareConvBackward;

        impl<B: SquareConv> Backward<B, 2> for SquareConvBackward {
            type State = (NodeId, NodeId, usize, usize);

            fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
                let [node_x, node_weight] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_state, weight_state, stride, padding) = ops.state;
                let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
                let weight = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(weight_state);
                if let Some(node) = node_weight {
                    let weight_grad =
                        B::square_conv_filter_gradient(x.clone(), weight.clone(), grad.clone(), stride, padding);
                    grads.register::<B>(node.id, weight_grad);
                }
                if let Some(node) = node_x {
                    grads.register::<B>(node.id, B::conv2d_x_backward(x, weight, grad, options(stride, padding)));
                }
            }
        }

        match SquareConvBackward.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), stride, padding);
                prep.finish(state, B::square_conv(x.into_primitive(), weight.into_primitive(), stride, padding))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::square_conv(x.into_primitive(), weight.into_primitive(), stride, padding))
            }
        }
    }
}
