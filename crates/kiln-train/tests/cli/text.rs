//! The text models: trained, resumed, writing, exported and judged.

use std::path::Path;

use crate::fixture::*;

/// A few thousand characters of verse-like text: every line a name, a colon and a line of words.
fn write_text(path: &Path) {
    let words = [
        "to", "be", "or", "not", "the", "king", "shall", "die", "sweet", "love",
    ];
    let mut text = String::new();
    for line in 0..200 {
        let speaker = ["ROMEO", "JULIET", "NURSE"][line % 3];
        let spoken: Vec<&str> = (0..6)
            .map(|i| words[(line * 7 + i * 3) % words.len()])
            .collect();
        text += &format!("{speaker}:\n{}.\n\n", spoken.join(" "));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_text_model_trains_resumes_writes_exports_and_is_judged() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).display().to_string();
    let (text, run, pretrained) = (path("verse.txt"), path("run"), path("pretrained"));
    write_text(tmp.path().join("verse.txt").as_path());
    let train = [
        "train",
        "gpt",
        "--data",
        &text,
        "--out",
        &run,
        "--context",
        "16",
        "--layers",
        "1",
        "--heads",
        "2",
        "--width",
        "16",
        "--batch",
        "8",
        "--epoch-steps",
        "5",
        "--warmup",
        "2",
    ];
    ok(&[&train[..], &["--epochs", "1"]].concat());
    let err = fails(&[
        "train", "gpt", "--data", &text, "--out", &run, "--resume", "--layers", "2",
    ]);
    assert!(
        err.contains("the model's shape or schedule differ"),
        "{err}"
    );
    ok(&[
        "train", "gpt", "--data", &text, "--out", &run, "--resume", "--epochs", "2",
    ]);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("run/state.json")).unwrap())
            .unwrap();
    assert_eq!(
        (state["epochs_done"].as_u64(), state["steps"].as_u64()),
        (Some(2), Some(10))
    );
    let held_out = &state["history"][1]["test"];
    let (nats, bits) = (
        held_out["loss"].as_f64().unwrap(),
        held_out["bits_per_char"].as_f64().unwrap(),
    );
    assert!(
        (bits - nats / std::f64::consts::LN_2).abs() < 1e-4,
        "{held_out}"
    );
    let preview = std::fs::read_to_string(tmp.path().join("run/previews/0002.txt")).unwrap();
    assert_eq!(preview.chars().count(), 300);

    // The same seed writes the same text; the prompt comes first.
    let generate = [
        "generate",
        "--model",
        &run,
        "--prompt",
        "ROMEO:",
        "--tokens",
        "40",
        "--temperature",
        "0.8",
        "--top-k",
        "5",
        "--seed",
        "3",
    ];
    let written = stdout_of(&generate);
    assert!(written.starts_with("ROMEO:"), "{written}");
    assert_eq!(
        written.trim_end_matches('\n').chars().count(),
        "ROMEO:".len() + 40
    );
    assert_eq!(stdout_of(&generate), written);
    let err = fails(&["generate", "--model", &run, "--prompt", "Ωmega"]);
    assert!(err.contains("'Ω'"), "{err}");
    let err = fails(&["generate", "--model", &run, "--temperature=-1"]);
    assert!(err.contains("temperature must be"), "{err}");

    // Exported at half precision: half the file, and still writing; then stored again from the
    // manifest in int8: about a quarter, and still writing.
    ok(&[
        "export",
        "--run",
        &run,
        "--to",
        &pretrained,
        "--name",
        "verse",
    ]);
    let full = std::fs::metadata(tmp.path().join("pretrained/verse.bpk"))
        .unwrap()
        .len();
    ok(&[
        "export",
        "--run",
        &run,
        "--to",
        &pretrained,
        "--name",
        "verse",
        "--precision",
        "f16",
    ]);
    let size = || {
        std::fs::metadata(tmp.path().join("pretrained/verse.bpk"))
            .unwrap()
            .len()
    };
    let half = size();
    // f16 halves the tensors; the header and the embedded spec stay the same size.
    assert!(half < full * 2 / 3, "{half} vs {full}");
    let manifest = path("pretrained/manifest.json");
    // Stored again from the manifest at `precision`: its entry, as recorded.
    let store_again = |precision: &str| -> serde_json::Value {
        ok(&[
            "export",
            "--model",
            "verse",
            "--to",
            &pretrained,
            "--precision",
            precision,
        ]);
        let entries = read_json(&manifest);
        assert_eq!(entries["models"][0]["precision"], precision);
        entries["models"][0].clone()
    };
    let entry = store_again("int8");
    assert_eq!(entry["provenance"]["steps"], 10, "the provenance stays");
    // (This model is so small that alignment and the embedded spec weigh as much as its weights.)
    let int8 = size();
    assert!(int8 < half, "{int8} vs {half}");
    let from_file = [
        "generate",
        "--model",
        "verse",
        "--manifest",
        &manifest,
        "--tokens",
        "20",
    ];
    assert!(stdout_of(&from_file).starts_with('\n'));
    // And in 4 bits: still writing (the sizes at 4 bits are weights.rs's to test: here the
    // per-tensor entries outweigh the values).
    store_again("int4");
    assert!(stdout_of(&from_file).starts_with('\n'));
    let json = stdout_of(&[
        "eval",
        "--model",
        "verse",
        "--manifest",
        &manifest,
        "--data",
        &text,
        "--json",
        "--record",
    ]);
    let figures: serde_json::Value = serde_json::from_str(&json).unwrap();
    let bits = figures["metrics"]["bits_per_char"].as_f64().unwrap();
    // Below a uniform guess among the text's characters: it has learnt something.
    let distinct: std::collections::BTreeSet<char> =
        std::fs::read_to_string(&text).unwrap().chars().collect();
    assert!(
        bits > 0.0 && bits < (distinct.len() as f64).log2(),
        "{figures}"
    );
    let recorded = read_json(&manifest);
    assert_eq!(
        recorded["models"][0]["evaluation"]["metrics"],
        figures["metrics"]
    );

    // Image commands refuse it; image flags refuse gpt; a text with unseen characters is named.
    let err = fails(&[
        "sample",
        "--model",
        "verse",
        "--manifest",
        &manifest,
        "--out",
        &path("s"),
    ]);
    assert!(err.contains("gpt models cannot draw digits"), "{err}");
    let err = fails(&[
        "train",
        "gpt",
        "--data",
        &text,
        "--out",
        &path("x"),
        "--beta",
        "2",
    ]);
    assert!(err.contains("--beta applies only to"), "{err}");
    let err = fails(&[
        "train",
        "vae",
        "--data",
        &text,
        "--out",
        &path("x"),
        "--layers",
        "2",
    ]);
    assert!(
        err.contains("--layers applies only to `kiln train gpt`"),
        "{err}"
    );
    std::fs::write(tmp.path().join("other.txt"), "QUEEN: off with his head!").unwrap();
    let err = fails(&[
        "eval",
        "--model",
        "verse",
        "--manifest",
        &manifest,
        "--data",
        &path("other.txt"),
    ]);
    assert!(err.contains("never saw in training"), "{err}");
    // An exported file carries its spec, so it loads away from its manifest; a checkpoint's
    // bare weights say nothing of their architecture.
    std::fs::create_dir(tmp.path().join("loose")).unwrap();
    std::fs::copy(
        tmp.path().join("pretrained/verse.bpk"),
        tmp.path().join("loose/verse.bpk"),
    )
    .unwrap();
    let alone = stdout_of(&[
        "generate",
        "--model",
        &path("loose/verse.bpk"),
        "--tokens",
        "5",
    ]);
    // The default prompt (a newline), five characters, and the closing newline.
    assert_eq!(alone.chars().count(), 1 + 5 + 1, "{alone:?}");
    let checkpoint = std::fs::read_dir(&run)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("ckpt-")
        })
        .unwrap()
        .join("model.bpk");
    let err = fails(&["generate", "--model", &checkpoint.display().to_string()]);
    assert!(err.contains("does not say what model it holds"), "{err}");
    std::fs::write(tmp.path().join("binary.txt"), [0xff, 0xfe, 0x00]).unwrap();
    let err = fails(&[
        "train",
        "gpt",
        "--data",
        &path("binary.txt"),
        "--out",
        &path("y"),
    ]);
    assert!(err.contains("is not UTF-8 text"), "{err}");
}

