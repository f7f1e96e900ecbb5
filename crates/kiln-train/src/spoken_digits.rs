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
use serde::{Deserialize, Serialize};

use crate::cli::{SpokenDigitsArgs, Synthesiser};
use crate::command_line::command_line;
use crate::{atomic, progress, wav};

impl Synthesiser {
    /// Its program, which is also its Debian package.
    fn program(self) -> &'static str {
        match self {
            Synthesiser::EspeakNg => "espeak-ng",
            Synthesiser::Flite => "flite",
        }
    }

    /// Its own name and version.
    fn version(self) -> Result<String> {
        Ok(match self {
            Synthesiser::EspeakNg => run(self, &["--version"])?.trim().to_owned(),
            // Flite prints its copyright, then `version: flite-2.2-current …`, and exits with 1.
            Synthesiser::Flite => String::from_utf8_lossy(&output(self, &["--version"])?.stdout)
                .lines()
                .find_map(|line| line.trim().strip_prefix("version: "))
                .unwrap_or("flite, of an unknown version")
                .to_owned(),
        })
    }

    /// Its speakers.
    fn speakers(self) -> Result<Vec<Speaker>> {
        match self {
            Synthesiser::EspeakNg => espeak_speakers(),
            Synthesiser::Flite => flite_speakers(),
        }
    }
}
/// The words for 0–9.
pub const WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
/// Pitch (espeak-ng's 0–99) and rate (words per minute) each take draws from.
const PITCHES: std::ops::RangeInclusive<u32> = 25..=75;
const RATES: std::ops::RangeInclusive<u32> = 130..=200;
/// Samples quieter than this (of full scale) at either end of a clip are cut, as FSDD's
/// recordings are trimmed to the word.
const SILENCE: f32 = 0.01;

/// One voice of a synthesiser (for espeak-ng, a language voice with a variant).
#[derive(Debug, Clone, PartialEq)]
struct Speaker {
    synthesiser: Synthesiser,
    /// What the synthesiser's voice option takes, e.g. `gmw/en-US+Alex` (espeak-ng), `slt`.
    voice: String,
    /// The name in file names: lower case, no underscores, e.g. `en-us-alex`.
    name: String,
}

/// The file in a corpus's folder that says how it was made, so that a model trained on it can
/// say so too (`kiln export` copies the command into the manifest).
const RECORD_FILE: &str = "corpus.json";

/// What `DIR/corpus.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct CorpusRecord {
    /// The command line that made the corpus.
    command: String,
    /// The synthesisers' own names and versions (`espeak-ng --version`), joined by "; ".
    synthesiser: String,
    clips: usize,
    speakers: usize,
    held_out_speakers: usize,
}

/// The command that made the corpus in `dir`, if `kiln data spoken-digits` made it.
pub fn corpus_command(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(RECORD_FILE)).ok()?;
    serde_json::from_str::<CorpusRecord>(&text)
        .ok()
        .map(|record| record.command)
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
    let mut synthesisers: Vec<Synthesiser> = Vec::new();
    for synthesiser in &options.synthesisers {
        if !synthesisers.contains(synthesiser) {
            synthesisers.push(*synthesiser);
        }
    }
    ensure!(
        !synthesisers.is_empty(),
        "--synthesisers must name at least one"
    );
    let mut speakers = Vec::new();
    for synthesiser in &synthesisers {
        speakers.extend(synthesiser.speakers()?);
    }
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
                let take_file = scratch.path().join("clip.wav");
                speak(speaker, word, pitch, rate, &take_file)?;
                let spoken = wav::read(&take_file)?;
                let mut clip = wav::resample(&trim(&spoken.samples), spoken.rate, options.rate)?;
                let noise = kiln_core::noise::standard_normal_values(rng.random(), clip.len());
                for (sample, noise) in clip.iter_mut().zip(noise) {
                    *sample = (*sample + options.noise * noise).clamp(-1.0, 1.0);
                }
                let name = format!("{digit}_{}_{take}.wav", speaker.name);
                wav::write(&dir.join(name), &clip, options.rate)?;
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
    let record = CorpusRecord {
        command: command_line(),
        synthesiser: synthesisers
            .iter()
            .map(|synthesiser| synthesiser.version())
            .collect::<Result<Vec<_>>>()?
            .join("; "),
        clips: written.train + written.test,
        speakers: written.speakers,
        held_out_speakers: written.held_out_speakers,
    };
    let json = serde_json::to_string_pretty(&record).expect("a record serialises");
    atomic::write(&options.out.join(RECORD_FILE), json.as_bytes())?;
    Ok(written)
}

