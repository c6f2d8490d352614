//! Errors a user can cause (bad layer, bad class, bad image, bad weights), with messages
//! that say what to do.

pub use crate::image::ImageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown layer `{spec}`; use a name ({}) or a fastai index path such as [0,-2]", known.join(", "))]
    UnknownLayer { spec: String, known: Vec<String> },

    #[error("class {index} is out of range: the model has {num_classes} classes (0 to {})", num_classes.saturating_sub(1))]
    ClassOutOfRange { index: usize, num_classes: usize },

    #[error("unknown class `{name}`; the classes are: {}", known.join(", "))]
    UnknownClass { name: String, known: Vec<String> },

    #[error(transparent)]
    Image(#[from] ImageError),

    #[error("the compute device failed: {0}")]
    Device(String),

    #[error("cannot load the weights: {0}")]
    Weights(String),
}
