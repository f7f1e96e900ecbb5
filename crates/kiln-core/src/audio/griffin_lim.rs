//! A phase for a magnitude spectrogram, so that it can be heard: Griffin & Lim's alternating
//! projections, with the momentum of Perraudin et al. 2013 ("fast Griffin–Lim"), held low so
//! that the same image gives the same clip on every backend.

use realfft::num_complex::Complex32;

use super::stft::{Frame, Stft};

/// Iterations the page and the CLI run: more bring the clip no closer to its spectrogram.
pub const ITERATIONS: usize = 32;
/// Perraudin et al.'s momentum.
/// The momentum α of Perraudin et al. (who suggest 0.99). Measured on a spectrogram of these
/// settings: the re-analysed clip is as close to it at 0.5 as at 0.99, and a change of 4·10⁻⁶ in
/// the image moves the samples by at most 6·10⁻⁴ at 0.5, against 10⁻² at 0.99. The backends'
/// spectrograms differ by that much, and must give the same clip.
const MOMENTUM: f32 = 0.5;

/// `len` samples whose short-time magnitudes approximate `magnitudes` (frames of `stft.bins()`
/// values). The first estimate has zero phase, so the result depends on nothing but the input.
pub fn reconstruct(
    stft: &Stft,
    magnitudes: &[Vec<f32>],
    len: usize,
    iterations: usize,
) -> Vec<f32> {
    let frames = magnitudes.len();
    let mut estimate: Vec<Frame> = magnitudes
        .iter()
        .map(|frame| frame.iter().map(|&m| Complex32::new(m, 0.0)).collect())
        .collect();
    let mut previous: Option<Vec<Frame>> = None;
    for _ in 0..iterations {
        let projected = stft.forward(&stft.inverse(&estimate, len), frames);
        for (f, frame) in estimate.iter_mut().enumerate() {
            for (b, value) in frame.iter_mut().enumerate() {
                let now = projected[f][b];
                let accelerated = match &previous {
                    Some(previous) => now + (now - previous[f][b]) * MOMENTUM,
                    None => now,
                };
                let norm = accelerated.norm();
                let phase = if norm > 1e-12 {
                    accelerated / norm
                } else {
                    Complex32::new(1.0, 0.0)
                };
                *value = phase * magnitudes[f][b];
            }
        }
        previous = Some(projected);
    }
    stft.inverse(&estimate, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How far `signal`'s magnitudes are from `target`'s, relative to `target`'s (the "spectral
    /// convergence" that papers on phase recovery report).
    fn spectral_convergence(stft: &Stft, signal: &[f32], target: &[Vec<f32>]) -> f32 {
        let frames = stft.forward(signal, target.len());
        let (mut error, mut total) = (0.0, 0.0);
        for (frame, target) in frames.iter().zip(target) {
            for (value, &t) in frame.iter().zip(target) {
                error += (value.norm() - t).powi(2);
                total += t * t;
            }
        }
        (error / total).sqrt()
    }

    #[test]
    fn the_magnitudes_of_a_chirp_are_recovered() {
        let (rate, len) = (8000.0, 6144);
        let chirp: Vec<f32> = (0..len)
            .map(|n| {
                let t = n as f32 / rate;
                (2.0 * std::f32::consts::PI * (300.0 * t + 900.0 * t * t)).sin() * 0.5
            })
            .collect();
        let stft = Stft::new(512, 192);
        let target: Vec<Vec<f32>> = stft
            .forward(&chirp, 32)
            .iter()
            .map(|frame| frame.iter().map(|c| c.norm()).collect())
            .collect();
        let zero_phase = reconstruct(&stft, &target, len, 0);
        let recovered = reconstruct(&stft, &target, len, ITERATIONS);
        let before = spectral_convergence(&stft, &zero_phase, &target);
        let after = spectral_convergence(&stft, &recovered, &target);
        // Zero phase is far off; the recovered phase brings the magnitudes within 15 %.
        assert!(after < 0.15 && after < before / 5.0, "{before} → {after}");
    }
}
