//! The trainer's data side, fastai's `DataBlock` for Imagewoof without Python:
//!
//! 1. [`folder`]: list `train/<synset>/*` and `val/<synset>/*`, refusing a broken layout
//!    before any training starts;
//! 2. [`transform`]: fastai's item transform `Resize(resize)` (crop method) and its batch
//!    transforms `aug_transforms(size=..)`, per sample on an `RgbImage`;
//! 3. [`loader`]: decode and transform on worker threads into normalised batches, in an
//!    order fixed by the epoch's seed, skipping (and counting) unreadable files.
//!
//! Nothing here touches Burn: batches are plain `Vec<f32>`, so this is fast to test and
//! the training loop decides which device the tensors go to.

pub mod folder;
pub mod loader;
pub mod rng;
pub mod transform;

pub use folder::{Dataset, FolderOptions, Item};
pub use loader::{Batch, Loader, LoaderConfig, Skipped};
pub use rng::SplitMix64;
pub use transform::{Split, Transform};
