//! A folder of spoken digits, end to end: a classifier and a diffusion model learn its clips as
//! spectrograms, the model's samples are written as WAV clips beside their pictures, the judge
//! scores them as they sound against the real clips, and both export as sound models. The clips
//! are drawn tones (no synthesiser needed): each digit its own pair of pitches, each speaker
//! shifting them, at 16 kHz so that the reader resamples.

use std::path::Path;

use crate::fixture::*;

/// Digit `digit` as said by speaker `speaker` (0–3): two tones one after the other.
fn say(path: &Path, digit: usize, speaker: usize) {
    let rate = 16_000.0;
    let shift = 1.0 + 0.03 * speaker as f32;
    let (first, second) = (
        (300.0 + 120.0 * digit as f32) * shift,
        (1_800.0 - 110.0 * digit as f32) * shift,
    );
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate as u32,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..8_000 {
        let hz = if n < 4_000 { first } else { second };
        let sample = (2.0 * std::f32::consts::PI * hz * n as f32 / rate).sin() * 0.5;
        writer.write_sample((sample * 32_767.0) as i16).unwrap();
    }
    writer.finalize().unwrap();
}

/// `kiln eval` of `model` by `judge` on 20 clips of `data` (two sampling steps), and `extra`.
fn eval_args<'a>(model: &'a str, judge: &'a str, data: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["eval", "--model", model, "--judge", judge, "--data", data];
    args.extend_from_slice(&["--count", "20", "--steps", "2"]);
    args.extend_from_slice(extra);
    args
}

#[test]
fn spoken_digits_are_learnt_drawn_heard_and_judged() {
    let env = Env::new();
    let data = env.root.join("tones");
    std::fs::create_dir_all(&data).unwrap();
    for digit in 0..10 {
        for speaker in 0..4 {
            for take in 0..2 {
                say(
                    &data.join(format!("{digit}_s{speaker}_{take}.wav")),
                    digit,
                    speaker,
                );
            }
        }
    }
    let data = data.display().to_string();
    let (judge, ddpm) = (env.path("run-judge"), env.path("run-ddpm"));
    let train = |model: &str, out: &str, extra: &[&str]| {
        let mut args = vec![
            "train", model, "--data", &data, "--out", out, "--epochs", "1", "--batch", "10",
        ];
        args.extend_from_slice(extra);
        ok(&args)
    };
    let refused = fails(&[
        "train",
        "classifier",
        "--data",
        &data,
        "--out",
        &judge,
        "--image-size",
        "32",
    ]);
    assert!(refused.contains("holds spoken clips"), "{refused}");
    train("classifier", &judge, &[]);
    train("ddpm", &ddpm, &["--base-channels", "8"]);
    let config = read_json(&format!("{ddpm}/run.json"));
    assert_eq!(config["settings"]["spectrogram"]["bands"], 32, "{config}");
    assert_eq!(
        config["spec"]["config"]["unet"]["image"]["side"], 32,
        "{config}"
    );

    // Samples: spectrogram pictures and the clips they sound like, at the model's rate.
    let out = env.path("samples");
    let said = ok(&[
        "sample", "--model", &ddpm, "--count", "3", "--class", "4", "--steps", "2", "--out", &out,
    ]);
    assert!(said.contains("wrote 3 clips"), "{said}");
    let clip = hound::WavReader::open(format!("{out}/000002.wav")).unwrap();
    assert_eq!(clip.spec().sample_rate, 8_000);
    assert_eq!(clip.duration(), 32 * 192);
    let grid = image::open(format!("{out}/000000.png")).unwrap();
    assert_eq!((grid.width(), grid.height()), (32, 32));

    // Judged as they sound, beside the real clips and the real clips through phase recovery;
    // a speaker of four is held out (their 20 clips).
    let report: serde_json::Value =
        serde_json::from_str(&stdout_of(&eval_args(&ddpm, &judge, &data, &["--json"]))).unwrap();
    let references = &report["references"];
    for row in [
        "tones train (real clips)",
        "tones train (real clips, Griffin–Lim)",
    ] {
        assert!(references[row]["fid"].is_number(), "{row}: {report}");
    }
    assert!(report["evaluation"]["metrics"]["conditional_accuracy"].is_number());
    let accuracy = stdout_of(&["eval", "--model", &judge, "--data", &data]);
    assert!(
        accuracy.contains("of 20 test images labelled correctly"),
        "{accuracy}"
    );

    // A sound model is judged on clips only, and by a judge of sound.
    let pictures = env.root.join("pictures");
    std::fs::create_dir_all(&pictures).unwrap();
    write_subset(&pictures, "train", 20);
    write_subset(&pictures, "t10k", 20);
    let pictures = pictures.display().to_string();
    let error = fails(&eval_args(&ddpm, &judge, &pictures, &[]));
    assert!(error.contains("learnt from spoken clips"), "{error}");

    // Exported, each says how its images are spectrograms, and (where the folder records it, as
    // `kiln data spoken-digits` does) how its clips were made.
    let record = serde_json::json!({
        "command": "kiln data spoken-digits --out tones",
        "synthesiser": "eSpeak NG text-to-speech: 1.51",
        "clips": 80,
        "speakers": 4,
        "held_out_speakers": 1,
    });
    std::fs::write(Path::new(&data).join("corpus.json"), record.to_string()).unwrap();
    let pretrained = env.path("pretrained");
    for (run, name) in [(&judge, "tones-judge"), (&ddpm, "tones")] {
        ok(&[
            "export",
            "--run",
            run,
            "--to",
            &pretrained,
            "--name",
            name,
            "--data-name",
            "Tones",
        ]);
    }
    let manifest = read_json(&format!("{pretrained}/manifest.json"));
    for entry in manifest["models"].as_array().unwrap() {
        assert_eq!(entry["spectrogram"]["sample_rate"], 8_000, "{entry}");
        assert_eq!(
            entry["provenance"]["dataset"],
            "Tones (60 training clips, as 32×32 log-mel spectrograms at 8000 Hz)"
        );
        assert_eq!(
            entry["provenance"]["data_command"],
            "kiln data spoken-digits --out tones"
        );
    }
    let out = env.path("exported-samples");
    ok(&[
        "sample",
        "--model",
        "tones",
        "--manifest",
        &format!("{pretrained}/manifest.json"),
        "--count",
        "2",
        "--steps",
        "2",
        "--out",
        &out,
    ]);
    assert!(Path::new(&format!("{out}/000001.wav")).is_file());
}
