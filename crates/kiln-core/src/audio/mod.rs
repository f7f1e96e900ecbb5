//! Sound as pictures. A clip becomes its log-mel spectrogram, a square grayscale image that the
//! image models learn from and draw like any other; a drawn spectrogram becomes sound again by
//! Griffin–Lim phase recovery. Everything here is plain arithmetic over `f32` slices, so the CLI
//! and the browser turn the same image into the same samples.
//!
//! - [`stft`]: short-time Fourier transforms and their inverse (realfft).
//! - [`mel`]: the mel filter bank, and its approximate inverse.
//! - [`spectrogram`]: the settings a model's spectrograms are made with, clip ↔ image.
//! - [`griffin_lim`]: a phase for a magnitude spectrogram.

pub mod griffin_lim;
pub mod mel;
pub mod spectrogram;
pub mod stft;

pub use spectrogram::{SoundError, Spectrogram, SpectrogramSettings};