#[test]
fn the_hmm_trains_resumes_writes_and_is_judged_beside_an_ngram() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).display().to_string();
    let (text, run) = (path("verse.txt"), path("run"));
    write_text(tmp.path().join("verse.txt").as_path());
    let train = [
        "train",
        "hmm",
        "--data",
        &text,
        "--out",
        &run,
        "--states",
        "12",
        "--context",
        "32",
        "--batch",
        "8",
        "--epoch-steps",
        "10",
        "--lr",
        "1",
    ];
    ok(&[&train[..], &["--epochs", "1"]].concat());
    let other_shape = train.map(|arg| if arg == "12" { "13" } else { arg });
    let err = fails(&[&other_shape[..], &["--resume"]].concat());
    assert!(
        err.contains("the model's shape or schedule differ"),
        "{err}"
    );
    ok(&[&train[..], &["--resume", "--epochs", "3"]].concat());
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("run/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["steps"].as_u64(), Some(30));
    let held_out = |epoch: usize| state["history"][epoch]["test"]["bits_per_char"].as_f64();
    assert!(
        held_out(2) < held_out(0),
        "Baum–Welch lowers the held-out bits: {state}"
    );

    let generate = [
        "generate", "--model", &run, "--prompt", "JULIET:", "--tokens", "30", "--seed", "4",
    ];
    let written = stdout_of(&generate);
    assert!(written.starts_with("JULIET:"), "{written}");
    assert_eq!(written.trim_end().chars().count(), "JULIET:".len() + 30);
    assert_eq!(stdout_of(&generate), written, "a seed writes the same text");

    let json = stdout_of(&["eval", "--model", &run, "--data", &text, "--json"]);
    let figures: serde_json::Value = serde_json::from_str(&json).unwrap();
    let (bits, floor) = (
        figures["metrics"]["bits_per_char"].as_f64().unwrap(),
        figures["metrics"]["ngram_bits_per_char"].as_f64().unwrap(),
    );
    // The verse is a few words in a fixed order: counting five characters back predicts it
    // almost surely; twelve states learn less, but far more than a uniform guess.
    let distinct: std::collections::BTreeSet<char> =
        std::fs::read_to_string(&text).unwrap().chars().collect();
    let uniform = (distinct.len() as f64).log2();
    assert!(floor < 1.0 && bits < uniform - 1.0, "{figures}");

    for (model, flag, value, takes) in [
        ("hmm", "--layers", "2", "`kiln train gpt`"),
        ("gpt", "--states", "8", "`kiln train hmm`"),
        (
            "vae",
            "--context",
            "8",
            "`kiln train gpt` and `kiln train hmm`",
        ),
    ] {
        let err = fails(&[
            "train",
            model,
            "--data",
            &text,
            "--out",
            &path("x"),
            flag,
            value,
        ]);
        assert!(
            err.contains(&format!("{flag} applies only to {takes}")),
            "{err}"
        );
    }
}
