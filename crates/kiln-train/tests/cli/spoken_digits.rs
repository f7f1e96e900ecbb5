//! `kiln data spoken-digits`: a small corpus spoken by espeak-ng, named as the Free Spoken Digit
//! Dataset names its clips, with held-out speakers. Skipped, saying so, without espeak-ng.

use std::path::Path;

use crate::fixture::*;

/// The WAV files in `dir`, by name.
fn clips(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".wav"))
        .collect();
    names.sort();
    names
}

/// The speaker of an FSDD file name, `{digit}_{speaker}_{take}.wav`.
fn speaker(name: &str) -> &str {
    name.split('_').nth(1).unwrap()
}

/// Whether `program` runs; if not, the test says it is skipped.
fn installed(program: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        eprintln!("skipped: {program} is not installed (Debian: apt-get install {program})");
    }
    found
}

#[test]
fn spoken_digits_are_named_as_fsdd_names_them_with_held_out_speakers() {
    if !installed("espeak-ng") {
        return;
    }
    let env = Env::new();
    let make = |out: &str| {
        ok(&[
            "data",
            "spoken-digits",
            "--out",
            out,
            "--speakers",
            "3",
            "--takes",
            "1",
            "--test-share",
            "0.3",
        ])
    };
    let out = env.path("digits");
    make(&out);
    let (train, test) = (clips(Path::new(&out)), clips(&Path::new(&out).join("test")));
    assert_eq!((train.len(), test.len()), (20, 10), "{train:?} {test:?}");
    for name in train.iter().chain(&test) {
        let [digit, speaker, take] =
            <[&str; 3]>::try_from(name.trim_end_matches(".wav").split('_').collect::<Vec<_>>())
                .unwrap();
        assert!(
            digit.len() == 1 && digit.chars().all(|c| c.is_ascii_digit()),
            "{name}"
        );
        assert!(
            speaker
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_eq!(take, "0", "{name}");
    }
    // The held-out speaker says every digit, and nothing in training.
    assert!(test.iter().all(|name| speaker(name) == speaker(&test[0])));
    assert!(train.iter().all(|name| speaker(name) != speaker(&test[0])));

    let seven = Path::new(&out).join(train.iter().find(|n| n.starts_with("7_")).unwrap());
    let reader = hound::WavReader::open(&seven).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 8_000, 16)
    );
    let seconds = reader.duration() as f64 / 8_000.0;
    assert!(
        (0.2..1.5).contains(&seconds),
        "a spoken seven of {seconds} s"
    );

    // The folder says how it was made, for the provenance of what trains on it.
    let record = read_json(&format!("{out}/corpus.json"));
    assert_eq!(
        (
            record["clips"].as_u64(),
            record["held_out_speakers"].as_u64()
        ),
        (Some(30), Some(1))
    );
    let command = record["command"].as_str().unwrap();
    assert!(
        command.contains("kiln data spoken-digits --out"),
        "{record}"
    );
    assert!(
        record["synthesiser"]
            .as_str()
            .unwrap()
            .contains("eSpeak NG"),
        "{record}"
    );

    // The same seed speaks the same clips.
    let again = env.path("again");
    make(&again);
    let name = seven.file_name().unwrap();
    assert_eq!(
        std::fs::read(&seven).unwrap(),
        std::fs::read(Path::new(&again).join(name)).unwrap()
    );

    let error = fails(&["data", "spoken-digits", "--out", &out, "--rate", "100"]);
    assert!(
        error.contains("--rate must be from 4000 to 48000"),
        "{error}"
    );
}

#[test]
fn flite_voices_speak_when_asked_for() {
    if !installed("flite") {
        return;
    }
    let env = Env::new();
    let out = env.path("flite");
    ok(&[
        "data",
        "spoken-digits",
        "--out",
        &out,
        "--synthesisers",
        "flite",
        "--takes",
        "1",
        "--test-share",
        "0.2",
    ]);
    // Flite's five voices (all of them: no --speakers), one of them held out, each clip at the
    // corpus's rate whatever the voice's own.
    let (train, test) = (clips(Path::new(&out)), clips(&Path::new(&out).join("test")));
    assert_eq!((train.len(), test.len()), (40, 10), "{train:?} {test:?}");
    assert!(
        train
            .iter()
            .chain(&test)
            .all(|name| speaker(name).starts_with("flite-"))
    );
    let reader = hound::WavReader::open(Path::new(&out).join(&train[0])).unwrap();
    assert_eq!(reader.spec().sample_rate, 8_000);
    let record = read_json(&format!("{out}/corpus.json"));
    assert!(
        record["synthesiser"]
            .as_str()
            .unwrap()
            .starts_with("flite-2"),
        "{record}"
    );
}
