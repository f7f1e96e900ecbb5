//! The image models besides the VAE (see [`TINY_MODELS`]), trained once and shared: each test
//! is one flow through them, or what they refuse.

use kiln_core::data::idx;

use crate::fixture::*;

#[test]
fn every_image_model_trains_and_exports_with_its_final_test_figures() {
    let entries = read_json(&tiny_models().manifest);
    let names: Vec<&str> = entries["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, TINY_MODELS.map(|(_, name, _)| name));
    let classifier = &entries["models"][1];
    assert_eq!(classifier["kind"], "classifier");
    let error_rate = classifier["provenance"]["final_test_terms"]["error_rate"]
        .as_f64()
        .unwrap();
    assert!((0.0..=1.0).contains(&error_rate), "{error_rate}");
    assert!(entries["models"][0]["provenance"]["final_test_terms"]["mse"].is_number());
}

/// Two real test digits as PNGs in `env`'s `digits/`.
fn digit_pngs(env: &Env) -> Vec<String> {
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
    pngs
}

#[test]
fn the_autoencoder_restores_pngs_and_is_judged_on_noisy_digits() {
    let TinyModels {
        env,
        data,
        manifest,
    } = tiny_models();
    let pngs = digit_pngs(&env);
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

    let wide = env.root.join("digits/wide.png");
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
        err.contains("wide.png is 30×28 pixels; the model reads 28×28 grayscale images"),
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
}

#[test]
fn the_diffusion_model_samples_with_either_sampler_within_its_limits() {
    let TinyModels { env, manifest, .. } = tiny_models();
    let out = env.path("out");
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
}

#[test]
fn the_conditional_vae_draws_a_class_and_is_judged_by_the_classifier() {
    let TinyModels {
        env,
        data,
        manifest,
    } = tiny_models();
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
    let eval_with = |classifier| {
        [
            "eval",
            "--model",
            "tiny-cvae",
            "--manifest",
            &manifest,
            "--data",
            &data,
            "--classifier",
            classifier,
        ]
    };
    let eval = eval_with("tiny-classifier");
    let table = stdout_of(&[&eval[..], &["--count", "30", "--record"]].concat());
    assert!(table.contains("MNIST train (real digits)") && table.contains("uniform noise"));
    let entries = read_json(&manifest);
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

    assert!(
        evaluation["judge"]
            .as_str()
            .unwrap()
            .starts_with("tiny-classifier (sha256 ")
    );
    let err = fails(&eval_with("tiny-ae"));
    assert!(
        err.contains("--classifier tiny-ae is not a classifier"),
        "{err}"
    );
}

#[test]
fn each_model_refuses_what_it_cannot_do() {
    let TinyModels {
        env,
        data,
        manifest,
    } = tiny_models();
    let (out, run) = (env.path("out"), env.path("run"));
    let pngs = digit_pngs(&env);
    let use_model = |model: &'static str| ["--model", model, "--manifest", &manifest];
    let train = |model: &'static str| ["train", model, "--data", &data, "--out", &run];
    let sample = |model| [&["sample"][..], &use_model(model), &["--out", &out]].concat();
    let denoise = |model| {
        [
            &["denoise"][..],
            &use_model(model),
            &["--out", &out, "--image", &pngs[0]],
        ]
        .concat()
    };
    let cases: [(Vec<&str>, &str); 8] = [
        (
            [&train("ae")[..], &["--beta", "2"]].concat(),
            "--beta applies only to `kiln train vae`",
        ),
        (
            [&train("gan")[..], &["--base-channels", "8"]].concat(),
            "--base-channels applies only to `kiln train ddpm`",
        ),
        (sample("tiny-ae"), "ae models cannot draw digits"),
        (
            sample("tiny-classifier"),
            "classifier models cannot draw digits",
        ),
        (
            [&sample("tiny-cvae")[..], &["--steps", "5"]].concat(),
            "vae models cannot take a sampler, steps or guidance",
        ),
        (
            denoise("tiny-classifier"),
            "classifier models cannot denoise",
        ),
        // Sizes from a flag are bounded before anything of their size is allocated.
        (
            [&train("gan")[..], &["--batch", "100000000"]].concat(),
            "batch_size 100000000 is above the limit of 65536",
        ),
        (
            [
                &["eval", "--data", &data, "--count", "100000000"][..],
                &use_model("tiny-gan"),
            ]
            .concat(),
            "--count 100000000 is above the limit of 65536",
        ),
    ];
    for (args, expected) in cases {
        let err = fails(&args);
        assert!(err.contains(expected), "kiln {args:?}: {err}");
    }

    // …and so are sizes from a file: a spec whose layer is a billion wide.
    let mut entries = read_json(&manifest);
    entries["models"][2]["config"]["hidden"] = 1_000_000_000.into();
    std::fs::write(&manifest, entries.to_string()).unwrap();
    let err = fails(&sample("tiny-cvae"));
    assert!(
        err.contains("invalid vae config: hidden 1000000000 is above the limit of 16384"),
        "{err}"
    );
}

/// `eval --all`: every generative model, recorded, and the README's table rewritten in place.
#[test]
fn eval_all_records_every_generative_model_and_rewrites_the_readme_table() {
    let TinyModels {
        env,
        data,
        manifest,
    } = tiny_models();
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
    let entries = read_json(&manifest);
    assert_eq!(entries["models"][3]["name"], "tiny-gan");
    assert_eq!(entries["models"][3]["evaluation"]["count"], 20);
    std::fs::write(&readme, "no markers\n").unwrap();
    let err = fails(&all);
    assert!(
        err.contains("has no lines `<!-- kiln eval --all -->`"),
        "{err}"
    );
}

#[test]
fn bench_times_each_models_work() {
    let TinyModels {
        env: _kept,
        manifest,
        ..
    } = tiny_models();
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
}
