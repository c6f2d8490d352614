//! What the training step minimises: cross entropy on the labels, optionally mixed with a
//! distillation term that pulls the student towards a teacher's softened predictions.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor};

/// Hinton et al.'s knowledge distillation: `alpha * T^2 * KL(teacher_T || student_T) +
/// (1 - alpha) * CE(student, labels)`, where `_T` is a softmax at temperature `T`.
///
/// The `T^2` keeps the soft term's gradients the same size whatever the temperature (they
/// scale as `1/T^2`), so `alpha` means the same thing at every `T`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distillation {
    /// Weight of the teacher's term, in [0, 1].
    pub alpha: f64,
    pub temperature: f64,
}

/// Mean cross entropy of `logits` `[N, C]` against class indices `labels` `[N]`
/// (PyTorch's `F.cross_entropy`, fastai's `CrossEntropyLossFlat`).
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    smoothed_cross_entropy(logits, labels, 0.0)
}

/// The same against targets smoothed by `smoothing`: `(1 - smoothing)` on the label and
/// `smoothing / C` on every class (PyTorch's `label_smoothing`, fastai's
/// `LabelSmoothingCrossEntropy`).
pub fn smoothed_cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>, smoothing: f64) -> Tensor<1> {
    let config = CrossEntropyLossConfig::new().with_smoothing((smoothing > 0.0).then_some(smoothing as f32));
    config.init(&logits.device()).forward(logits, labels)
}

/// What a training batch's labels ask of the student: each sample's class, or with mixup
/// each sample's and its partner's by their shares, smoothed by `smoothing`.
#[derive(Debug, Clone)]
pub struct Targets {
    pub labels: Tensor<1, Int>,
    /// With mixup: the partners' labels and the weight of each sample's own.
    pub mixed: Option<(Tensor<1, Int>, f64)>,
    pub smoothing: f64,
}

impl Targets {
    /// Mean cross entropy of `logits` against these targets.
    pub fn cross_entropy(&self, logits: Tensor<2>) -> Tensor<1> {
        let own = |labels: Tensor<1, Int>| smoothed_cross_entropy(logits.clone(), labels, self.smoothing);
        match &self.mixed {
            None => own(self.labels.clone()),
            Some((partners, share)) => {
                own(self.labels.clone()).mul_scalar(*share) + own(partners.clone()).mul_scalar(1.0 - share)
            }
        }
    }
}

/// `T^2 * KL(softmax(teacher/T) || softmax(student/T))`, averaged over the batch
/// (PyTorch's `kl_div(.., reduction="batchmean") * T * T`). The teacher is a constant.
pub fn distillation(student: Tensor<2>, teacher: Tensor<2>, temperature: f64) -> Tensor<1> {
    let [batch, _] = student.dims();
    let log_student = log_softmax(student.div_scalar(temperature), 1);
    let teacher = teacher.detach().div_scalar(temperature);
    let p_teacher = softmax(teacher.clone(), 1);
    let log_teacher = log_softmax(teacher, 1);
    (p_teacher * (log_teacher - log_student)).sum().mul_scalar(temperature * temperature / batch as f64)
}

