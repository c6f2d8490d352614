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

    #[test]
    fn shuffle_is_a_permutation() {
        let mut items: Vec<usize> = (0..100).collect();
        SplitMix64::new(7).shuffle(&mut items);
        assert_ne!(items, (0..100).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..100).collect::<Vec<_>>());
    }
}
