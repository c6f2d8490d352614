//! How much of the teacher's accuracy on Imagewoof's val split is memory.
//!
//! Imagewoof's photos come from ImageNet, and most of its val photos from ImageNet's *train*
//! split (their file names say so: `n02093754_1000.JPEG`), which an ImageNet model such as
//! the teacher was trained on. Only the photos named `ILSVRC2012_val_*` come from ImageNet's
//! validation split, which no ImageNet model learnt from: the teacher's accuracy on those is
//! its honest one. The student learns from the train split only, so its own val figure is
//! honest on every photo.

use std::path::Path;

use anyhow::Result;
use burn::tensor::{Tensor, TensorData};

use super::Teacher;
use crate::data::{Item, Transform};
use crate::interpret::run_batches;

/// The file-name prefix of photos from ImageNet's validation split.
pub const IMAGENET_VAL_PREFIX: &str = "ILSVRC2012_val_";

/// Photos and how many of them the teacher got right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub correct: usize,
    pub photos: usize,
}

impl Tally {
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.photos.max(1) as f64
    }
}

/// The teacher's top-1 on photos it may have trained on and on photos it cannot have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByProvenance {
    /// From ImageNet's validation split ([`IMAGENET_VAL_PREFIX`]).
    pub unseen: Tally,
    /// From ImageNet's train split.
    pub seen: Tally,
}

/// Whether `path` names a photo of ImageNet's validation split.
pub fn from_imagenet_val(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(IMAGENET_VAL_PREFIX))
}

/// Scores the teacher on `items` (labels in the order of the classes it was loaded for), each
/// photo's centre square at its own input size, as published MobileNet accuracy is measured.
pub fn accuracy_by_provenance(teacher: &Teacher, items: &[Item], batch_size: usize) -> Result<ByProvenance> {
    let side = Teacher::INPUT_SIZE as u32;
    let transform = Transform::new(side, side);
    let normalization = transform.normalization;
    let mut tally = ByProvenance::default();
    run_batches(items, transform, batch_size, "teacher", |batch| {
        let input = TensorData::new(batch.images, [batch.len, 3, batch.size, batch.size]);
        let logits = teacher.class_logits(Tensor::from_data(input, &teacher.device), &normalization);
        let predicted = logits.argmax(1).into_data().convert::<i64>();
        let predicted = predicted.try_to_vec::<i64>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for ((path, label), predicted) in batch.paths.iter().zip(&batch.labels).zip(predicted) {
            let group = if from_imagenet_val(path) { &mut tally.unseen } else { &mut tally.seen };
            group.photos += 1;
            group.correct += usize::from(predicted == *label as i64);
        }
        Ok(())
    })?;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_tell_imagenet_val_photos_from_train_photos() {
        assert!(from_imagenet_val(Path::new("val/n02111889/ILSVRC2012_val_00000590.JPEG")));
        assert!(!from_imagenet_val(Path::new("val/n02093754/n02093754_1000.JPEG")));
        // The folder does not count, only the file's own name.
        assert!(!from_imagenet_val(Path::new("ILSVRC2012_val_photos/n02093754_1000.JPEG")));
    }

    #[test]
    fn accuracy_of_an_empty_tally_is_zero_not_nan() {
        assert_eq!(Tally::default().accuracy(), 0.0);
        assert_eq!(Tally { correct: 3, photos: 4 }.accuracy(), 0.75);
    }
}
