//! A folder of spoken-digit clips as a labelled image data set of their log-mel spectrograms
//! ([`kiln_core::audio`]). It reads the layouts of the two spoken-digit corpora: the Free Spoken
//! Digit Dataset's `{digit}_{speaker}_{index}.wav` (which `kiln data spoken-digits` writes), and
//! SC09's `{zero,…,nine}/{speaker}_nohash_{index}.wav`. Clips under a `test/` folder are held
//! out; without one, a seeded tenth of the speakers is, so that the held-out voices are new.
//! WAV files of any rate, depth and channel count are mixed to mono and resampled.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use kiln_core::audio::{Spectrogram, SpectrogramSettings};
use kiln_core::data::dataset::{ImageDataset, Splits};
use kiln_core::data::mnist::digit_classes;
use kiln_core::noise;

use crate::pictures::{TEST_FOLDER, is_folder, sorted_entries};
use crate::spoken_digits::WORDS;
use crate::{progress, wav};

/// One clip to read.
#[derive(Debug, Clone, PartialEq)]
struct ClipFile {
    path: PathBuf,
    digit: u16,
    speaker: String,
    held_out: bool,
}

/// Whether `dir` (or a folder under it) holds WAV files: a folder of clips, not of pictures.
pub fn holds_clips(dir: &Path) -> bool {
    wav_files(dir).is_ok_and(|files| !files.is_empty())
}

/// The clips under `dir` as spectrogram images of `settings`, split into training and held-out
/// clips (a `test/` folder, or a tenth of the speakers drawn with `seed`).
pub fn load(dir: &Path, settings: &SpectrogramSettings, seed: u64) -> Result<Splits> {
    let spectrogram = Spectrogram::new(*settings)?;
    let mut files = list(dir)?;
    ensure!(
        !files.is_empty(),
        "{} holds no WAV files (*.wav)",
        dir.display()
    );
    if !files.iter().any(|file| file.held_out) {
        hold_out_speakers(&mut files, seed, dir)?;
    }
    let order = noise::permutation(files.len(), &mut noise::rng(seed));
    let bar = progress::bar(files.len() as u64, "clips".into());
    let (mut train, mut test) = (Split::default(), Split::default());
    for file in order.into_iter().map(|index| &files[index]) {
        let clip = wav::read(&file.path)?;
        ensure!(
            !clip.samples.is_empty(),
            "{} holds no samples",
            file.path.display()
        );
        let samples = wav::resample(&clip.samples, clip.rate, settings.sample_rate)
            .with_context(|| format!("resampling {}", file.path.display()))?;
        let split = if file.held_out { &mut test } else { &mut train };
        split.cropped += usize::from(samples.len() > settings.clip_len());
        split.pixels.extend(
            spectrogram
                .image(&samples)
                .into_iter()
                .map(|v| (v * 255.0).round() as u8),
        );
        split.labels.push(file.digit);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let cropped = train.cropped + test.cropped;
    if cropped > 0 {
        eprintln!(
            "{cropped} of {} clips are longer than {:.2} s and were cut to their middle",
            files.len(),
            settings.clip_len() as f64 / f64::from(settings.sample_rate)
        );
    }
    let shape = settings.image_shape();
    let data = |split: Split, which: &str| {
        ImageDataset::new(shape, digit_classes(), split.pixels, split.labels)
            .with_context(|| format!("the {which} clips in {}", dir.display()))
    };
    Ok(Splits {
        train: data(train, "training")?,
        test: data(test, "held-out")?,
    })
}

/// The spectrograms and digits of one split, as they are read.
#[derive(Default)]
struct Split {
    pixels: Vec<u8>,
    labels: Vec<u16>,
    /// Clips longer than the spectrogram, whose ends were cut.
    cropped: usize,
}

/// Every WAV file under `dir`, in name order, with its digit and speaker; a clear error for one
/// whose digit neither its name nor its folder says.
fn list(dir: &Path) -> Result<Vec<ClipFile>> {
    ensure!(dir.is_dir(), "{} is not a folder of clips", dir.display());
    wav_files(dir)?
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
            let Some(digit) = digit_of(&relative) else {
                bail!(
                    "cannot tell which digit {} says: name it {{digit}}_{{speaker}}_{{index}}.wav \
                     (as the Free Spoken Digit Dataset does), or put it in a folder named for its \
                     digit (as SC09 does: zero/ … nine/)",
                    path.display()
                );
            };
            Ok(ClipFile {
                speaker: speaker_of(&relative),
                held_out: relative
                    .parent()
                    .is_some_and(|folder| folder.iter().any(|part| part == TEST_FOLDER)),
                digit,
                path,
            })
        })
        .collect()
}

