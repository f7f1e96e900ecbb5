//! The `kiln` binary end to end on a few hundred real MNIST digits: train → resume → export →
//! sample, and the errors a user meets on the way.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln_core::idx;

/// MNIST as this workspace's checkout sees it (`../shared/data/mnist`); `KILN_MNIST_DIR` overrides.
fn mnist_dir() -> PathBuf {
    std::env::var_os("KILN_MNIST_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist"),
        PathBuf::from,
    )
}

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .output()
        .expect("kiln runs")
}

fn ok(args: &[&str]) -> String {
    let out = kiln(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "kiln {args:?} failed:\n{stderr}");
    stderr
}

fn stdout_of(args: &[&str]) -> String {
    let out = kiln(args);
    assert!(
        out.status.success(),
        "kiln {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = kiln(args);
    assert!(!out.status.success(), "kiln {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Raw (uncompressed) IDX copies of the first `count` images and labels of an MNIST split.
fn write_subset(dir: &Path, prefix: &str, count: usize) {
    let mnist = mnist_dir();
    let read = |kind: &str| {
        let path = mnist.join(format!("{prefix}-{kind}-ubyte.gz"));
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (set KILN_MNIST_DIR to a folder with MNIST)",
                path.display()
            )
        })
    };
    let images = idx::parse_images("images", &read("images-idx3")).unwrap();
    let labels = idx::parse_labels("labels", &read("labels-idx1")).unwrap();
    let mut out = vec![0, 0, 8, 3];
    for d in [count, 28, 28] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(&images.pixels[..count * 784]);
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), out).unwrap();
    let mut out = vec![0, 0, 8, 1];
    out.extend_from_slice(&(count as u32).to_be_bytes());
    out.extend_from_slice(&labels[..count]);
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), out).unwrap();
}

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        std::fs::create_dir(root.join("data")).unwrap();
        write_subset(&root.join("data"), "train", 256);
        write_subset(&root.join("data"), "t10k", 64);
        Self { _tmp: tmp, root }
    }

    fn path(&self, name: &str) -> String {
        self.root.join(name).display().to_string()
    }

    fn state(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.root.join("run/state.json")).unwrap())
            .unwrap()
    }
}

