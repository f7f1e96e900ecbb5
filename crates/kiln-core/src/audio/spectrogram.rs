//! The settings a sound model's spectrograms are made with, and the two directions: a clip to a
//! square log-mel image in `[0, 1]`, and such an image back to a clip.
//!
//! The image has one row per mel band, highest first (as spectrograms are drawn), and one column
//! per frame. Its loudest point is 1 and [`SpectrogramSettings::range_db`] below it is 0, so that
//! loud and quiet recordings of a word look alike; the sound made from an image is scaled to a
//! fixed peak.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::griffin_lim;
use super::mel::MelBank;
use super::stft::Stft;
use crate::data::dataset::ImageShape;

/// The peak of the sound made from an image, of full scale.
const PEAK: f32 = 0.9;

#[derive(Debug, Error, PartialEq)]
pub enum SoundError {
    #[error("invalid spectrogram settings: {0}")]
    Settings(String),
    #[error("a {shape} image is not a spectrogram of {bands} bands by {bands} frames")]
    Image { shape: ImageShape, bands: usize },
}

/// How clips become images: the same for a model's training data, its judge and its samples,
/// so it is stored with the run and in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpectrogramSettings {
    /// Samples per second of the clips (others are resampled to it).
    pub sample_rate: u32,
    /// Samples per analysis window (a power of two).
    pub fft_size: usize,
    /// Samples between frames.
    pub hop: usize,
    /// Mel bands, and frames: the image's side.
    pub bands: usize,
    /// Decibels below the loudest point that the image still tells apart.
    pub range_db: f32,
}

impl SpectrogramSettings {
    /// Spoken digits: 8 kHz, 64 ms windows every 24 ms, 32 bands × 32 frames (0.77 s).
    pub const SPOKEN_DIGITS: Self = Self {
        sample_rate: 8000,
        fft_size: 512,
        hop: 192,
        bands: 32,
        range_db: 80.0,
    };

    /// Samples in a clip: one hop per frame.
    pub fn clip_len(&self) -> usize {
        self.hop * self.bands
    }

    /// The images these settings make.
    pub fn image_shape(&self) -> ImageShape {
        ImageShape {
            channels: 1,
            side: self.bands,
        }
    }

    /// Check every size, as a hand-edited manifest or run could set them.
    pub fn validate(&self) -> Result<(), SoundError> {
        let invalid = |why: String| Err(SoundError::Settings(why));
        if !(4_000..=48_000).contains(&self.sample_rate) {
            return invalid(format!(
                "sample_rate must be from 4000 to 48000, got {}",
                self.sample_rate
            ));
        }
        if !self.fft_size.is_power_of_two() || !(64..=4096).contains(&self.fft_size) {
            return invalid(format!(
                "fft_size must be a power of two from 64 to 4096, got {}",
                self.fft_size
            ));
        }
        if !(1..=self.fft_size).contains(&self.hop) {
            return invalid(format!(
                "hop must be from 1 to fft_size ({}), got {}",
                self.fft_size, self.hop
            ));
        }
        if !(8..=128).contains(&self.bands) {
            return invalid(format!("bands must be from 8 to 128, got {}", self.bands));
        }
        if !(self.range_db.is_finite() && (10.0..=160.0).contains(&self.range_db)) {
            return invalid(format!(
                "range_db must be from 10 to 160, got {}",
                self.range_db
            ));
        }
        Ok(())
    }
}

/// Spectrograms of one setting, with the transforms planned once.
#[derive(Debug, Clone)]
pub struct Spectrogram {
    settings: SpectrogramSettings,
    stft: Stft,
    bank: MelBank,
}

impl Spectrogram {
    pub fn new(settings: SpectrogramSettings) -> Result<Self, SoundError> {
        settings.validate()?;
        let bank =
            MelBank::new(settings.sample_rate, settings.fft_size, settings.bands).map_err(|band| {
                SoundError::Settings(format!(
                    "{} bands are too many for {}-sample windows: band {band} holds no frequency bin",
                    settings.bands, settings.fft_size
                ))
            })?;
        Ok(Self {
            settings,
            stft: Stft::new(settings.fft_size, settings.hop),
            bank,
        })
    }

