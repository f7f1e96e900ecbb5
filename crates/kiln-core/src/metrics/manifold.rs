//! Precision and recall of a generative model (Kynkäänniemi et al. 2019): the data manifold is
//! the union of balls around each real feature vector reaching to its k-th nearest real
//! neighbour. Precision is the share of generated vectors inside the real manifold (are the
//! samples realistic?), recall the share of real vectors inside the generated one (does the
//! model cover the data?).

use nalgebra::DMatrix;

/// The neighbourhood size of the paper.
pub const MANIFOLD_NEIGHBOURS: usize = 3;

/// Rows of the distance matrix computed at once: bounds memory to `CHUNK × n` distances.
const CHUNK: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrecisionRecall {
    pub precision: f64,
    pub recall: f64,
}

/// Precision and recall of `generated` against `real`, feature vectors of length `dim` stored
/// one after another, with manifolds of `k` neighbours.
///
/// # Panics
/// If either set has `k` or fewer vectors, or is not a whole number of vectors.
pub fn precision_recall(real: &[f32], generated: &[f32], dim: usize, k: usize) -> PrecisionRecall {
    let real = rows(real, dim, k);
    let generated = rows(generated, dim, k);
    let real_radii = neighbour_radii(&real, k);
    let generated_radii = neighbour_radii(&generated, k);
    PrecisionRecall {
        precision: share_covered(&generated, &real, &real_radii),
        recall: share_covered(&real, &generated, &generated_radii),
    }
}

fn rows(values: &[f32], dim: usize, k: usize) -> DMatrix<f32> {
    assert!(
        dim > 0 && values.len().is_multiple_of(dim),
        "{} values are not rows of {dim}",
        values.len()
    );
    let count = values.len() / dim;
    assert!(count > k, "{count} vectors have no {k} neighbours each");
    DMatrix::from_row_slice(count, dim, values)
}

/// Squared distance from each point to its k-th nearest other point.
fn neighbour_radii(points: &DMatrix<f32>, k: usize) -> Vec<f32> {
    let mut radii = Vec::with_capacity(points.nrows());
    for_each_distance_row(points, points, |mut distances| {
        // Index 0 is the point itself (distance 0), so index k is the k-th neighbour.
        let (_, kth, _) = distances.select_nth_unstable_by(k, f32::total_cmp);
        radii.push(*kth);
    });
    radii
}

/// The share of `queries` inside at least one ball around `centres`.
fn share_covered(queries: &DMatrix<f32>, centres: &DMatrix<f32>, radii: &[f32]) -> f64 {
    let mut covered = 0;
    for_each_distance_row(queries, centres, |distances| {
        if distances.iter().zip(radii).any(|(d, r)| d <= r) {
            covered += 1;
        }
    });
    covered as f64 / queries.nrows() as f64
}

/// Call `visit` with the squared distances from each row of `from` to every row of `to`,
/// computed blockwise as ‖a‖² + ‖b‖² − 2 a·b with one matrix product per block.
fn for_each_distance_row(from: &DMatrix<f32>, to: &DMatrix<f32>, mut visit: impl FnMut(Vec<f32>)) {
    let to_norms: Vec<f32> = to.row_iter().map(|row| row.norm_squared()).collect();
    for start in (0..from.nrows()).step_by(CHUNK) {
        let block = from.rows(start, CHUNK.min(from.nrows() - start));
        let products = block * to.transpose();
        for (i, row) in block.row_iter().enumerate() {
            let norm = row.norm_squared();
            let distances = products
                .row(i)
                .iter()
                .zip(&to_norms)
                .map(|(p, n)| (norm + n - 2.0 * p).max(0.0))
                .collect();
            visit(distances);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `side × side` grid of 2-d points spaced 1 apart from `origin`.
    fn grid(origin: (f32, f32), side: usize) -> Vec<f32> {
        (0..side * side)
            .flat_map(|i| [origin.0 + (i / side) as f32, origin.1 + (i % side) as f32])
            .collect()
    }

    #[test]
    fn a_set_has_full_precision_and_recall_against_itself() {
        let points = grid((0.0, 0.0), 8);
        let score = precision_recall(&points, &points, 2, MANIFOLD_NEIGHBOURS);
        assert_eq!(
            score,
            PrecisionRecall {
                precision: 1.0,
                recall: 1.0
            }
        );
    }

    #[test]
    fn distant_sets_share_nothing() {
        let score = precision_recall(&grid((0.0, 0.0), 8), &grid((50.0, 0.0), 8), 2, 3);
        assert_eq!(
            score,
            PrecisionRecall {
                precision: 0.0,
                recall: 0.0
            }
        );
    }

    #[test]
    fn a_model_that_covers_one_of_two_modes_is_precise_with_half_the_recall() {
        let real = [grid((0.0, 0.0), 8), grid((100.0, 100.0), 8)].concat();
        // Slightly off the real grid, inside its balls, and only around the first mode.
        let generated = grid((0.3, 0.2), 8);
        let score = precision_recall(&real, &generated, 2, MANIFOLD_NEIGHBOURS);
        assert_eq!(
            score,
            PrecisionRecall {
                precision: 1.0,
                recall: 0.5
            }
        );
    }

    #[test]
    fn blocks_give_the_same_radii_as_one_pass() {
        // More points than one block, so the blockwise distances are exercised.
        let points = grid((0.0, 0.0), 40);
        let radii = neighbour_radii(&rows(&points, 2, 3), 3);
        assert_eq!(radii.len(), 1600);
        // On a unit grid the third neighbour is at distance 1 (inside) or √2 (a corner).
        assert!(radii.iter().all(|&r| r == 1.0 || r == 2.0), "{radii:?}");
        assert_eq!(radii[0], 2.0);
        assert_eq!(radii[41], 1.0);
    }
}
