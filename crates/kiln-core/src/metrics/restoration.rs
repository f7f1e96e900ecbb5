//! How close a restoration comes to the original.

/// Peak signal-to-noise ratio in dB of intensities in [0, 1] (peak 1) whose mean squared error
/// is `mse`: 10 · log₁₀(1 / mse), infinite for a perfect restoration.
pub fn psnr(mse: f64) -> f64 {
    -10.0 * mse.log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenfold_drop_in_error_adds_ten_decibels() {
        assert_eq!(psnr(1.0), 0.0);
        assert!((psnr(0.01) - 20.0).abs() < 1e-12);
        assert!((psnr(0.001) - 30.0).abs() < 1e-12);
        assert_eq!(psnr(0.0), f64::INFINITY);
    }
}