    pub fn settings(&self) -> &SpectrogramSettings {
        &self.settings
    }

    /// `samples` centred in a clip of [`SpectrogramSettings::clip_len`] samples: zeros around a
    /// shorter one, the middle of a longer one.
    pub fn fit(&self, samples: &[f32]) -> Vec<f32> {
        let len = self.settings.clip_len();
        let mut clip = vec![0.0; len];
        if samples.len() <= len {
            let start = (len - samples.len()) / 2;
            clip[start..start + samples.len()].copy_from_slice(samples);
        } else {
            let start = (samples.len() - len) / 2;
            clip.copy_from_slice(&samples[start..start + len]);
        }
        clip
    }

    /// The log-mel image of `samples` (fitted to the clip length first): `bands × bands`
    /// intensities in `[0, 1]`, row-major, highest band first. Silence is all zeros.
    pub fn image(&self, samples: &[f32]) -> Vec<f32> {
        let bands = self.settings.bands;
        let frames = self.stft.forward(&self.fit(samples), bands);
        // decibels[frame][band]
        let decibels: Vec<Vec<f32>> = frames
            .iter()
            .map(|frame| {
                let power: Vec<f32> = frame.iter().map(|c| c.norm_sqr()).collect();
                self.bank
                    .apply(&power)
                    .into_iter()
                    .map(|p| 10.0 * p.max(1e-20).log10())
                    .collect()
            })
            .collect();
        let loudest = decibels.iter().flatten().copied().fold(f32::MIN, f32::max);
        let floor = loudest - self.settings.range_db;
        let mut image = vec![0.0; bands * bands];
        if loudest <= -190.0 {
            return image;
        }
        for (frame, column) in decibels.iter().enumerate() {
            for (band, &db) in column.iter().enumerate() {
                let row = bands - 1 - band;
                image[row * bands + frame] =
                    ((db - floor) / self.settings.range_db).clamp(0.0, 1.0);
            }
        }
        image
    }

