//! A VAE trained, resumed, exported and sampled on a few hundred MNIST digits.

use std::path::Path;

use crate::fixture::*;

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
    assert_eq!(
        entry["sha256"],
        kiln_core::io::weights::sha256_hex(&weights)
    );
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