#[test]
fn train_resume_export_sample() {
    let env = Env::new();
    let (data, run, pretrained, samples) = (
        env.path("data"),
        env.path("run"),
        env.path("pretrained"),
        env.path("samples"),
    );
    let train = [
        "train", "vae", "--data", &data, "--out", &run, "--batch", "32", "--seed", "1", "--latent",
        "4",
    ];

    ok(&[&train[..], &["--epochs", "1"]].concat());
    assert_eq!(env.state()["epochs_done"], 1);
    assert_eq!(env.state()["steps"], 256 / 32);

    let err = fails(&[&train[..], &["--epochs", "1"]].concat());
    assert!(err.contains("pass --resume"), "{err}");
    let err = fails(&[
        "train", "vae", "--data", &data, "--out", &run, "--resume", "--batch", "64",
    ]);
    assert!(err.contains("--batch differ"), "{err}");

    // Resuming continues the step count from the checkpoint.
    ok(&[
        "train", "vae", "--data", &data, "--out", &run, "--resume", "--epochs", "2",
    ]);
    assert_eq!(env.state()["epochs_done"], 2);
    assert_eq!(env.state()["steps"], 2 * 256 / 32);
    assert_eq!(env.state()["history"].as_array().unwrap().len(), 2);
    assert!(!Path::new(&run).join("ckpt-0001").exists());

    ok(&[
        "export",
        "--run",
        &run,
        "--to",
        &pretrained,
        "--name",
        "tiny",
    ]);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.root.join("pretrained/manifest.json")).unwrap(),
    )
    .unwrap();
    let entry = &manifest["models"][0];
    assert_eq!(entry["name"], "tiny");
    assert_eq!(entry["kind"], "vae");
    assert_eq!(entry["provenance"]["steps"], 16);
    let command = entry["provenance"]["command"].as_str().unwrap();
    assert!(
        command.contains("--latent 4 --epochs 1 && ") && command.ends_with("--resume --epochs 2"),
        "{command}"
    );
    assert!(entry["provenance"]["test_elbo_nats"].as_f64().unwrap() < 0.0);
    let weights = std::fs::read(env.root.join("pretrained/tiny.bpk")).unwrap();
    assert_eq!(entry["sha256"], kiln_core::weights::sha256_hex(&weights));
    // Copied away from its manifest, the file still says what model it holds.
    let alone = env.path("tiny-alone.bpk");
    std::fs::write(&alone, &weights).unwrap();
    ok(&[
        "sample", "--model", &alone, "--count", "2", "--out", &samples,
    ]);

    let manifest_path = env.path("pretrained/manifest.json");
    ok(&[
        "sample",
        "--model",
        "tiny",
        "--manifest",
        &manifest_path,
        "--count",
        "5",
        "--seed",
        "3",
        "--out",
        &samples,
        "--json",
    ]);
    for file in ["000000.png", "000004.png", "grid.png"] {
        let img = image::open(env.root.join("samples").join(file)).unwrap();
        assert_eq!(img.color(), image::ColorType::L8, "{file}");
    }
    assert_eq!(
        image::open(env.root.join("samples/000000.png"))
            .unwrap()
            .width(),
        28
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.root.join("samples/samples.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["data"].as_array().unwrap().len(), 5 * 784);

    // The run directory and the weight file resolve to the same model, hence the same pixels.
    let from_run = env.path("from-run");
    ok(&[
        "sample", "--model", &run, "--count", "5", "--seed", "3", "--out", &from_run, "--json",
    ]);
    let from_file = env.path("from-file");
    ok(&[
        "sample",
        "--model",
        &env.path("pretrained/tiny.bpk"),
        "--count",
        "5",
        "--seed",
        "3",
        "--out",
        &from_file,
        "--json",
    ]);
    let read = |dir: &str| std::fs::read_to_string(Path::new(dir).join("samples.json")).unwrap();
    assert_eq!(read(&from_run), read(&samples));
    assert_eq!(read(&from_file), read(&samples));

    // Errors a user can cause.
    let err = fails(&[
        "sample",
        "--model",
        "gan",
        "--manifest",
        &manifest_path,
        "--out",
        &samples,
    ]);
    assert!(
        err.contains("unknown model \"gan\"; the manifest has: tiny"),
        "{err}"
    );
    let err = fails(&[
        "sample",
        "--model",
        "tiny",
        "--manifest",
        &manifest_path,
        "--count",
        "0",
        "--out",
        &samples,
    ]);
    assert!(
        err.contains("count must be an integer from 1 to 1024"),
        "{err}"
    );
    let mut corrupt = weights.clone();
    corrupt[weights.len() / 2] ^= 0xff;
    std::fs::write(env.root.join("pretrained/tiny.bpk"), corrupt).unwrap();
    let err = fails(&[
        "sample",
        "--model",
        "tiny",
        "--manifest",
        &manifest_path,
        "--out",
        &samples,
    ]);
    assert!(err.contains("checksum mismatch"), "{err}");
}

#[test]
fn bad_data_is_named() {
    let env = Env::new();
    let data = env.root.join("data");
    let labels = data.join("t10k-labels-idx1-ubyte");
    let bytes = std::fs::read(&labels).unwrap();
    std::fs::write(&labels, &bytes[..bytes.len() - 10]).unwrap();
    let err = fails(&[
        "train",
        "vae",
        "--data",
        &env.path("data"),
        "--out",
        &env.path("run"),
    ]);
    assert!(err.contains("t10k-labels-idx1-ubyte: truncated"), "{err}");

    std::fs::remove_file(&labels).unwrap();
    let err = fails(&[
        "train",
        "vae",
        "--data",
        &env.path("data"),
        "--out",
        &env.path("run2"),
    ]);
    assert!(
        err.contains("has neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz"),
        "{err}"
    );

    let err = fails(&[
        "train",
        "vae",
        "--data",
        &env.path("missing"),
        "--out",
        &env.path("run3"),
    ]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn every_other_model_trains_exports_and_refuses_what_it_cannot_do() {
    let env = Env::new();
    let (data, pretrained) = (env.path("data"), env.path("pretrained"));
    let manifest = env.path("pretrained/manifest.json");
    for (kind, name, extra) in [
        ("ae", "tiny-ae", &[][..]),
        ("classifier", "tiny-classifier", &[]),
        ("cvae", "tiny-cvae", &[]),
        ("gan", "tiny-gan", &[]),
        ("ddpm", "tiny-ddpm", &["--channels", "8", "--limit", "64"]),
    ] {
        let run = env.path(name);
        let mut args = vec![
            "train", kind, "--data", &data, "--out", &run, "--epochs", "1", "--batch", "64",
        ];
        args.extend(extra);
        ok(&args);
        ok(&["export", "--run", &run, "--to", &pretrained, "--name", name]);
    }
    let entries: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let classifier = &entries["models"][1];
    assert_eq!(classifier["kind"], "classifier");
    let error_rate = classifier["provenance"]["final_test_terms"]["error_rate"]
        .as_f64()
        .unwrap();
    assert!((0.0..=1.0).contains(&error_rate), "{error_rate}");
    assert!(entries["models"][0]["provenance"]["final_test_terms"]["mse"].is_number());

    // Two real digits as PNGs, denoised natively.
    let digits = env.root.join("digits");
    std::fs::create_dir(&digits).unwrap();
    let test_images = idx::parse_images(
        "images",
        &std::fs::read(env.root.join("data/t10k-images-idx3-ubyte")).unwrap(),
    )
    .unwrap();
    let mut pngs = Vec::new();
    for i in 0..2 {
        let path = digits.join(format!("{i}.png"));
        let pixels = test_images.pixels[i * 784..(i + 1) * 784].to_vec();
        image::GrayImage::from_raw(28, 28, pixels)
            .unwrap()
            .save(&path)
            .unwrap();
        pngs.push(path.display().to_string());
    }
    let out = env.path("denoised");
    ok(&[
        "denoise",
        "--model",
        "tiny-ae",
        "--manifest",
        &manifest,
        "--image",
        &pngs[0],
        "--image",
        &pngs[1],
        "--noise",
        "0.5",
        "--seed",
        "4",
        "--out",
        &out,
        "--json",
    ]);
    for file in [
        "damaged/000001.png",
        "restored/000001.png",
        "restored/grid.png",
    ] {
        assert!(env.root.join("denoised").join(file).is_file(), "{file}");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.root.join("denoised/denoised.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["restored"].as_array().unwrap().len(), 2 * 784);
    assert_ne!(json["damaged"], json["restored"]);

    // What a user can get wrong.
    let err = fails(&[
        "train",
        "ae",
        "--data",
        &data,
        "--out",
        &env.path("x"),
        "--beta",
        "2",
    ]);
    assert!(
        err.contains("--beta applies only to `kiln train vae`"),
        "{err}"
    );
    let err = fails(&[
        "sample",
        "--model",
        "tiny-ae",
        "--manifest",
        &manifest,
        "--out",
        &out,
    ]);
    assert!(err.contains("ae models cannot sample from noise"), "{err}");
    let err = fails(&[
        "sample",
        "--model",
        "tiny-cvae",
        "--manifest",
        &manifest,
        "--steps",
        "5",
        "--out",
        &out,
    ]);
    assert!(
        err.contains("vae models cannot take a sampler, steps or guidance"),
        "{err}"
    );

    // The diffusion model samples with either sampler, and names the limits of its options.
    let ddpm_out = env.root.join("ddpm-samples");
    for sampler in ["ddpm", "ddim"] {
        ok(&[
            "sample",
            "--model",
            "tiny-ddpm",
            "--manifest",
            &manifest,
            "--count",
            "3",
            "--class",
            "4",
            "--sampler",
            sampler,
            "--steps",
            "3",
            "--guidance",
            "1.5",
            "--out",
            &ddpm_out.display().to_string(),
        ]);
        assert!(ddpm_out.join("000002.png").is_file());
    }
    for (flag, value, message) in [
        (
            "--steps",
            "1001",
            "steps must be from 1 to 1000 (the timesteps the model was trained with), got 1001",
        ),
        (
            "--guidance",
            "11",
            "guidance must be a number from 0 to 10, got 11",
        ),
        ("--sampler", "euler", "sampler must be \"ddpm\" or \"ddim\""),
    ] {
        let err = fails(&[
            "sample",
            "--model",
            "tiny-ddpm",
            "--manifest",
            &manifest,
            flag,
            value,
            "--out",
            &out,
        ]);
        assert!(err.contains(message), "{flag} {value}: {err}");
    }
    let err = fails(&[
        "train",
        "gan",
        "--data",
        &data,
        "--out",
        &env.path("y"),
        "--channels",
        "8",
    ]);
    assert!(
        err.contains("--channels applies only to `kiln train ddpm`"),
        "{err}"
    );
    let err = fails(&[
        "sample",
        "--model",
        "tiny-classifier",
        "--manifest",
        &manifest,
        "--out",
        &out,
    ]);
    assert!(err.contains("classifier models cannot sample"), "{err}");
    let wide = digits.join("wide.png");
    image::GrayImage::new(30, 28).save(&wide).unwrap();
    let err = fails(&[
        "denoise",
        "--model",
        "tiny-ae",
        "--manifest",
        &manifest,
        "--image",
        &wide.display().to_string(),
        "--out",
        &out,
    ]);
    assert!(
        err.contains("wide.png is 30×28 pixels; digits must be 28×28"),
        "{err}"
    );
    let err = fails(&[
        "denoise",
        "--model",
        "tiny-ae",
        "--manifest",
        &manifest,
        "--image",
        &pngs[0],
        "--noise",
        "2",
        "--out",
        &out,
    ]);
    assert!(
        err.contains("noise must be a number from 0 to 1, got 2"),
        "{err}"
    );
    let err = fails(&[
        "denoise",
        "--model",
        "tiny-classifier",
        "--manifest",
        &manifest,
        "--image",
        &pngs[0],
        "--out",
        &out,
    ]);
    assert!(err.contains("classifier models cannot denoise"), "{err}");

    // The conditional VAE draws a requested digit, and eval judges it with the classifier.
    let sevens = env.path("sevens");
    ok(&[
        "sample",
        "--model",
        "tiny-cvae",
        "--manifest",
        &manifest,
        "--class",
        "7",
        "--count",
        "3",
        "--out",
        &sevens,
    ]);
    assert!(env.root.join("sevens/000002.png").is_file());
    let err = fails(&[
        "sample",
        "--model",
        "tiny-cvae",
        "--manifest",
        &manifest,
        "--class",
        "10",
        "--out",
        &sevens,
    ]);
    assert!(err.contains("class must be from 0 to 9, got 10"), "{err}");
    let eval = [
        "eval",
        "--model",
        "tiny-cvae",
        "--manifest",
        &manifest,
        "--data",
        &data,
        "--classifier",
        "tiny-classifier",
    ];
    let table = stdout_of(&[&eval[..], &["--count", "30", "--record"]].concat());
    assert!(table.contains("MNIST train (real digits)") && table.contains("uniform noise"));
    let entries: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let evaluation = &entries["models"][2]["evaluation"];
    assert_eq!(evaluation["count"], 30);
    let metric = |name: &str| evaluation["metrics"][name].as_f64().unwrap();
    for share in [
        "conditional_accuracy",
        "precision",
        "recall",
        "class_entropy",
    ] {
        assert!(
            (0.0..=1.0).contains(&metric(share)),
            "{share}: {evaluation}"
        );
    }
    assert!(metric("fid") >= 0.0);
    assert!((1.0..=10.0).contains(&metric("inception_score")));
    // A VAE is also bounded on the test digits' likelihood; the weighted bound is the tighter.
    assert_eq!(metric("importance_samples"), 100.0);
    assert!(
        0.0 < metric("test_nll_bound_nats")
            && metric("test_nll_bound_nats") <= metric("test_negative_elbo_nats"),
        "{evaluation}"
    );
    assert!(
        table.contains("importance-weighted bound (k = 100)"),
        "{table}"
    );
    // Dated, as RFC 3339 in UTC.
    let date = evaluation["date"].as_str().unwrap();
    assert!(date.len() == 20 && date.ends_with('Z'), "{date}");
    let report: serde_json::Value = serde_json::from_str(&stdout_of(
        &[&eval[..], &["--count", "20", "--json"]].concat(),
    ))
    .unwrap();
    assert_eq!(report["evaluation"]["count"], 20);
    assert!(
        report["references"]["uniform noise"]["fid"].is_number(),
        "{report}"
    );
    let err = fails(&[&eval[..], &["--count", "9"]].concat());
    assert!(err.contains("--count must be at least 10"), "{err}");

    // The autoencoder is judged by its restorations of noisy test digits.
    let ae = [
        "eval",
        "--model",
        "tiny-ae",
        "--manifest",
        &manifest,
        "--data",
        &data,
        "--count",
        "20",
    ];
    let report: serde_json::Value =
        serde_json::from_str(&stdout_of(&[&ae[..], &["--json"]].concat())).unwrap();
    let figure = |name: &str| report["metrics"][name].as_f64().unwrap();
    assert_eq!(report["count"], 20);
    assert_eq!(figure("noise_std"), 0.4);
    assert!(
        figure("damaged_mse") > 0.0 && figure("restored_mse") > 0.0,
        "{report}"
    );
    let psnr = -10.0 * figure("restored_mse").log10();
    assert!((figure("restored_psnr_db") - psnr).abs() < 1e-9, "{report}");

    // --all: every generative model, recorded, and the README's table rewritten in place.
    let readme = env.path("README.md");
    std::fs::write(
        &readme,
        "# Models\n<!-- kiln eval --all -->\nold table\n<!-- end of kiln eval --all -->\nThe end.\n",
    )
    .unwrap();
    let all = [
        "eval",
        "--all",
        "--manifest",
        &manifest,
        "--data",
        &data,
        "--classifier",
        "tiny-classifier",
        "--count",
        "20",
        "--readme",
        &readme,
    ];
    ok(&all);
    let text = std::fs::read_to_string(&readme).unwrap();
    for expected in [
        "# Models\n<!-- kiln eval --all -->\n| model |",
        "| `tiny-cvae` | ",
        "| `tiny-gan` | ",
        "| `tiny-ddpm` | ",
        "| *uniform noise* | –",
        "20 images per model (seed 0)",
        "\n<!-- end of kiln eval --all -->\nThe end.\n",
    ] {
        assert!(text.contains(expected), "no {expected:?} in\n{text}");
    }
    assert!(
        !text.contains("old table") && !text.contains("tiny-ae"),
        "{text}"
    );
    let entries: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(entries["models"][3]["name"], "tiny-gan");
    assert_eq!(entries["models"][3]["evaluation"]["count"], 20);
    std::fs::write(&readme, "no markers\n").unwrap();
    let err = fails(&all);
    assert!(
        err.contains("has no lines `<!-- kiln eval --all -->`"),
        "{err}"
    );

    let bench = [
        "bench",
        "--manifest",
        &manifest,
        "--batches",
        "1,2",
        "--runs",
        "1",
        "--train-batch",
        "4",
        "--models",
    ];
    let table = stdout_of(&[&bench[..], &["tiny-cvae,tiny-ae,tiny-classifier,tiny-ddpm"]].concat());
    for row in [
        "| tiny-cvae | sample | 2 | ",
        "| tiny-ae | denoise | 1 | ",
        "| tiny-classifier | classify | 2 | ",
        "| tiny-ddpm | sample (DDIM 20 steps, guidance 1.5) | 1 | ",
        "| tiny-ddpm | train step | 4 | ",
    ] {
        assert!(table.contains(row), "no {row:?} in\n{table}");
    }
    let err = fails(&[&bench[..], &["nope"]].concat());
    assert!(err.contains("nope"), "{err}");
    assert!(
        evaluation["judge"]
            .as_str()
            .unwrap()
            .starts_with("tiny-classifier (sha256 ")
    );
    let err = fails(&[
        "eval",
        "--model",
        "tiny-cvae",
        "--manifest",
        &manifest,
        "--data",
        &data,
        "--classifier",
        "tiny-ae",
    ]);
    assert!(
        err.contains("--classifier tiny-ae is not a classifier"),
        "{err}"
    );
}

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
        let entries: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
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
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
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