/// Every WAV file under `dir`, at any depth, in path order (hidden files and linked folders
/// left out, as the picture reader leaves them).
fn wav_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in sorted_entries(dir)? {
        if is_folder(&path) {
            files.extend(wav_files(&path)?);
        } else if is_wav(&path) {
            files.push(path);
        }
    }
    Ok(files)
}

fn is_wav(path: &Path) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .is_some_and(|ext| ext.eq_ignore_ascii_case("wav"))
}

/// The digit of `{digit}_…` file names, else of the nearest folder named for one (`seven`, `7`).
fn digit_of(relative: &Path) -> Option<u16> {
    let stem = relative.file_stem()?.to_str()?;
    if let Some((first, _)) = stem.split_once('_')
        && let [digit @ b'0'..=b'9'] = first.as_bytes()
    {
        return Some(u16::from(digit - b'0'));
    }
    relative.parent()?.iter().rev().find_map(|folder| {
        let folder = folder.to_str()?.to_ascii_lowercase();
        WORDS
            .iter()
            .position(|word| *word == folder)
            .or_else(|| folder.parse::<usize>().ok().filter(|&d| d < 10))
            .map(|digit| digit as u16)
    })
}

/// FSDD's `{digit}_{speaker}_{index}` speaker, SC09's `{speaker}_nohash_{index}`, else the name.
fn speaker_of(relative: &Path) -> String {
    let stem = relative
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some((speaker, _)) = stem.split_once("_nohash_") {
        return speaker.to_owned();
    }
    match stem.split('_').collect::<Vec<_>>().as_slice() {
        [_, speaker, _] => (*speaker).to_owned(),
        _ => stem,
    }
}