/// Every English voice of espeak-ng with every variant.
fn espeak_speakers() -> Result<Vec<Speaker>> {
    let espeak = Synthesiser::EspeakNg;
    let voices = column_of(&run(espeak, &["--voices=en"])?, |file| {
        file.strip_prefix("gmw/").map(|_| file.to_owned())
    });
    let variants = column_of(&run(espeak, &["--voices=variant"])?, |file| {
        file.strip_prefix("!v/").map(str::to_owned)
    });
    ensure!(
        !voices.is_empty() && !variants.is_empty(),
        "espeak-ng lists no English voice or no variant (`espeak-ng --voices=en`)"
    );
    Ok(voices
        .iter()
        .flat_map(|voice| {
            variants.iter().map(move |variant| Speaker {
                synthesiser: espeak,
                voice: format!("{voice}+{variant}"),
                name: file_name_part(&format!("{}-{variant}", voice.trim_start_matches("gmw/"))),
            })
        })
        .collect())
}

/// Flite's voices (`flite -lv`), but for `awb_time`, which speaks only the time of day.
fn flite_speakers() -> Result<Vec<Speaker>> {
    let listing = run(Synthesiser::Flite, &["-lv"])?;
    let voices = flite_voices(&listing);
    ensure!(!voices.is_empty(), "flite lists no voice (`flite -lv`)");
    Ok(voices
        .into_iter()
        .map(|voice| Speaker {
            synthesiser: Synthesiser::Flite,
            name: file_name_part(&format!("flite-{voice}")),
            voice,
        })
        .collect())
}

/// The voices in `flite -lv`'s `Voices available: kal awb_time kal16 …`, but for `awb_time`.
fn flite_voices(listing: &str) -> Vec<String> {
    listing
        .split_once(':')
        .map_or("", |(_, voices)| voices)
        .split_whitespace()
        .filter(|voice| !voice.ends_with("_time"))
        .map(str::to_owned)
        .collect()
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

/// What `synthesiser` wrote and returned, run with `args`; a clear error if it is not installed.
fn output(synthesiser: Synthesiser, args: &[&str]) -> Result<std::process::Output> {
    let program = synthesiser.program();
    match Command::new(program).args(args).output() {
        Ok(output) => Ok(output),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "no speech synthesiser: `kiln data spoken-digits --synthesisers` names {program}; \
             install it (Debian: apt-get install {program})"
        ),
        Err(error) => Err(error).context(format!("running {program}")),
    }
}

/// `synthesiser`'s standard output for `args`, which must succeed.
fn run(synthesiser: Synthesiser, args: &[&str]) -> Result<String> {
    let program = synthesiser.program();
    let output = output(synthesiser, args)?;
    ensure!(
        output.status.success(),
        "{program} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `word` spoken by `speaker` at `pitch` (espeak-ng's 0–99) and `rate` (words per minute) into
/// the WAV file `out`. Flite takes them as a mean pitch of 60 + 2 × `pitch` Hz (which its
/// diphone voices follow) and a duration stretch of 165 / `rate`.
fn speak(speaker: &Speaker, word: &str, pitch: u32, rate: u32, out: &Path) -> Result<()> {
    let (out, voice) = (out.to_string_lossy(), speaker.voice.as_str());
    let args: Vec<String> = match speaker.synthesiser {
        Synthesiser::EspeakNg => {
            let (pitch, rate) = (pitch.to_string(), rate.to_string());
            ["-v", voice, "-p", &pitch, "-s", &rate, "-w", &out, word]
                .map(str::to_owned)
                .into()
        }
        Synthesiser::Flite => {
            let pitch = format!("int_f0_target_mean={}", 60 + 2 * pitch);
            let stretch = format!("duration_stretch={:.3}", 165.0 / f64::from(rate));
            let setf = "--setf";
            [
                "-voice", voice, setf, &pitch, setf, &stretch, "-o", &out, "-t", word,
            ]
            .map(str::to_owned)
            .into()
        }
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(speaker.synthesiser, &args)
        .with_context(|| format!("speaking {word:?} as {}", speaker.voice))?;
    Ok(())
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
    fn flite_voices_are_read_from_its_listing() {
        let listing = "Voices available: kal awb_time kal16 awb rms slt \n";
        assert_eq!(flite_voices(listing), ["kal", "kal16", "awb", "rms", "slt"]);
        assert!(flite_voices("").is_empty());
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
