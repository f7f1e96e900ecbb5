//! The Fréchet distance between two sets of features, each summarised as a Gaussian (Heusel et
//! al. 2017, "FID"): ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½).

use nalgebra::{DMatrix, DVector};

/// Mean and covariance of a set of feature vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureStatistics {
    pub mean: DVector<f64>,
    pub covariance: DMatrix<f64>,
}

impl FeatureStatistics {
    /// Statistics of feature vectors of length `dim`, stored one after another in `rows`. The
    /// covariance is the unbiased estimate (divided by n − 1), as in the reference FID code.
    ///
    /// # Panics
    /// If there are fewer than two vectors, or `rows` is not a whole number of them.
    pub fn from_rows(rows: &[f32], dim: usize) -> Self {
        assert!(
            dim > 0 && rows.len().is_multiple_of(dim),
            "{} values are not rows of {dim}",
            rows.len()
        );
        let count = rows.len() / dim;
        assert!(
            count >= 2,
            "a covariance needs two or more vectors, got {count}"
        );
        let features = DMatrix::from_row_iterator(count, dim, rows.iter().map(|&v| f64::from(v)));
        let mean = features.row_mean().transpose();
        let centred = DMatrix::from_fn(count, dim, |i, j| features[(i, j)] - mean[j]);
        let covariance = centred.tr_mul(&centred) / (count - 1) as f64;
        Self { mean, covariance }
    }
}

/// The Fréchet distance between the Gaussians `a` and `b`; 0 for identical statistics.
///
/// The matrix square roots come from symmetric eigen-decompositions (eigenvalues that rounding
/// pushed below zero count as zero), which stays exact where Σ₁ and Σ₂ do not commute and, unlike
/// an iterative square root of the non-symmetric Σ₁Σ₂, never returns complex parts to discard.
///
/// # Panics
/// If the two statistics have different dimensions.
pub fn frechet_distance(a: &FeatureStatistics, b: &FeatureStatistics) -> f64 {
    assert_eq!(a.mean.len(), b.mean.len(), "features of different sizes");
    let root_a = psd_square_root(&a.covariance);
    let middle = &root_a * &b.covariance * &root_a;
    // Symmetric in exact arithmetic; make it so in floating point before the eigen-solver.
    let middle = (&middle + middle.transpose()) * 0.5;
    let trace_of_root: f64 = middle
        .symmetric_eigenvalues()
        .iter()
        .map(|&l| l.max(0.0).sqrt())
        .sum();
    let distance = (&a.mean - &b.mean).norm_squared() + a.covariance.trace() - 2.0 * trace_of_root
        + b.covariance.trace();
    distance.max(0.0)
}

/// The symmetric square root of a positive semi-definite matrix.
fn psd_square_root(matrix: &DMatrix<f64>) -> DMatrix<f64> {
    let eigen = matrix.clone().symmetric_eigen();
    let roots = eigen.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eigen.eigenvectors * DMatrix::from_diagonal(&roots) * eigen.eigenvectors.transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian(mean: &[f64], covariance: &[f64]) -> FeatureStatistics {
        let dim = mean.len();
        FeatureStatistics {
            mean: DVector::from_column_slice(mean),
            covariance: DMatrix::from_row_slice(dim, dim, covariance),
        }
    }

    #[test]
    fn statistics_are_the_mean_and_unbiased_covariance() {
        let stats = FeatureStatistics::from_rows(&[1.0, 0.0, 3.0, 2.0, 5.0, 1.0], 2);
        assert_eq!(stats.mean.as_slice(), &[3.0, 1.0]);
        // Deviations (−2, −1), (0, 1), (2, 0), divided by n − 1 = 2.
        assert_eq!(stats.covariance.as_slice(), &[4.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn a_set_is_at_distance_zero_from_itself() {
        let rows: Vec<f32> = (0..300).map(|i| ((i * 37) % 101) as f32 / 7.0).collect();
        let stats = FeatureStatistics::from_rows(&rows, 3);
        assert!(frechet_distance(&stats, &stats) < 1e-9);
    }

    #[test]
    fn diagonal_gaussians_match_the_closed_form() {
        // Σ (σ₁ − σ₂)² over the standard deviations, plus the squared mean distance.
        let a = gaussian(&[0.0, 1.0], &[4.0, 0.0, 0.0, 1.0]);
        let b = gaussian(&[3.0, 1.0], &[1.0, 0.0, 0.0, 9.0]);
        let expected = 9.0 + (2.0_f64 - 1.0).powi(2) + (1.0_f64 - 3.0).powi(2);
        assert!((frechet_distance(&a, &b) - expected).abs() < 1e-9);
    }

    #[test]
    fn non_commuting_covariances_match_the_two_by_two_closed_form() {
        // For 2×2 positive definite M, tr √M = √(tr M + 2 √det M); with M = Σ₁^½ Σ₂ Σ₁^½ that is
        // √(tr Σ₁Σ₂ + 2 √(det Σ₁ det Σ₂)).
        let (s1, s2) = ([2.0, 1.0, 1.0, 3.0], [1.0, -0.5, -0.5, 2.0]);
        let a = gaussian(&[1.0, 2.0], &s1);
        let b = gaussian(&[0.0, 0.0], &s2);
        let trace_product = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
        let det = |m: [f64; 4]| m[0] * m[3] - m[1] * m[2];
        let trace_of_root = (trace_product + 2.0 * (det(s1) * det(s2)).sqrt()).sqrt();
        let expected = 5.0 + (s1[0] + s1[3]) + (s2[0] + s2[3]) - 2.0 * trace_of_root;
        assert!((frechet_distance(&a, &b) - expected).abs() < 1e-9);
        assert!(
            (frechet_distance(&b, &a) - expected).abs() < 1e-9,
            "symmetric"
        );
    }
}
