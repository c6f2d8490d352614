//! What can go wrong in a viewing session, worded for the person at the page.

use woofcam::explain::render::Method;

#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    #[error(transparent)]
    Core(#[from] woofcam::Error),

    #[error("no photo yet: drop, pick or paste one")]
    NoPhoto,

    #[error("the photo has not been analysed yet")]
    NotAnalysed,

    #[error("{0} was not computed for this photo; analyse it with that method")]
    NotComputed(Method),

    /// A control sent a value the viewer does not know (a page bug, not a user error).
    #[error("{0}")]
    Option(String),
}
