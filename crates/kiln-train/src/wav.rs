//! WAV files in and out (hound), and resampling between rates (rubato).

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Clips longer than this are refused before they are decoded: spoken words last about a second.
const MAX_SECONDS: u32 = 60;

/// A clip's samples in `[-1, 1]`, mixed down to mono, and its rate.
pub struct Clip {
    pub samples: Vec<f32>,
    pub rate: u32,
}

/// Read any PCM or float WAV file of up to a minute, averaging its channels.
pub fn read(path: &Path) -> Result<Clip> {
    let reading = || format!("reading {}", path.display());
    let mut reader = hound::WavReader::open(path).with_context(reading)?;
    let spec = reader.spec();
    ensure!(
        (1_000..=384_000).contains(&spec.sample_rate),
        "{} has a sample rate of {} Hz; a WAV file's is from 1000 to 384000",
        path.display(),
        spec.sample_rate
    );
    let seconds = reader.duration() / spec.sample_rate;
    ensure!(
        seconds <= MAX_SECONDS,
        "{} is {seconds} s long; clips of up to {MAX_SECONDS} s are read",
        path.display()
    );
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader.samples::<f32>().collect::<Result<_, _>>(),
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<Result<_, _>>()
        }
        (format, bits) => bail!(
            "{} holds {bits}-bit {format:?} samples, which Kiln does not read",
            path.display()
        ),
    }
    .with_context(reading)?;
    let channels = usize::from(spec.channels);
    let samples = interleaved
        .chunks_exact(channels)
        .map(|frame| {
            let mean = frame.iter().sum::<f32>() / channels as f32;
            if mean.is_finite() {
                mean.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        })
        .collect();
    Ok(Clip {
        samples,
        rate: spec.sample_rate,
    })
}

/// `samples` at `from` samples per second, resampled to `to` (band-limited, rubato's FFT
/// resampler).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .context("setting up the resampler")?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).context("resampling")?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .context("resampling")?;
    Ok(output.take_data())
}

/// `samples` (in [-1, 1]) as a mono 16-bit WAV file at `rate`.
pub fn write(path: &Path, samples: &[f32], rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let write = || -> Result<(), hound::Error> {
        let mut writer = hound::WavWriter::create(path, spec)?;
        for &sample in samples {
            writer.write_sample((sample.clamp(-1.0, 1.0) * 32_767.0).round() as i16)?;
        }
        writer.finalize()
    };
    write().with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_a_tone_and_its_duration() {
        // A second of 440 Hz at 22,050 Hz becomes a second of it at 8,000 Hz.
        let tone: Vec<f32> = (0..22_050)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 22_050.0).sin() * 0.5)
            .collect();
        let out = resample(&tone, 22_050, 8_000).unwrap();
        assert!(
            (out.len() as i64 - 8_000).abs() <= 2,
            "{} samples",
            out.len()
        );
        // Away from the edges: the same loudness (RMS 0.5/√2) and pitch (880 sign changes a
        // second).
        let middle = &out[1_000..7_000];
        let rms = (middle.iter().map(|s| s * s).sum::<f32>() / middle.len() as f32).sqrt();
        assert!((rms - 0.5 / 2f32.sqrt()).abs() < 0.005, "RMS {rms}");
        let crossings = middle
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        assert!(
            (658..=662).contains(&crossings),
            "{crossings} sign changes in 0.75 s"
        );
    }

    #[test]
    fn every_sample_format_reads_as_mono_in_range() {
        let dir = tempfile::tempdir().unwrap();
        let formats = [
            (hound::SampleFormat::Int, 8),
            (hound::SampleFormat::Int, 16),
            (hound::SampleFormat::Int, 24),
            (hound::SampleFormat::Int, 32),
            (hound::SampleFormat::Float, 32),
        ];
        for (format, bits) in formats {
            let path = dir.path().join(format!("{bits}-{format:?}.wav"));
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: 16_000,
                bits_per_sample: bits,
                sample_format: format,
            };
            let mut writer = hound::WavWriter::create(&path, spec).unwrap();
            // Left at half scale, right at a quarter: the mix is 3/8.
            for _ in 0..100 {
                match format {
                    hound::SampleFormat::Float => {
                        writer.write_sample(0.5f32).unwrap();
                        writer.write_sample(0.25f32).unwrap();
                    }
                    hound::SampleFormat::Int => {
                        let full = 1i64 << (bits - 1);
                        writer.write_sample((full / 2) as i32).unwrap();
                        writer.write_sample((full / 4) as i32).unwrap();
                    }
                }
            }
            writer.finalize().unwrap();
            let clip = read(&path).unwrap();
            assert_eq!((clip.rate, clip.samples.len()), (16_000, 100));
            assert!(
                clip.samples.iter().all(|s| (s - 0.375).abs() < 0.01),
                "{bits}-bit {format:?}: {}",
                clip.samples[0]
            );
        }
    }

    #[test]
    fn damaged_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("3_x_0.wav");
        std::fs::write(&path, b"RIFF\x10\0\0\0WAVEfmt nonsense").unwrap();
        let error = format!("{:#}", read(&path).err().unwrap());
        assert!(
            error.starts_with(&format!("reading {}", path.display())),
            "{error}"
        );
    }
}
