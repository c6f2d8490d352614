//! ResNet34 with torchvision's topology and parameter layout, split into a body that can
//! be cut at any addressable layer, and a head (torchvision's or fastai's).

mod batch_norm;
mod batch_norm_cpu;
mod block;
mod body;
mod conv;
mod conv3x3;
mod head;
mod im2col;
mod layer;
mod matmul;
mod parallel;
mod relu;
mod resnet;
mod square_conv;
mod winograd;

pub use batch_norm::TrainBatchNorm;
pub use block::{BasicBlock, Downsample};
pub use body::{Cut, ResNetBody, ResNetBodyConfig};
pub use conv3x3::SameConv3x3;
pub use head::{FastaiHead, Head, TorchvisionHead};
pub use layer::{Layer, LayerSummary};
pub use relu::{GuidedRelu, ReluMode, relu};
pub use resnet::{HeadKind, ResNet, ResNetConfig};
pub use square_conv::SquareConv;