impl Distillation {
    /// The teacher's logits are for the same (blended) input as the student's.
    pub fn loss(&self, student: Tensor<2>, teacher: Tensor<2>, targets: &Targets) -> Tensor<1> {
        let hard = targets.cross_entropy(student.clone()).mul_scalar(1.0 - self.alpha);
        hard + distillation(student, teacher, self.temperature).mul_scalar(self.alpha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn logits(values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), [2, 3]), device)
    }

    fn scalar(t: Tensor<1>) -> f64 {
        t.into_scalar::<f32>() as f64
    }

    fn softmax64(row: &[f64], t: f64) -> Vec<f64> {
        let max = row.iter().cloned().fold(f64::MIN, f64::max);
        let exp: Vec<f64> = row.iter().map(|x| ((x - max) / t).exp()).collect();
        let sum: f64 = exp.iter().sum();
        exp.iter().map(|e| e / sum).collect()
    }

    #[test]
    fn distillation_is_the_batch_mean_kl_times_t_squared() {
        let device = Device::flex();
        let (s, t) = ([1.0f32, -0.5, 2.0, 0.3, 0.1, -1.2], [0.2f32, 1.5, -0.3, 2.2, -0.4, 0.0]);
        let temperature = 2.5;
        let got = scalar(distillation(logits(&s, &device), logits(&t, &device), temperature));
        // The definition, in f64, row by row.
        let mut expected = 0.0;
        for row in 0..2 {
            let as64 = |v: &[f32]| v[row * 3..row * 3 + 3].iter().map(|&x| x as f64).collect::<Vec<_>>();
            let (ps, pt) = (softmax64(&as64(&s), temperature), softmax64(&as64(&t), temperature));
            expected += pt.iter().zip(&ps).map(|(q, p)| q * (q / p).ln()).sum::<f64>();
        }
        expected *= temperature * temperature / 2.0;
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
        // Zero when the student already matches the teacher.
        assert!(scalar(distillation(logits(&t, &device), logits(&t, &device), temperature)).abs() < 1e-6);
    }

    #[test]
    fn alpha_mixes_the_two_terms() {
        let device = Device::flex();
        let (s, t) =
            (logits(&[1.0, -0.5, 2.0, 0.3, 0.1, -1.2], &device), logits(&[0.2, 1.5, -0.3, 2.2, -0.4, 0.0], &device));
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 0], [2]), &device);
        let ce = scalar(cross_entropy(s.clone(), labels.clone()));
        // -log softmax picked at the labels, by hand.
        let by_hand = {
            let row = |r: [f64; 3], k: usize| -softmax64(&r, 1.0)[k].ln();
            (row([1.0, -0.5, 2.0], 2) + row([0.3, 0.1, -1.2], 0)) / 2.0
        };
        assert!((ce - by_hand).abs() < 1e-5, "{ce} vs {by_hand}");
        let kd = scalar(distillation(s.clone(), t.clone(), 4.0));
        let targets = Targets { labels, mixed: None, smoothing: 0.0 };
        let mixed = scalar(Distillation { alpha: 0.7, temperature: 4.0 }.loss(s, t, &targets));
        assert!((mixed - (0.3 * ce + 0.7 * kd)).abs() < 1e-5);
    }

    #[test]
    fn smoothing_and_mixed_labels_follow_their_definitions() {
        let device = Device::flex();
        let rows = [[1.0, -0.5, 2.0], [0.3, 0.1, -1.2]];
        let s = logits(&[1.0, -0.5, 2.0, 0.3, 0.1, -1.2], &device);
        let labels = |l: [i64; 2]| Tensor::<1, Int>::from_data(TensorData::new(l.to_vec(), [2]), &device);
        // Smoothed targets: (1 - e) on the label and e / C on each class, cross entropy by hand.
        let by_hand = |targets: [usize; 2], e: f64| {
            let row = |r: [f64; 3], k: usize| {
                let p = softmax64(&r, 1.0);
                -(0..3).map(|c| ((1.0 - e) * f64::from(u8::from(c == k)) + e / 3.0) * p[c].ln()).sum::<f64>()
            };
            (row(rows[0], targets[0]) + row(rows[1], targets[1])) / 2.0
        };
        let smoothed = Targets { labels: labels([2, 0]), mixed: None, smoothing: 0.1 };
        let got = scalar(smoothed.cross_entropy(s.clone()));
        assert!((got - by_hand([2, 0], 0.1)).abs() < 1e-5, "{got} vs {}", by_hand([2, 0], 0.1));
        // Mixed: the own labels' loss and the partners' by their shares.
        let mixed = Targets { labels: labels([2, 0]), mixed: Some((labels([1, 1]), 0.7)), smoothing: 0.1 };
        let expected = 0.7 * by_hand([2, 0], 0.1) + 0.3 * by_hand([1, 1], 0.1);
        let got = scalar(mixed.cross_entropy(s));
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }
}
