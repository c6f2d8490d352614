//! ResNet34 with torchvision's topology and parameter layout, split into a body that can
//! be cut at any addressable layer, and a head (torchvision's or fastai's).

mod block;
mod body;
mod conv3x3;
mod head;
mod layer;
mod relu;
mod resnet;
mod winograd;

pub use block::{BasicBlock, Downsample};
pub use body::{Cut, ResNetBody, ResNetBodyConfig};
pub use conv3x3::SameConv3x3;
pub use head::{FastaiHead, Head, TorchvisionHead};
pub use layer::{Layer, LayerSummary};
pub use relu::{GuidedRelu, ReluMode, relu};
pub use resnet::{HeadKind, ResNet, ResNetConfig};
