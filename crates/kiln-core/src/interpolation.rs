//! Walks through a latent space between two codes.

/// `steps` points from `from` to `to` (both included) along the great circle between them
/// (spherical linear interpolation; Shoemake 1985, White 2016 for generative models).
///
/// A straight line between two draws from N(0, I) passes near the origin, where the prior puts
/// almost no mass in high dimensions, so its middle decodes to washed-out images; the arc keeps
/// every point at a typical distance from the origin.
///
/// Falls back to a straight line when the two codes are (anti)parallel and the arc is undefined.
///
/// # Panics
/// If `from` and `to` differ in length or `steps < 2`.
pub fn slerp_path(from: &[f32], to: &[f32], steps: usize) -> Vec<Vec<f32>> {
    assert_eq!(from.len(), to.len(), "codes of different sizes");
    assert!(steps >= 2, "a path needs at least its two ends");
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let dot: f64 = from
        .iter()
        .zip(to)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum();
    let cos = (dot / (norm(from) * norm(to))).clamp(-1.0, 1.0);
    let omega = cos.acos();
    (0..steps)
        .map(|i| {
            let t = i as f64 / (steps - 1) as f64;
            let (wa, wb) = if omega.sin().abs() < 1e-6 {
                (1.0 - t, t)
            } else {
                (
                    ((1.0 - t) * omega).sin() / omega.sin(),
                    (t * omega).sin() / omega.sin(),
                )
            };
            from.iter()
                .zip(to)
                .map(|(a, b)| (wa * f64::from(*a) + wb * f64::from(*b)) as f32)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn ends_are_the_codes_and_the_middle_keeps_the_norm() {
        let (a, b) = ([1.0f32, 0.0], [0.0f32, 1.0]);
        let path = slerp_path(&a, &b, 3);
        assert!(close(&path[0], &a) && close(&path[2], &b));
        let half = std::f32::consts::FRAC_1_SQRT_2;
        assert!(close(&path[1], &[half, half]), "{:?}", path[1]);
    }

    #[test]
    fn parallel_codes_fall_back_to_a_line() {
        let path = slerp_path(&[1.0, 1.0], &[2.0, 2.0], 3);
        assert!(close(&path[1], &[1.5, 1.5]), "{:?}", path[1]);
    }
}
