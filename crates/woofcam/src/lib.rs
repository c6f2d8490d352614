//! Woofcam's core: the network, the explainers, image pre-processing, colour maps and
//! labels, shared by the trainer (native) and the viewer (wasm) so that both run one
//! implementation.

pub mod error;
pub mod explain;
pub mod image;
pub mod labels;
pub mod metadata;
pub mod model;
mod names;
pub mod weights;

pub use error::Error;
