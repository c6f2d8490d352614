//! The one random source of the data pipeline.
//!
//! SplitMix64 (Steele, Lea and Flood, 2014) is written out here instead of taken from
//! `rand` because its output is part of our reproducibility promise: the same seed must
//! give the same crops and warps on every machine and every future build, and `rand`
//! documents that `StdRng`'s algorithm may change between releases. Each sample gets its
//! own generator derived from (seed, epoch, item), so the pixels of a sample do not
//! depend on which worker thread made it or in which order.

/// A small, fast, statistically solid 64-bit generator.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// An independent stream for one item of one epoch: the three numbers are mixed
    /// through the generator itself, so neighbouring items get unrelated streams.
    pub fn for_item(seed: u64, epoch: u64, item: u64) -> Self {
        let mut mix = Self::new(seed);
        let a = mix.next_u64() ^ epoch;
        let mut mix = Self::new(a);
        let b = mix.next_u64() ^ item;
        let mut mix = Self::new(b);
        Self::new(mix.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits, like Python's `random.random()`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [low, high).
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// True with probability `p` (always for p >= 1, never for p <= 0).
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// Uniform in 0..n (n > 0), by Lemire's multiply-shift; the bias is below 2^-32 for
    /// any data set size we will see.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Standard normal, by Box and Muller's transform (one of the pair).
    pub fn normal(&mut self) -> f64 {
        // 1 - u is in (0, 1]: its logarithm is finite.
        let (u, v) = (1.0 - self.next_f64(), self.next_f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Gamma(shape, 1) for `shape > 0`, by Marsaglia and Tsang (2000), with their boost
    /// `Gamma(a) = Gamma(a + 1) * U^(1/a)` below 1.
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let boost = (1.0 - self.next_f64()).powf(1.0 / shape);
            return self.gamma(shape + 1.0) * boost;
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = 1.0 - self.next_f64();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// Beta(a, b), as `X / (X + Y)` with `X ~ Gamma(a)`, `Y ~ Gamma(b)`.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        // Both can underflow to 0 for tiny shapes; the draw is then as likely either side.
        if x + y > 0.0 { x / (x + y) } else { 0.5 }
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_splitmix64_sequence() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut rng = SplitMix64::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
    }

    #[test]
    fn item_streams_are_reproducible_and_distinct() {
        let a = SplitMix64::for_item(0, 1, 2).next_u64();
        assert_eq!(a, SplitMix64::for_item(0, 1, 2).next_u64());
        assert_ne!(a, SplitMix64::for_item(0, 1, 3).next_u64());
        assert_ne!(a, SplitMix64::for_item(0, 2, 2).next_u64());
        assert_ne!(a, SplitMix64::for_item(1, 1, 2).next_u64());
    }

    /// Mean and variance of `n` draws.
    fn moments(n: usize, mut draw: impl FnMut() -> f64) -> (f64, f64) {
        let xs: Vec<f64> = (0..n).map(|_| draw()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        (mean, xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64)
    }

    #[test]
    fn normal_gamma_and_beta_have_their_moments() {
        // 100,000 draws: the sample mean's standard error is below 0.5% of the spread.
        let n = 100_000;
        let mut rng = SplitMix64::new(42);
        let (mean, var) = moments(n, || rng.normal());
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.03, "normal: {mean} {var}");
        for shape in [0.2, 0.4, 1.0, 3.5] {
            // Gamma(k, 1): mean k, variance k.
            let (mean, var) = moments(n, || rng.gamma(shape));
            assert!((mean - shape).abs() < 0.03 * shape.max(1.0), "gamma({shape}) mean {mean}");
            assert!((var - shape).abs() < 0.08 * shape.max(1.0), "gamma({shape}) variance {var}");
            // Beta(a, a), mixup's draw: mean 1/2, variance 1 / (4 (2a + 1)), always in [0, 1].
            let (mean, var) = moments(n, || rng.beta(shape, shape));
            let expected = 1.0 / (4.0 * (2.0 * shape + 1.0));
            assert!(
                (mean - 0.5).abs() < 0.01 && (var - expected).abs() < 0.05 * expected,
                "beta({shape}): {mean} {var}"
            );
        }
        assert!((0..10_000).map(|_| rng.beta(0.2, 0.2)).all(|x| (0.0..=1.0).contains(&x)));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut items: Vec<usize> = (0..100).collect();
        SplitMix64::new(7).shuffle(&mut items);
        assert_ne!(items, (0..100).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..100).collect::<Vec<_>>());
    }
}