/// Hold out the clips of a tenth of the speakers, drawn with `seed`.
fn hold_out_speakers(files: &mut [ClipFile], seed: u64, dir: &Path) -> Result<()> {
    let speakers: Vec<&String> = files
        .iter()
        .map(|file| &file.speaker)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    ensure!(
        speakers.len() >= 2,
        "{} holds clips of one speaker: at least 2 are needed, one of them to hold out (or put \
         held-out clips in a test/ folder)",
        dir.display()
    );
    let order = noise::permutation(speakers.len(), &mut noise::rng(seed));
    let held: BTreeSet<String> = order[..speakers.len().div_ceil(10)]
        .iter()
        .map(|&index| speakers[index].clone())
        .collect();
    for file in files.iter_mut() {
        file.held_out = held.contains(&file.speaker);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(path: &Path, hz: f32, rate: u32, seconds: f32) {
        let samples: Vec<f32> = (0..(rate as f32 * seconds) as usize)
            .map(|n| (2.0 * std::f32::consts::PI * hz * n as f32 / rate as f32).sin() * 0.4)
            .collect();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        wav::write(path, &samples, rate).unwrap();
    }

    /// Why the clips in `dir` cannot be read.
    fn refusal(dir: &Path) -> anyhow::Error {
        match load(dir, &SpectrogramSettings::SPOKEN_DIGITS, 0) {
            Ok(_) => panic!("{} was read", dir.display()),
            Err(error) => error,
        }
    }

    #[test]
    fn names_and_folders_say_the_digit_and_speaker() {
        let digit = |path: &str| digit_of(Path::new(path));
        assert_eq!(digit("3_jackson_12.wav"), Some(3));
        assert_eq!(digit("test/9_en-us-alex_0.wav"), Some(9));
        assert_eq!(digit("train/seven/0a7c2a8d_nohash_1.wav"), Some(7));
        assert_eq!(digit("Seven/x.wav"), Some(7));
        assert_eq!(digit("4/x.wav"), Some(4));
        assert_eq!(digit("yes/0a7c2a8d_nohash_1.wav"), None);
        assert_eq!(digit("12_x_0.wav"), None);
        let speaker = |path: &str| speaker_of(Path::new(path));
        assert_eq!(speaker("3_jackson_12.wav"), "jackson");
        assert_eq!(speaker("seven/0a7c2a8d_nohash_1.wav"), "0a7c2a8d");
        assert_eq!(speaker("seven/clip.wav"), "clip");
    }

    #[test]
    fn fsdd_and_sc09_layouts_read_at_any_rate() {
        let fsdd = tempfile::tempdir().unwrap();
        for digit in 0..10 {
            for speaker in ["ann", "bob", "cy"] {
                let name = format!("{digit}_{speaker}_0.wav");
                tone(
                    &fsdd.path().join(name),
                    300.0 + 100.0 * digit as f32,
                    8_000,
                    0.4,
                );
            }
        }
        std::fs::write(fsdd.path().join("README.md"), "not a clip").unwrap();
        // A link back up the tree is not followed.
        std::os::unix::fs::symlink(fsdd.path(), fsdd.path().join("loop")).unwrap();
        let splits = load(fsdd.path(), &SpectrogramSettings::SPOKEN_DIGITS, 0).unwrap();
        // One speaker of three is held out: every clip of theirs, and only theirs.
        assert_eq!((splits.train.len(), splits.test.len()), (20, 10));
        assert_eq!(splits.train.shape().side, 32);
        let mut held: Vec<u16> = splits.test.labels().to_vec();
        held.sort();
        assert_eq!(held, (0..10).collect::<Vec<_>>());

        let sc09 = tempfile::tempdir().unwrap();
        for (split, speaker) in [("train", "0a1b"), ("train", "2c3d"), ("test", "4e5f")] {
            for (digit, word) in WORDS.iter().enumerate() {
                let path = sc09
                    .path()
                    .join(format!("{split}/{word}/{speaker}_nohash_0.wav"));
                // 16 kHz stereo-free SC09 clips of a full second.
                tone(&path, 300.0 + 100.0 * digit as f32, 16_000, 1.0);
            }
        }
        let splits = load(sc09.path(), &SpectrogramSettings::SPOKEN_DIGITS, 0).unwrap();
        assert_eq!((splits.train.len(), splits.test.len()), (20, 10));
        // Resampled to 8 kHz, each digit's tone lights the same band as at 8 kHz.
        let at_8k = load(fsdd.path(), &SpectrogramSettings::SPOKEN_DIGITS, 0).unwrap();
        let loudest_row = |image: &[u8]| (0..32).max_by_key(|row| image[row * 32 + 16]).unwrap();
        for index in 0..10 {
            let digit = splits.test.labels()[index];
            let same = (0..at_8k.train.len())
                .find(|&i| at_8k.train.labels()[i] == digit)
                .unwrap();
            assert_eq!(
                loudest_row(splits.test.image_bytes(index)),
                loudest_row(at_8k.train.image_bytes(same)),
                "digit {digit}"
            );
        }
    }

    #[test]
    fn unreadable_and_unlabelled_clips_are_named() {
        let dir = tempfile::tempdir().unwrap();
        tone(&dir.path().join("1_ann_0.wav"), 440.0, 8_000, 0.3);
        tone(&dir.path().join("1_bob_0.wav"), 440.0, 8_000, 0.3);
        std::fs::write(dir.path().join("2_ann_0.wav"), b"not a wav file").unwrap();
        let error = format!("{:#}", refusal(dir.path()));
        assert!(error.contains("2_ann_0.wav"), "{error}");

        std::fs::remove_file(dir.path().join("2_ann_0.wav")).unwrap();
        tone(&dir.path().join("hello.wav"), 440.0, 8_000, 0.3);
        let error = refusal(dir.path());
        assert!(
            error.to_string().starts_with("cannot tell which digit"),
            "{error}"
        );

        let one_voice = tempfile::tempdir().unwrap();
        tone(&one_voice.path().join("1_ann_0.wav"), 440.0, 8_000, 0.3);
        let error = refusal(one_voice.path());
        assert!(error.to_string().contains("one speaker"), "{error}");
        assert!(holds_clips(one_voice.path()));
        assert!(!holds_clips(dir.path().join("missing").as_path()));
    }
}
