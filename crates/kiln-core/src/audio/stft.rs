//! The short-time Fourier transform with a periodic Hann window, frames centred on multiples of
//! the hop (the signal is zero-padded by half a window at each end, as librosa's `center=True`
//! does), and its inverse by weighted overlap-add.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// One frame's spectrum: `fft_size / 2 + 1` bins from 0 Hz to the Nyquist frequency.
pub type Frame = Vec<Complex32>;

/// Transforms of one window size and hop, planned once.
#[derive(Clone)]
pub struct Stft {
    fft_size: usize,
    hop: usize,
    window: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft")
            .field("fft_size", &self.fft_size)
            .field("hop", &self.hop)
            .finish_non_exhaustive()
    }
}

impl Stft {
    /// Windows of `fft_size` samples (even), `hop` apart (1 ≤ hop ≤ fft_size).
    pub fn new(fft_size: usize, hop: usize) -> Self {
        assert!(
            fft_size >= 2 && fft_size.is_multiple_of(2),
            "even window size"
        );
        assert!((1..=fft_size).contains(&hop), "hop within the window");
        let mut planner = RealFftPlanner::new();
        let window = (0..fft_size)
            .map(|n| {
                let phase = 2.0 * std::f64::consts::PI * n as f64 / fft_size as f64;
                (0.5 - 0.5 * phase.cos()) as f32
            })
            .collect();
        Self {
            fft_size,
            hop,
            window,
            forward: planner.plan_fft_forward(fft_size),
            inverse: planner.plan_fft_inverse(fft_size),
        }
    }

    /// Frequency bins per frame.
    pub fn bins(&self) -> usize {
        self.fft_size / 2 + 1
    }

    /// The first `frames` frames of `signal`; frame `i` is centred on sample `i × hop`.
    pub fn forward(&self, signal: &[f32], frames: usize) -> Vec<Frame> {
        let mut buffer = self.forward.make_input_vec();
        let mut scratch = self.forward.make_scratch_vec();
        (0..frames)
            .map(|frame| {
                let start = (frame * self.hop) as isize - (self.fft_size / 2) as isize;
                for (n, value) in buffer.iter_mut().enumerate() {
                    let at = start + n as isize;
                    let sample = usize::try_from(at)
                        .ok()
                        .and_then(|at| signal.get(at))
                        .copied()
                        .unwrap_or(0.0);
                    *value = sample * self.window[n];
                }
                let mut spectrum = self.forward.make_output_vec();
                self.forward
                    .process_with_scratch(&mut buffer, &mut spectrum, &mut scratch)
                    .expect("buffers made by the plan");
                spectrum
            })
            .collect()
    }

    /// The `len` samples whose transform is closest to `frames` (Griffin & Lim's least-squares
    /// overlap-add); samples no window covers are zero.
    pub fn inverse(&self, frames: &[Frame], len: usize) -> Vec<f32> {
        let mut signal = vec![0.0f32; len];
        let mut weight = vec![0.0f32; len];
        let mut spectrum = self.inverse.make_input_vec();
        let mut buffer = self.inverse.make_output_vec();
        let mut scratch = self.inverse.make_scratch_vec();
        let scale = 1.0 / self.fft_size as f32;
        for (frame, bins) in frames.iter().enumerate() {
            spectrum.copy_from_slice(bins);
            // A real signal's spectrum has real DC and Nyquist bins; the inverse insists on it.
            spectrum[0].im = 0.0;
            let last = spectrum.len() - 1;
            spectrum[last].im = 0.0;
            self.inverse
                .process_with_scratch(&mut spectrum, &mut buffer, &mut scratch)
                .expect("buffers made by the plan");
            let start = (frame * self.hop) as isize - (self.fft_size / 2) as isize;
            for (n, &value) in buffer.iter().enumerate() {
                let Some(at) = usize::try_from(start + n as isize)
                    .ok()
                    .filter(|&at| at < len)
                else {
                    continue;
                };
                signal[at] += value * scale * self.window[n];
                weight[at] += self.window[n] * self.window[n];
            }
        }
        for (sample, weight) in signal.iter_mut().zip(weight) {
            if weight > 1e-6 {
                *sample /= weight;
            } else {
                *sample = 0.0;
            }
        }
        signal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frequency: f32, rate: f32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| (2.0 * std::f32::consts::PI * frequency * n as f32 / rate).sin())
            .collect()
    }

    #[test]
    fn a_tone_peaks_in_its_bin() {
        // 1 kHz at 8 kHz with 512-point windows: bin 1000 / (8000 / 512) = 64.
        let stft = Stft::new(512, 128);
        let frames = stft.forward(&tone(1000.0, 8000.0, 4096), 32);
        assert_eq!(frames.len(), 32);
        assert_eq!(frames[0].len(), 257);
        for bins in &frames[4..28] {
            let peak = (0..bins.len())
                .max_by(|&a, &b| bins[a].norm().total_cmp(&bins[b].norm()))
                .unwrap();
            assert_eq!(peak, 64);
            // A unit sine under a Hann window: |X| = N/4 at its bin.
            assert!((bins[64].norm() - 128.0).abs() < 0.5, "{}", bins[64].norm());
        }
    }

    #[test]
    fn the_inverse_gives_the_signal_back() {
        let stft = Stft::new(512, 192);
        let signal: Vec<f32> = (0..6144)
            .map(|n| ((n * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let back = stft.inverse(&stft.forward(&signal, 32), signal.len());
        // Every sample up to the last frame's centre is covered by a window.
        for (n, (a, b)) in signal.iter().zip(&back).enumerate().take(31 * 192) {
            assert!((a - b).abs() < 1e-4, "sample {n}: {a} vs {b}");
        }
    }
}
