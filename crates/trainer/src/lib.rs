//! The trainer's library: the commands behind the `woofcam` binary and the training
//! machinery they share (data pipeline, optimiser, model files), public so that tests
//! and later commands use the same code.

pub mod commands;
pub mod data;
pub mod device;
pub mod format_version;
pub mod interpret;
pub mod model_file;
pub mod pytorch;
pub mod ranger;
pub mod render;
pub mod teacher;
pub mod train;
