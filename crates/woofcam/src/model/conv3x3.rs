//! The convolution inside a ResNet block (3x3, stride 1, padding 1, no bias) as a Burn
//! operation of its own, so that the CPU backend can run it by Winograd's algorithm
//! ([`super::winograd`], a half to a quarter of the arithmetic of Burn's im2col + GEMM) while GPU
//! backends keep Burn's convolution.
//!
//! Under autodiff the input's gradient is the same kind of convolution (of the output
//! gradient with the filters rotated by 180 degrees and their in/out channels swapped), so
//! it goes through this operation too; the filters' gradient (training only) has an
//! operation of its own, Winograd's too on the CPU.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, TensorData};

use super::square_conv;
use super::winograd::{self, Filters};

/// Burn's options for this convolution: stride 1, padding 1.
fn options() -> ConvOptions<2> {
    square_conv::options(1, 1)
}

/// A bias-free 3x3 convolution with stride 1 and one pixel of zero padding: `x`
/// `[n, c_in, h, w]`, `weight` `[c_out, c_in, 3, 3]`, result `[n, c_out, h, w]`.
/// `transposed`: `weight` is `[c_in, c_out, 3, 3]` and the convolution is the transposed
/// one, the input gradient of `conv3x3_same(.., weight, false)` (its filters rotated by 180
/// degrees, in/out channels swapped).
#[backend_extension(Autodiff, Flex, Cube: cfg(feature = "wgpu"), Fusion: cfg(feature = "fusion"))]
pub trait SameConv3x3: Backend {
    #[fusion(default)]
    fn conv3x3_same(x: FloatTensor<Self>, weight: FloatTensor<Self>, transposed: bool) -> FloatTensor<Self> {
        burn_convolution::<Self>(x, weight, transposed)
    }

    /// The filters' gradient of `conv3x3_same(x, weight, false)` for the gradient `grad` at
    /// its output (training).
    #[fusion(default)]
    fn conv3x3_same_filter_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        burn_filter_gradient::<Self>(x, weight, grad)
    }
}

/// The operation by Burn's own convolution.
fn burn_convolution<B: Backend>(x: FloatTensor<B>, weight: FloatTensor<B>, transposed: bool) -> FloatTensor<B> {
    let weight = if transposed { B::float_flip(B::float_swap_dims(weight, 0, 1), &[2, 3]) } else { weight };
    B::conv2d(x, weight, None, options())
}

/// The filters' gradient by Burn's own operation.
fn burn_filter_gradient<B: Backend>(x: FloatTensor<B>, weight: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
    B::conv2d_weight_backward(x, weight, grad, options())
}

impl SameConv3x3 for Flex {
    fn conv3x3_same(x: FlexTensor, weight: FlexTensor, transposed: bool) -> FlexTensor {
        if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
            return burn_convolution::<Self>(x, weight, transposed);
        }
        // Views of the tensors' memory (no copy when, as usual, they are contiguous).
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let dims: [usize; 4] = x.layout().shape().dims();
        let [out_channels, in_channels, ..] = weight.layout().shape().dims::<4>();
        let (c_out, filters) =
            if transposed { (in_channels, Filters::Transposed) } else { (out_channels, Filters::AsGiven) };
        let out = winograd::conv3x3(x.storage(), dims, weight.storage(), filters, c_out, 1);
        let [n, _, h, w] = dims;
        FlexTensor::from_data(TensorData::new(out, [n, c_out, h, w]))
    }

    fn conv3x3_same_filter_gradient(x: FlexTensor, weight: FlexTensor, grad: FlexTensor) -> FlexTensor {
        if x.dtype() != DType::F32 || grad.dtype() != DType::F32 {
            return burn_filter_gradient::<Self>(x, weight, grad);
        }
        let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
        let dims: [usize; 4] = x.layout().shape().dims();
        let [_, c_out, ..] = grad.layout().shape().dims::<4>();
        let out = winograd::conv3x3_filter_gradient(x.storage(), dims, grad.storage(), c_out, 1);
        FlexTensor::from_data(TensorData::new(out, [c_out, dims[1], 3, 3]))
    }
}

#[cfg(feature = "wgpu")]
impl SameConv3x3 for burn::backend::Cube {}

impl<B: SameConv3x3, C: CheckpointStrategy> SameConv3x3 for Autodiff<B, C> {
    fn conv3x3_same(x: FloatTensor<Self>, weight: FloatTensor<Self>, transposed: bool) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct SameConv3x3Backward;

        impl<B: SameConv3x3> Backward<B, 2> for SameConv3x3Backward {
            type State = (NodeId, NodeId, bool);

            fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
                let [node_x, node_weight] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(ops.state.0);
                let weight = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(ops.state.1);
                let transposed = ops.state.2;
                if let Some(node) = node_weight {
                    // <grad, conv(x, W)> is bilinear: the transposed convolution's filter
                    // gradient is the plain one's with input and output gradient swapped.
                    let weight_grad = if transposed {
                        B::conv2d_weight_backward(grad.clone(), weight.clone(), x, options())
                    } else {
                        B::conv3x3_same_filter_gradient(x, weight.clone(), grad.clone())
                    };
                    grads.register::<B>(node.id, weight_grad);
                }
                if let Some(node) = node_x {
                    // Each one's input gradient is the other (padding 3 - 1 - 1 = 1 again).
                    grads.register::<B>(node.id, B::conv3x3_same(grad, weight, !transposed));
                }
            }
        }

        match SameConv3x3Backward.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), transposed);
                prep.finish(state, B::conv3x3_same(x.primitive().clone(), weight.primitive().clone(), transposed))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::conv3x3_same(x.into_primitive(), weight.into_primitive(), transposed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Dispatch;
    use burn::tensor::{Device, Distribution, Tensor};
    use woofcam_testkit::max_abs_diff;

    #[test]
    fn the_transposed_operation_and_its_gradients_equal_burns() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, 5, 6, 7], Distribution::Normal(0.0, 1.0), &device).require_grad();
        // The weight of a convolution from 4 to 5 channels, whose transpose goes from 5 to 4.
        let weight = Tensor::<4>::random([5, 4, 3, 3], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let upstream = Tensor::<4>::random([2, 4, 6, 7], Distribution::Normal(0.0, 1.0), &device);

        let ours = Tensor::<4>::from_dispatch(<Dispatch as SameConv3x3>::conv3x3_same(
            x.clone().into_dispatch(),
            weight.clone().into_dispatch(),
            true,
        ));
        let rotated = weight.clone().swap_dims(0, 1).flip([2, 3]);
        let burns = burn::tensor::module::conv2d(x.clone(), rotated, None, options());
        assert!(max_abs_diff(ours.clone(), burns.clone()) < 1e-4);

        let ours = (ours * upstream.clone()).sum().backward();
        let burns = (burns * upstream).sum().backward();
        assert!(max_abs_diff(x.grad(&ours).unwrap(), x.grad(&burns).unwrap()) < 1e-4);
        assert!(max_abs_diff(weight.grad(&ours).unwrap(), weight.grad(&burns).unwrap()) < 1e-4);
    }
}
