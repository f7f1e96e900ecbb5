//! The mel filter bank: triangles evenly spaced on the mel scale (HTK's formula,
//! m = 2595 log₁₀(1 + f / 700)), each peaking at 1 on its centre frequency, so that neighbouring
//! triangles sum to 1 between their centres.

/// Mels at `hz` hertz.
pub fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

/// Hertz at `mel` mels.
pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// `bands` triangular filters over the `fft_size / 2 + 1` bins of a spectrum, from 0 Hz to the
/// Nyquist frequency.
#[derive(Debug, Clone, PartialEq)]
pub struct MelBank {
    bins: usize,
    /// `bands × bins`, row-major.
    weights: Vec<f32>,
    /// Each band's total weight: how many bins' worth of power it gathers.
    widths: Vec<f32>,
}

impl MelBank {
    /// The bank, or the index of a band so narrow that no bin falls inside it (too many bands
    /// for the window size).
    pub fn new(sample_rate: u32, fft_size: usize, bands: usize) -> Result<Self, usize> {
        let bins = fft_size / 2 + 1;
        let nyquist = f64::from(sample_rate) / 2.0;
        let top = hz_to_mel(nyquist);
        let edges: Vec<f64> = (0..bands + 2)
            .map(|i| mel_to_hz(top * i as f64 / (bands + 1) as f64))
            .collect();
        let bin_hz = f64::from(sample_rate) / fft_size as f64;
        let mut weights = vec![0.0f32; bands * bins];
        for band in 0..bands {
            let (low, centre, high) = (edges[band], edges[band + 1], edges[band + 2]);
            for bin in 0..bins {
                let hz = bin as f64 * bin_hz;
                let rising = (hz - low) / (centre - low);
                let falling = (high - hz) / (high - centre);
                weights[band * bins + bin] = rising.min(falling).max(0.0) as f32;
            }
        }
        let widths: Vec<f32> = weights.chunks(bins).map(|row| row.iter().sum()).collect();
        if let Some(empty) = widths.iter().position(|&width| width <= 0.0) {
            return Err(empty);
        }
        Ok(Self {
            bins,
            weights,
            widths,
        })
    }

    pub fn bands(&self) -> usize {
        self.widths.len()
    }

    /// The power in each band of a power spectrum of `bins` values.
    pub fn apply(&self, power: &[f32]) -> Vec<f32> {
        self.weights
            .chunks(self.bins)
            .map(|row| row.iter().zip(power).map(|(w, p)| w * p).sum())
            .collect()
    }

    /// A power spectrum whose bands are `bands`, spread smoothly: each band's power per bin,
    /// interpolated between band centres by the triangles themselves.
    pub fn invert(&self, bands: &[f32]) -> Vec<f32> {
        let mut power = vec![0.0f32; self.bins];
        for ((row, &band), &width) in self.weights.chunks(self.bins).zip(bands).zip(&self.widths) {
            let density = band / width;
            for (bin, &w) in power.iter_mut().zip(row) {
                *bin += w * density;
            }
        }
        power
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_round_trips() {
        for hz in [0.0, 440.0, 1000.0, 4000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        // HTK's scale puts 1000 Hz near 1000 mels.
        assert!((hz_to_mel(1000.0) - 1000.0).abs() < 0.1);
    }

    #[test]
    fn a_flat_spectrum_stays_flat_between_the_first_and_last_centres() {
        let bank = MelBank::new(8000, 512, 32).unwrap();
        let flat = vec![1.0; 257];
        let bands = bank.apply(&flat);
        let back = bank.invert(&bands);
        // From the first band's centre (~62 Hz, bin 4) to the last's (~3.8 kHz, bin 243).
        for (bin, &power) in back.iter().enumerate().take(240).skip(8) {
            assert!((power - 1.0).abs() < 0.05, "bin {bin}: {power}");
        }
    }

    #[test]
    fn too_many_bands_for_the_window_are_refused() {
        assert_eq!(MelBank::new(8000, 64, 32), Err(0));
    }
}
