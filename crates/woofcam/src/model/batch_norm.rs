//! BatchNorm over NCHW activations as a Burn operation of its own, so that in training the
//! CPU backend can run it with [`super::batch_norm_cpu`] (one pass per channel that stays
//! in cache) while other backends keep Burn's.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, Dispatch, Flex, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::{DType, Tensor, TensorData};

use super::batch_norm_cpu;

/// `bn.forward(x)`, with the training path (an autodiff device and a layer in training)
/// through [`TrainBatchNorm`]; the same results and running statistics as Burn's.
pub fn batch_norm_forward(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        return bn.forward(x);
    }
    let device = x.device();
    let (output, mean, variance) = <Dispatch as TrainBatchNorm>::batch_norm_train_fused(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
    );
    // As `BatchNorm::forward_train`: exponential moving averages of the batch statistics.
    let update = |running: Tensor<1>, batch: FloatTensor<Dispatch>| {
        let batch = Tensor::<1>::from_dispatch(batch).detach();
        running.to_device(&device).mul_scalar(1.0 - bn.momentum).add(batch.mul_scalar(bn.momentum)).detach()
    };
    bn.running_mean.update(update(bn.running_mean.value_sync(), mean));
    bn.running_var.update(update(bn.running_var.value_sync(), variance));
    Tensor::from_dispatch(output)
}

/// BatchNorm with the batch's statistics, as Burn's `ModuleOps::batch_norm_train` and its
/// backward, for `[batch, channels, height, width]` inputs.
#[backend_extension(Autodiff, Flex, Cube: cfg(feature = "wgpu"), Fusion: cfg(feature = "fusion"))]
pub trait TrainBatchNorm: Backend {
    /// The normalised output, and the batch's per-channel mean and (biased) variance.
    #[fusion(default)]
    fn batch_norm_train_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let result = Self::batch_norm_train(x, gamma, beta, epsilon);
        (result.output, result.mean, result.variance)
    }

    /// The gradients for `x`, `gamma` and `beta` of `batch_norm_train_fused`, given the
    /// statistics it returned and the gradient at its output.
    #[fusion(default)]
    fn batch_norm_train_fused_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let grads = Self::batch_norm_train_backward(x, gamma, mean, variance, epsilon, output_grad);
        (grads.x_grad, grads.gamma_grad, grads.beta_grad)
    }
}

impl TrainBatchNorm for Flex {
    fn batch_norm_train_fused(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let Some(dims) = nchw_f32(&x, &[&gamma, &beta]) else {
            let result = Self::batch_norm_train(x, gamma, beta, epsilon);
            return (result.output, result.mean, result.variance);
        };
        let (x, gamma, beta) = (x.to_contiguous(), gamma.to_contiguous(), beta.to_contiguous());
        let result = batch_norm_cpu::train_forward(x.storage(), dims, gamma.storage(), beta.storage(), epsilon);
        let shape = x.layout().shape().clone();
        (
            FlexTensor::from_data(TensorData::new(result.output, shape)),
            per_channel(result.mean),
            per_channel(result.variance),
        )
    }

    fn batch_norm_train_fused_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        output_grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let Some(dims) = nchw_f32(&x, &[&gamma, &mean, &variance, &output_grad]) else {
            let grads = Self::batch_norm_train_backward(x, gamma, mean, variance, epsilon, output_grad);
            return (grads.x_grad, grads.gamma_grad, grads.beta_grad);
        };
        let [x, gamma, mean, variance, output_grad] =
            [x, gamma, mean, variance, output_grad].map(|t| t.to_contiguous());
        let grads = batch_norm_cpu::train_backward(
            x.storage(),
            dims,
            gamma.storage(),
            mean.storage(),
            variance.storage(),
            epsilon,
            output_grad.storage(),
        );
        let shape = x.layout().shape().clone();
        (FlexTensor::from_data(TensorData::new(grads.x, shape)), per_channel(grads.gamma), per_channel(grads.beta))
    }
}

/// `[batch, channels, height x width]` when `x` is a 4-D `f32` tensor and so are `others`
/// (else Burn's generic operation runs).
fn nchw_f32(x: &FlexTensor, others: &[&FlexTensor]) -> Option<batch_norm_cpu::Dims> {
    let shape = x.layout().shape();
    let all_f32 = x.dtype() == DType::F32 && others.iter().all(|t| t.dtype() == DType::F32);
    (shape.num_dims() == 4 && all_f32).then(|| {
        let [n, c, h, w] = shape.dims::<4>();
        [n, c, h * w]
    })
}

fn per_channel(values: Vec<f32>) -> FlexTensor {
    let channels = values.len();
    FlexTensor::from_data(TensorData::new(values, [channels]))
}

