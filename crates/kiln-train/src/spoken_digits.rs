//! A spoken-digit corpus made offline with a speech synthesiser, laid out as the Free Spoken
//! Digit Dataset is (`{digit}_{speaker}_{index}.wav`, mono 16-bit PCM), so that what reads one
//! reads the other. Every English voice of `espeak-ng` with every voice variant is a speaker;
//! each take draws its own pitch, rate and a little background noise. A seeded share of the
//! speakers goes to `test/`, so the held-out clips are of voices training never heard.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use rand::RngExt;
use rand::seq::SliceRandom;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::cli::SpokenDigitsArgs;
use crate::progress;

/// The synthesiser the corpus is spoken with.
const SYNTHESISER: &str = "espeak-ng";
/// The words for 0–9.
const WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
/// Pitch (espeak-ng's 0–99) and rate (words per minute) each take draws from.
const PITCHES: std::ops::RangeInclusive<u32> = 25..=75;
const RATES: std::ops::RangeInclusive<u32> = 130..=200;
/// Samples quieter than this (of full scale) at either end of a clip are cut, as FSDD's
/// recordings are trimmed to the word.
const SILENCE: f32 = 0.01;

/// One voice of the synthesiser: a language voice with a variant.
#[derive(Debug, Clone, PartialEq)]
struct Speaker {
    /// What `espeak-ng -v` takes, e.g. `gmw/en-US+Alex`.
    voice: String,
    /// The name in file names: lower case, no underscores, e.g. `en-us-alex`.
    name: String,
}

/// How many clips were written, to the training and the held-out folders, by how many speakers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Written {
    pub train: usize,
    pub test: usize,
    pub speakers: usize,
    pub held_out_speakers: usize,
}

