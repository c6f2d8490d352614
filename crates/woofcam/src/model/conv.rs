//! Which operation runs each convolution of the ResNet.

use burn::backend::Dispatch;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

use super::conv3x3::SameConv3x3;
use super::square_conv::SquareConv;

/// `conv.forward(x)`: through [`SameConv3x3`] for a block's 3x3 stride-1 convolutions (the
/// Winograd kernel on the CPU), through [`SquareConv`] for the other bias-free square ones,
/// else Burn's convolution.
pub fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [kernel, kernel_w] = conv.kernel_size;
    let [stride, stride_w] = conv.stride;
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) if [left, bottom, right] == [top; 3] => Some(top),
        PaddingConfig2d::Valid => Some(0),
        _ => None,
    };
    let square = kernel == kernel_w && stride == stride_w && conv.dilation == [1, 1] && conv.groups == 1;
    let Some(padding) = padding.filter(|_| square && conv.bias.is_none()) else {
        return conv.forward(x);
    };
    let (x, weight) = (x.into_dispatch(), conv.weight.val().into_dispatch());
    Tensor::from_dispatch(if kernel == 3 && stride == 1 && padding == 1 {
        <Dispatch as SameConv3x3>::conv3x3_same(x, weight, false)
    } else {
        <Dispatch as SquareConv>::square_conv(x, weight, stride, padding)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Distribution};
    use woofcam_testkit::max_abs_diff;

    fn conv(channels: [usize; 2], kernel: usize, stride: usize, padding: usize, bias: bool, device: &Device) -> Conv2d {
        Conv2dConfig::new(channels, [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
            .with_bias(bias)
            .init(device)
    }

    #[test]
    fn every_resnet_convolution_gives_burns_outputs_and_gradients() {
        let device = Device::flex().autodiff();
        // A block's 3x3, the stem's 7x7 (an odd input: the last window hangs over), a
        // block's strided 3x3, a shortcut's 1x1, and one with a bias (Burn's own path).
        let cases = [
            (conv([6, 5], 3, 1, 1, false, &device), [2, 6, 7, 8]),
            (conv([3, 4], 7, 2, 3, false, &device), [2, 3, 13, 11]),
            (conv([4, 6], 3, 2, 1, false, &device), [3, 4, 8, 9]),
            (conv([4, 3], 1, 2, 0, false, &device), [2, 4, 6, 6]),
            (conv([2, 3], 3, 2, 1, true, &device), [1, 2, 5, 5]),
        ];
        for (conv, dims) in cases {
            let x = Tensor::<4>::random(dims, Distribution::Normal(0.0, 1.0), &device).require_grad();
            let (ours, burns) = (conv_forward(&conv, x.clone()), conv.forward(x.clone()));
            assert!(max_abs_diff(ours.clone(), burns.clone()) < 1e-5, "{:?}", conv.kernel_size);
            // A non-uniform upstream gradient, so that a transposed or unrotated filter shows.
            let upstream = Tensor::<4>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &device);
            let ours = (ours * upstream.clone()).sum().backward();
            let burns = (burns * upstream).sum().backward();
            assert!(max_abs_diff(x.grad(&ours).unwrap(), x.grad(&burns).unwrap()) < 1e-4);
            let (w_ours, w_burns) = (conv.weight.grad(&ours).unwrap(), conv.weight.grad(&burns).unwrap());
            assert!(max_abs_diff(w_ours, w_burns) < 1e-4, "filter gradient of {:?}", conv.kernel_size);
        }
    }

    #[test]
    fn a_tracked_input_through_plain_weights_gets_its_gradient() {
        // How the explainers run it: the model on a plain device, the input an autodiff leaf.
        let device = Device::flex();
        for conv in [conv([4, 3], 3, 1, 1, false, &device), conv([3, 4], 7, 2, 3, false, &device)] {
            let x = Tensor::<4>::random([1, conv.weight.dims()[1], 9, 9], Distribution::Normal(0.0, 1.0), &device);
            let leaf = x.clone().autodiff().require_grad();
            let ours = conv_forward(&conv, leaf.clone()).sum().backward();
            let leaf_burns = x.autodiff().require_grad();
            let burns = conv.forward(leaf_burns.clone()).sum().backward();
            let diff = max_abs_diff(leaf.grad(&ours).unwrap(), leaf_burns.grad(&burns).unwrap());
            assert!(diff < 1e-4, "max difference {diff}");
        }
    }
}
