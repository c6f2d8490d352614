//! Mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"): each training batch
//! is blended with a shuffled copy of itself, `share * x + (1 - share) * x[partner]`, and the
//! loss weighs the two labels by the same shares. With a teacher, the teacher sees the same
//! blend of its own views (Beyer et al. 2022, "Knowledge distillation: a good teacher is
//! patient and consistent": teacher and student on the same input).
//!
//! One share per batch, drawn from Beta(alpha, alpha) and folded to the larger side as
//! fastai's `MixUp` does (so each sample's own label keeps the larger weight), and one
//! shuffle, both from the run's seed, the epoch and the batch: a resumed run draws the same.

use burn::tensor::{Int, Tensor, TensorData};

use crate::data::SplitMix64;

/// How one batch is blended.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixup {
    /// Weight of each sample itself, in [0.5, 1].
    pub share: f64,
    /// The sample each one is blended with (a permutation of the batch).
    pub partner: Vec<usize>,
}

impl Mixup {
    /// The blend of batch `batch` of `epoch`, `len` samples, for Beta(`alpha`, `alpha`).
    pub fn draw(alpha: f64, seed: u64, epoch: u64, batch: u64, len: usize) -> Self {
        // Apart from the loader's streams, which use the same (seed, epoch, item) scheme.
        let mut rng = SplitMix64::for_item(seed ^ 0x6D69_7875_7000, epoch, batch);
        let share = rng.beta(alpha, alpha);
        let mut partner: Vec<usize> = (0..len).collect();
        rng.shuffle(&mut partner);
        Self { share: share.max(1.0 - share), partner }
    }

    /// `share * x + (1 - share) * x[partner]` along the batch dimension.
    pub fn blend<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let partner = x.clone().select(0, self.indices(&x.device()));
        x.mul_scalar(self.share) + partner.mul_scalar(1.0 - self.share)
    }

    /// Each sample's partner's label.
    pub fn partner_labels(&self, labels: Tensor<1, Int>) -> Tensor<1, Int> {
        let indices = self.indices(&labels.device());
        labels.select(0, indices)
    }

    fn indices(&self, device: &burn::tensor::Device) -> Tensor<1, Int> {
        let data: Vec<i64> = self.partner.iter().map(|&i| i as i64).collect();
        Tensor::from_data(TensorData::new(data, [self.partner.len()]), device)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;

    #[test]
    fn draws_follow_from_seed_epoch_and_batch() {
        let a = Mixup::draw(0.4, 7, 3, 11, 16);
        assert_eq!(a, Mixup::draw(0.4, 7, 3, 11, 16));
        assert_ne!(a, Mixup::draw(0.4, 7, 3, 12, 16));
        assert!((0.5..=1.0).contains(&a.share), "{}", a.share);
        let mut sorted = a.partner.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn blend_mixes_each_sample_with_its_partner_by_the_share() {
        let device = Device::flex();
        let mix = Mixup { share: 0.75, partner: vec![2, 0, 1] };
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 4.0, 8.0, 40.0, 80.0, 120.0], [3, 2]), &device);
        let blended: Vec<f32> = mix.blend(x).into_data().try_to_vec().unwrap();
        // Row 0 with row 2, row 1 with row 0, row 2 with row 1.
        let expected = [20.0, 33.0, 6.0, 31.0, 62.0, 100.0];
        assert_eq!(blended.len(), expected.len());
        for (got, want) in blended.iter().zip(expected) {
            assert!((got - want).abs() < 1e-5, "{blended:?}");
        }
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![5i64, 6, 7], [3]), &device);
        let partners: Vec<i64> = mix.partner_labels(labels).into_data().convert::<i64>().try_to_vec().unwrap();
        assert_eq!(partners, [7, 5, 6]);
    }
}