/// Speak every digit `takes` times in the voice of every speaker, into `options.out` and its
/// `test/` folder.
pub fn make_corpus(options: &SpokenDigitsArgs) -> Result<Written> {
    ensure!(
        (4_000..=48_000).contains(&options.rate),
        "--rate must be from 4000 to 48000 samples per second, got {}",
        options.rate
    );
    ensure!(
        (1..=100).contains(&options.takes),
        "--takes must be from 1 to 100, got {}",
        options.takes
    );
    ensure!(
        (0.0..1.0).contains(&options.test_share),
        "--test-share must be at least 0 and below 1, got {}",
        options.test_share
    );
    ensure!(
        (0.0..=0.1).contains(&options.noise),
        "--noise must be from 0 to 0.1 of full scale, got {}",
        options.noise
    );
    let mut speakers = list_speakers()?;
    let mut rng = kiln_core::noise::rng(options.seed);
    speakers.shuffle(&mut rng);
    speakers.truncate(options.speakers.unwrap_or(usize::MAX));
    ensure!(!speakers.is_empty(), "--speakers must be at least 1");
    let held_out = ((speakers.len() as f64 * options.test_share).round() as usize)
        .min(speakers.len() - 1)
        .max(usize::from(options.test_share > 0.0 && speakers.len() > 1));
    let test_dir = options.out.join("test");
    for dir in [&options.out, &test_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let scratch = tempfile::tempdir().context("creating a scratch folder")?;
    let bar = progress::bar(
        (speakers.len() * options.takes * WORDS.len()) as u64,
        "clips".into(),
    );
    let mut written = Written {
        train: 0,
        test: 0,
        speakers: speakers.len(),
        held_out_speakers: held_out,
    };
    for (i, speaker) in speakers.iter().enumerate() {
        let held = i < held_out;
        let dir = if held { &test_dir } else { &options.out };
        for take in 0..options.takes {
            let pitch = rng.random_range(PITCHES);
            let rate = rng.random_range(RATES);
            for (digit, word) in WORDS.iter().enumerate() {
                let wav = scratch.path().join("clip.wav");
                speak(speaker, word, pitch, rate, &wav)?;
                let (samples, source_rate) = read_wav(&wav)?;
                let mut clip = resample(&trim(&samples), source_rate, options.rate)?;
                let noise = kiln_core::noise::standard_normal_values(rng.random(), clip.len());
                for (sample, noise) in clip.iter_mut().zip(noise) {
                    *sample = (*sample + options.noise * noise).clamp(-1.0, 1.0);
                }
                let name = format!("{digit}_{}_{take}.wav", speaker.name);
                write_wav(&dir.join(name), &clip, options.rate)?;
                if held {
                    written.test += 1;
                } else {
                    written.train += 1;
                }
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    Ok(written)
}

/// Every English voice of the synthesiser with every variant.
fn list_speakers() -> Result<Vec<Speaker>> {
    let voices = column_of(&run_synthesiser(&["--voices=en"])?, |file| {
        file.strip_prefix("gmw/").map(|_| file.to_owned())
    });
    let variants = column_of(&run_synthesiser(&["--voices=variant"])?, |file| {
        file.strip_prefix("!v/").map(str::to_owned)
    });
    ensure!(
        !voices.is_empty() && !variants.is_empty(),
        "{SYNTHESISER} lists no English voice or no variant (`{SYNTHESISER} --voices=en`)"
    );
    Ok(voices
        .iter()
        .flat_map(|voice| {
            variants.iter().map(move |variant| Speaker {
                voice: format!("{voice}+{variant}"),
                name: file_name_part(&format!("{}-{variant}", voice.trim_start_matches("gmw/"))),
            })
        })
        .collect())
}

/// The `File` column (the fifth) of `espeak-ng --voices` output, kept where `keep` maps it.
fn column_of(listing: &str, keep: impl Fn(&str) -> Option<String>) -> Vec<String> {
    listing
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(4))
        .filter_map(keep)
        .collect()
}

/// `text` in lower case with anything but letters, digits and '-' as '-': FSDD's file names
/// split on '_'.
fn file_name_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The synthesiser's standard output for `args`; a clear error if it is not installed.
fn run_synthesiser(args: &[&str]) -> Result<String> {
    let output = match Command::new(SYNTHESISER).args(args).output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "no speech synthesiser: `kiln data spoken-digits` speaks with {SYNTHESISER}; \
             install it (Debian: apt-get install espeak-ng)"
        ),
        Err(error) => return Err(error).context(format!("running {SYNTHESISER}")),
    };
    ensure!(
        output.status.success(),
        "{SYNTHESISER} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `word` spoken by `speaker` at `pitch` and `rate` into the WAV file `out`.
fn speak(speaker: &Speaker, word: &str, pitch: u32, rate: u32, out: &Path) -> Result<()> {
    let (pitch, rate) = (pitch.to_string(), rate.to_string());
    let out = out.to_string_lossy();
    run_synthesiser(&[
        "-v",
        &speaker.voice,
        "-p",
        &pitch,
        "-s",
        &rate,
        "-w",
        &out,
        word,
    ])
    .with_context(|| format!("speaking {word:?} as {}", speaker.voice))?;
    Ok(())
}

/// A mono 16-bit WAV file's samples in [-1, 1] and its rate.
fn read_wav(path: &Path) -> Result<(Vec<f32>, u32)> {
    let mut reader =
        hound::WavReader::open(path).with_context(|| format!("reading {}", path.display()))?;
    let spec = reader.spec();
    ensure!(
        spec.channels == 1 && spec.bits_per_sample == 16,
        "{} is not mono 16-bit audio",
        path.display()
    );
    let samples = reader
        .samples::<i16>()
        .map(|s| s.map(|s| f32::from(s) / 32_768.0))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((samples, spec.sample_rate))
}

/// `samples` without the quiet stretches at either end.
fn trim(samples: &[f32]) -> Vec<f32> {
    let loud = |s: &&f32| s.abs() > SILENCE;
    let start = samples.iter().position(|s| loud(&s)).unwrap_or(0);
    let end = samples
        .iter()
        .rposition(|s| loud(&s))
        .map_or(start, |i| i + 1);
    samples[start..end].to_vec()
}

/// `samples` at `from` samples per second, resampled to `to` (band-limited, rubato's FFT
/// resampler).
fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
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
fn write_wav(path: &Path, samples: &[f32], rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let write = || -> Result<(), hound::Error> {
        let mut writer = hound::WavWriter::create(path, spec)?;
        for &sample in samples {
            writer.write_sample((sample * 32_767.0).round() as i16)?;
        }
        writer.finalize()
    };
    write().with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_fsdd_file_names_and_silence_is_trimmed() {
        assert_eq!(file_name_part("en-GB-x-rp-Alex_2"), "en-gb-x-rp-alex-2");
        assert_eq!(trim(&[0.0, 0.001, 0.5, -0.2, 0.0]), vec![0.5, -0.2]);
        assert!(trim(&[0.0; 4]).is_empty());
    }

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
    fn voice_listings_are_read_by_their_file_column() {
        let listing = "Pty Language Age/Gender VoiceName File Other Languages\n \
                       2  en-gb --/M English_(Great_Britain) gmw/en (en 2)\n \
                       5  en-us --/M us-mbrola-2 mb/mb-us2 (en 7)\n";
        let voices = column_of(listing, |file| {
            file.strip_prefix("gmw/").map(|_| file.to_owned())
        });
        assert_eq!(voices, vec!["gmw/en".to_owned()]);
    }
}
