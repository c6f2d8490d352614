//! Why a teacher could not be loaded, worded for the person who pointed the trainer at it.

use std::path::PathBuf;

/// Everything that can go wrong between a TensorFlow.js model folder and a ready teacher.
///
/// Every variant names the file or tensor to look at: a teacher that silently loaded a
/// truncated shard would hand the student wrong targets for a whole run.
#[derive(Debug, thiserror::Error)]
pub enum TeacherError {
    #[error("teacher model folder {0} does not exist")]
    MissingDir(PathBuf),
    #[error("could not read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a TensorFlow.js model.json: {detail}")]
    Manifest { path: PathBuf, detail: String },
    /// The shards of one weight group do not hold exactly the bytes its tensors need.
    #[error(
        "the weight files {files} hold {actual} bytes but model.json lists {expected} bytes of tensors for \
         them; a file is truncated or belongs to another model"
    )]
    ShardSize { files: String, expected: u64, actual: u64 },
    #[error("model.json has no weight tensor {0:?}; is this the MobileNet v1 export?")]
    MissingTensor(String),
    #[error("weight tensor {name:?} has shape {actual:?} but the network needs {expected:?}")]
    TensorShape { name: String, expected: Vec<usize>, actual: Vec<usize> },
    #[error(
        "the teacher answers only for the ten Imagewoof classes, and the data has a class {0:?} that is not one of them"
    )]
    UnknownSynset(String),
}