    /// A clip whose spectrogram is `image` (as [`Spectrogram::image`] lays it out), its phase
    /// recovered by `iterations` of Griffin–Lim, scaled to a fixed peak.
    pub fn sound(&self, image: &[f32], iterations: usize) -> Result<Vec<f32>, SoundError> {
        let bands = self.settings.bands;
        if image.len() != bands * bands {
            return Err(SoundError::Image {
                shape: ImageShape {
                    channels: 1,
                    side: image.len().isqrt(),
                },
                bands,
            });
        }
        let magnitudes: Vec<Vec<f32>> = (0..bands)
            .map(|frame| {
                let band_power: Vec<f32> = (0..bands)
                    .map(|band| {
                        let value = image[(bands - 1 - band) * bands + frame].clamp(0.0, 1.0);
                        10f32.powf((value - 1.0) * self.settings.range_db / 10.0)
                    })
                    .collect();
                self.bank
                    .invert(&band_power)
                    .into_iter()
                    .map(f32::sqrt)
                    .collect()
            })
            .collect();
        let mut clip = griffin_lim::reconstruct(
            &self.stft,
            &magnitudes,
            self.settings.clip_len(),
            iterations,
        );
        let peak = clip.iter().fold(0.0f32, |peak, s| peak.max(s.abs()));
        if peak > 0.0 {
            clip.iter_mut().for_each(|s| *s *= PEAK / peak);
        }
        Ok(clip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoken_digits() -> Spectrogram {
        Spectrogram::new(SpectrogramSettings::SPOKEN_DIGITS).unwrap()
    }

    /// A `hz` tone for `len` samples at 8 kHz.
    fn tone(hz: f32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| (2.0 * std::f32::consts::PI * hz * n as f32 / 8000.0).sin() * 0.3)
            .collect()
    }

    /// The row of the loudest band in column `frame`.
    fn loudest_row(image: &[f32], frame: usize) -> usize {
        (0..32)
            .max_by(|&a, &b| image[a * 32 + frame].total_cmp(&image[b * 32 + frame]))
            .unwrap()
    }

    /// The band whose triangle peaks nearest `hz`, as a row of the image.
    fn row_of(hz: f64) -> usize {
        let top = super::super::mel::hz_to_mel(4000.0);
        let band = (super::super::mel::hz_to_mel(hz) / top * 33.0).round() as usize - 1;
        31 - band
    }

    #[test]
    fn a_tone_lights_its_band_across_the_clip() {
        let spectrogram = spoken_digits();
        let image = spectrogram.image(&tone(1000.0, 6144));
        assert_eq!(image.len(), 32 * 32);
        let row = row_of(1000.0);
        for frame in 2..30 {
            assert_eq!(loudest_row(&image, frame), row, "frame {frame}");
            assert!(image[row * 32 + frame] > 0.99);
        }
        assert!(image.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn a_short_clip_is_centred_and_silence_is_black() {
        let spectrogram = spoken_digits();
        assert!(spectrogram.image(&[0.0; 100]).iter().all(|&v| v == 0.0));
        // 0.25 s of tone in the middle: the first and last frames are silent.
        let image = spectrogram.image(&tone(500.0, 2000));
        let column = |frame: usize| {
            (0..32)
                .map(|row| image[row * 32 + frame])
                .fold(0.0, f32::max)
        };
        assert_eq!(column(0), 0.0);
        assert_eq!(column(31), 0.0);
        assert!(column(16) > 0.99);
    }

    #[test]
    fn the_sound_of_a_tone_image_is_the_tone() {
        let spectrogram = spoken_digits();
        let image = spectrogram.image(&tone(1000.0, 6144));
        let sound = spectrogram.sound(&image, griffin_lim::ITERATIONS).unwrap();
        assert_eq!(sound.len(), 6144);
        let peak = sound.iter().fold(0.0f32, |peak, s| peak.max(s.abs()));
        assert!((peak - PEAK).abs() < 1e-6);
        // Its dominant frequency, counted by upward zero crossings over the steady middle.
        let middle = &sound[1024..5120];
        let crossings = middle
            .windows(2)
            .filter(|pair| pair[0] < 0.0 && pair[1] >= 0.0)
            .count();
        let hz = crossings as f32 / (middle.len() as f32 / 8000.0);
        assert!((hz - 1000.0).abs() < 40.0, "{hz} Hz");
        // And its spectrogram is the image it came from.
        let again = spectrogram.image(&sound);
        let row = row_of(1000.0);
        for frame in 2..30 {
            assert_eq!(loudest_row(&again, frame), row, "frame {frame}");
        }
        // Within 3 dB wherever the tone is (away from the clip's ends, where its windows are
        // cut); the bands beside it hear some of it, as the mel bank's inverse spreads a band's
        // power over its triangle, but stay below it.
        for frame in 2..30 {
            for band in [row, row - 1] {
                let (was, now) = (image[band * 32 + frame], again[band * 32 + frame]);
                assert!(
                    (was - now).abs() * 80.0 < 3.0,
                    "row {band}, frame {frame}: {was} → {now}"
                );
            }
            for side in [row - 2, row + 1] {
                assert!(again[side * 32 + frame] < again[row * 32 + frame] - 0.05);
            }
        }
    }

    #[test]
    fn bad_settings_and_images_are_refused() {
        let settings = SpectrogramSettings::SPOKEN_DIGITS;
        for bad in [
            SpectrogramSettings {
                sample_rate: 100,
                ..settings
            },
            SpectrogramSettings {
                fft_size: 500,
                ..settings
            },
            SpectrogramSettings { hop: 0, ..settings },
            SpectrogramSettings {
                bands: 4,
                ..settings
            },
            SpectrogramSettings {
                range_db: f32::NAN,
                ..settings
            },
        ] {
            assert!(matches!(
                Spectrogram::new(bad),
                Err(SoundError::Settings(_))
            ));
        }
        let narrow = SpectrogramSettings {
            fft_size: 64,
            hop: 32,
            ..settings
        };
        let error = Spectrogram::new(narrow).unwrap_err().to_string();
        assert!(error.contains("too many"), "{error}");
        let error = spoken_digits().sound(&[0.5; 784], 1).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a 28×28 grayscale image is not a spectrogram of 32 bands by 32 frames"
        );
    }
}