#[cfg(feature = "wgpu")]
impl TrainBatchNorm for burn::backend::Cube {}

impl<B: TrainBatchNorm, C: CheckpointStrategy> TrainBatchNorm for Autodiff<B, C> {
    fn batch_norm_train_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // As Burn's autodiff BatchNorm: `x` and `gamma` are checkpointed, the statistics kept.
        #[derive(Debug)]
        struct TrainBatchNormBackward;

        impl<B: TrainBatchNorm> Backward<B, 3> for TrainBatchNormBackward {
            type State = (NodeId, NodeId, B::FloatTensorPrimitive, B::FloatTensorPrimitive, f64);

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
                let [node_x, node_gamma, node_beta] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_state, gamma_state, mean, variance, epsilon) = ops.state;
                let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
                let gamma = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(gamma_state);
                let (x_grad, gamma_grad, beta_grad) =
                    B::batch_norm_train_fused_backward(x, gamma, mean, variance, epsilon, grad);
                for (node, grad) in [(node_x, x_grad), (node_gamma, gamma_grad), (node_beta, beta_grad)] {
                    if let Some(node) = node {
                        grads.register::<B>(node.id, grad);
                    }
                }
            }
        }

        let statistics = |mean, variance| {
            (<Self as AutodiffBackend>::from_inner(mean), <Self as AutodiffBackend>::from_inner(variance))
        };
        match TrainBatchNormBackward.prepare::<C>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let (x_state, gamma_state) = (prep.checkpoint(&x), prep.checkpoint(&gamma));
                let (output, mean, variance) = B::batch_norm_train_fused(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let state = (x_state, gamma_state, mean.clone(), variance.clone(), epsilon);
                let (mean, variance) = statistics(mean, variance);
                (prep.finish(state, output), mean, variance)
            }
            OpsKind::UnTracked(prep) => {
                let (output, mean, variance) = B::batch_norm_train_fused(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let (mean, variance) = statistics(mean, variance);
                (prep.finish(output), mean, variance)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::BatchNormConfig;
    use burn::tensor::{Device, Distribution};
    use woofcam_testkit::max_abs_diff;

    /// A layer with gamma and beta away from their initial 1 and 0.
    fn layer(channels: usize, device: &Device) -> BatchNorm {
        let mut bn = BatchNormConfig::new(channels).init(device);
        bn.gamma = Param::from_tensor(Tensor::random([channels], Distribution::Normal(1.0, 0.5), device));
        bn.beta = Param::from_tensor(Tensor::random([channels], Distribution::Normal(0.0, 0.5), device));
        bn
    }

    #[test]
    fn training_matches_burns_batch_norm_outputs_gradients_and_running_statistics() {
        let device = Device::flex().autodiff();
        let ours = layer(5, &device);
        let burns = ours.clone();
        // A shifted, scaled input (mean 3, std 2), as a convolution's output may be.
        let x = Tensor::<4>::random([3, 5, 6, 7], Distribution::Normal(3.0, 2.0), &device).require_grad();
        let upstream = Tensor::<4>::random([3, 5, 6, 7], Distribution::Normal(0.0, 1.0), &device);

        let (out_ours, out_burns) = (batch_norm_forward(&ours, x.clone()), burns.forward(x.clone()));
        assert!(max_abs_diff(out_ours.clone(), out_burns.clone()) < 1e-5);
        let grads_ours = (out_ours * upstream.clone()).sum().backward();
        let grads_burns = (out_burns * upstream).sum().backward();

        assert!(max_abs_diff(x.grad(&grads_ours).unwrap(), x.grad(&grads_burns).unwrap()) < 1e-4);
        for (a, b) in [(&ours.gamma, &burns.gamma), (&ours.beta, &burns.beta)] {
            assert!(max_abs_diff(a.grad(&grads_ours).unwrap(), b.grad(&grads_burns).unwrap()) < 1e-4);
        }
        assert!(max_abs_diff(ours.running_mean.value(), burns.running_mean.value()) < 1e-6);
        assert!(max_abs_diff(ours.running_var.value(), burns.running_var.value()) < 1e-6);
        // The statistics moved from their initial 0 and 1 (the update happened at all).
        assert!(ours.running_mean.value().abs().max().into_scalar::<f32>() > 0.1);
    }

    #[test]
    fn inference_keeps_burns_path() {
        // A plain device: the running statistics are used and left as they are.
        let device = Device::flex();
        let bn = layer(4, &device);
        let x = Tensor::<4>::random([2, 4, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(max_abs_diff(batch_norm_forward(&bn, x.clone()), bn.forward(x)), 0.0);
        assert_eq!(bn.running_mean.value().abs().max().into_scalar::<f32>(), 0.0);
    }
}
