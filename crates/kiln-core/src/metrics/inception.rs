//! Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) ‖ p(y)), high when every image is
//! confidently one class and the classes are evenly used; 1 at worst, the number of classes at
//! best.

/// Mean and standard deviation of the score over the splits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InceptionScore {
    pub mean: f64,
    pub std: f64,
}

/// The splits of the reference implementation (Salimans et al.'s code and every paper since).
pub const INCEPTION_SCORE_SPLITS: usize = 10;

/// The score of class probabilities stored one image after another (`num_classes` each), computed
/// on `splits` equal consecutive parts (a remainder of fewer than `splits` images is left out, as
/// in the reference code); the standard deviation is over the parts.
///
/// # Panics
/// If there are fewer images than splits, or `probabilities` is not a whole number of images.
pub fn inception_score(probabilities: &[f32], num_classes: usize, splits: usize) -> InceptionScore {
    assert!(
        num_classes > 0 && probabilities.len().is_multiple_of(num_classes),
        "{} values are not rows of {num_classes}",
        probabilities.len()
    );
    let images = probabilities.len() / num_classes;
    assert!(
        splits > 0 && images >= splits,
        "{images} images cannot be split {splits} ways"
    );
    let part = images / splits;
    let scores: Vec<f64> = probabilities
        .chunks_exact(part * num_classes)
        .take(splits)
        .map(|rows| split_score(rows, num_classes))
        .collect();
    let mean = scores.iter().sum::<f64>() / splits as f64;
    let variance = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / splits as f64;
    InceptionScore {
        mean,
        std: variance.sqrt(),
    }
}

fn split_score(rows: &[f32], num_classes: usize) -> f64 {
    let images = (rows.len() / num_classes) as f64;
    let mut marginal = vec![0.0; num_classes];
    for row in rows.chunks_exact(num_classes) {
        for (m, &p) in marginal.iter_mut().zip(row) {
            *m += f64::from(p) / images;
        }
    }
    let mean_kl: f64 = rows
        .chunks_exact(num_classes)
        .map(|row| {
            row.iter()
                .zip(&marginal)
                .filter(|&(&p, _)| p > 0.0)
                .map(|(&p, &m)| f64::from(p) * (f64::from(p) / m).ln())
                .sum::<f64>()
        })
        .sum::<f64>()
        / images;
    mean_kl.exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_predictions_score_one() {
        let score = inception_score(&[0.1; 10 * 50], 10, INCEPTION_SCORE_SPLITS);
        assert!(
            (score.mean - 1.0).abs() < 1e-9 && score.std < 1e-9,
            "{score:?}"
        );
    }

    #[test]
    fn confident_predictions_of_evenly_used_classes_score_the_class_count() {
        let probabilities: Vec<f32> = (0..100)
            .flat_map(|i| (0..10).map(move |c| if c == i % 10 { 1.0 } else { 0.0 }))
            .collect();
        let score = inception_score(&probabilities, 10, INCEPTION_SCORE_SPLITS);
        assert!(
            (score.mean - 10.0).abs() < 1e-9 && score.std < 1e-9,
            "{score:?}"
        );
    }

    #[test]
    fn confident_predictions_of_one_class_score_one() {
        let probabilities: Vec<f32> = (0..40).flat_map(|_| [0.0, 1.0, 0.0, 0.0]).collect();
        assert!((inception_score(&probabilities, 4, 4).mean - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_spread_is_over_the_splits() {
        // Split 1 is two confident, different classes (score 2), split 2 one class (score 1).
        let probabilities = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
        let score = inception_score(&probabilities, 2, 2);
        assert!((score.mean - 1.5).abs() < 1e-9 && (score.std - 0.5).abs() < 1e-9);
    }
}
