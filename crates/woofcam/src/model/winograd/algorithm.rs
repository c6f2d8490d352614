//! Winograd's minimal filtering algorithms F(m x m, 3 x 3) as their three matrices (Lavin &
//! Gray 2016): an output tile is `Y = A^T [(G g G^T) ⊙ (B^T d B)] A` for the 3x3 filter `g`
//! and the input tile `d`, the element-wise product being where the multiplications are.

/// F(M x M, 3 x 3): an input tile of `T x T` pixels (`T = M + 2`, tiles `M` apart) gives
/// `M x M` outputs from `T * T` multiplications per filter.
pub struct Algorithm<const M: usize, const T: usize> {
    /// `B^T` (`T x T`): the input tile's transform.
    pub bt: [[f32; T]; T],
    /// `G` (`T x 3`): the filter's transform.
    pub g: [[f32; 3]; T],
    /// `A^T` (`M x T`): from the products back to outputs.
    pub at: [[f32; T]; M],
}

impl<const M: usize, const T: usize> Algorithm<M, T> {
    /// Transformed values per tile and per filter.
    pub const POSITIONS: usize = T * T;

    /// `A` (`T x M`), the transpose of `A^T`: the gradient's transform (the output
    /// transform's adjoint).
    pub fn a(&self) -> [[f32; M]; T] {
        std::array::from_fn(|i| std::array::from_fn(|k| self.at[k][i]))
    }
}

/// F(2x2, 3x3), interpolation points 0, 1, -1 and infinity: 16 multiplications for 4
/// outputs. Its transforms only add and halve, so they are exact but for the halving's
/// rounding: about 1e-7 of the largest output.
pub const F2: Algorithm<2, 4> = Algorithm {
    bt: [[1., 0., -1., 0.], [0., 1., 1., 0.], [0., -1., 1., 0.], [0., 1., 0., -1.]],
    g: [[1., 0., 0.], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0., 0., 1.]],
    at: [[1., 1., 1., 0.], [0., 1., -1., -1.]],
};

/// F(4x4, 3x3), interpolation points 0, 1, -1, 2, -2 and infinity: 36 multiplications for
/// 16 outputs, 2.25 per output against F2's 4, and the transformed tiles take 2.25 values
/// per pixel against 4. Its larger coefficients (up to 8, and 1/6) cost precision: a few
/// 1e-6 of the largest output in f32, still far inside the 1e-4 the comparisons with
/// PyTorch allow.
pub const F4: Algorithm<4, 6> = Algorithm {
    bt: [
        [4., 0., -5., 0., 1., 0.],
        [0., -4., -4., 1., 1., 0.],
        [0., 4., -4., -1., 1., 0.],
        [0., -2., -1., 2., 1., 0.],
        [0., 2., -1., -2., 1., 0.],
        [0., 4., 0., -5., 0., 1.],
    ],
    g: [
        [1. / 4., 0., 0.],
        [-1. / 6., -1. / 6., -1. / 6.],
        [-1. / 6., 1. / 6., -1. / 6.],
        [1. / 24., 1. / 12., 1. / 6.],
        [1. / 24., -1. / 12., 1. / 6.],
        [0., 0., 1.],
    ],
    at: [[1., 1., 1., 1., 1., 0.], [0., 1., -1., 2., -2., 0.], [0., 1., 1., 4., 4., 0.], [0., 1., -1., 8., -8., 1.]],
};

#[cfg(test)]
mod tests {
    use super::*;

    /// `A^T [(G g) ⊙ (B^T d)]` is the 1-D correlation of `d` with `g`, exactly in real
    /// arithmetic: checked in f64 on the f32 matrices, whose only inexact entries (1/6, 1/12,
    /// 1/24) leave an error near f32's rounding.
    fn check_one_dimensional<const M: usize, const T: usize>(algorithm: &Algorithm<M, T>) {
        let d: [f64; T] = std::array::from_fn(|i| (i as f64 * 0.37 - 0.9).sin());
        let g = [0.4, -1.3, 0.7];
        let u: [f64; T] = std::array::from_fn(|i| (0..3).map(|k| algorithm.g[i][k] as f64 * g[k]).sum());
        let v: [f64; T] = std::array::from_fn(|i| (0..T).map(|k| algorithm.bt[i][k] as f64 * d[k]).sum());
        for i in 0..M {
            let y: f64 = (0..T).map(|k| algorithm.at[i][k] as f64 * u[k] * v[k]).sum();
            let expected: f64 = (0..3).map(|k| d[i + k] * g[k]).sum();
            assert!((y - expected).abs() < 1e-6, "output {i}: {y} vs {expected}");
        }
    }

    #[test]
    fn each_algorithm_computes_the_correlation() {
        check_one_dimensional(&F2);
        check_one_dimensional(&F4);
    }
}
