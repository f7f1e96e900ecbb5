//! A folder of colour pictures, end to end: every image model trains on it at 32×32 RGB with its
//! class names, draws colour PNGs, exports, and resumes only on data of the same shape.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::fixture::*;

/// The classes the test draws, in the order `kiln` must find them.
const CLASSES: [&str; 3] = ["disc", "square", "triangle"];

/// `count` 40×36 pictures into `folder` of shape `class` (0–2): a red disc, a green square or a
/// blue triangle on a gray ground, of a size and place that vary with the index.
fn draw(folder: &Path, class: usize, count: u32) {
    std::fs::create_dir_all(folder).unwrap();
    for index in 0..count {
        let (cx, cy, r) = (
            14.0 + index as f32,
            16.0 + (index % 3) as f32,
            6.0 + (index % 4) as f32,
        );
        let picture = RgbImage::from_fn(40, 36, |x, y| {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let inside = match class {
                0 => dx * dx + dy * dy <= r * r,
                1 => dx.abs() <= r && dy.abs() <= r,
                _ => dy <= r && dy >= -r && dx.abs() <= (dy + r) / 2.0,
            };
            let mut colour = [60, 60, 60];
            if inside {
                colour = [[230, 40, 40], [40, 200, 60], [50, 70, 230]][class];
            }
            Rgb(colour)
        });
        picture
            .save(folder.join(format!("{index:02}.png")))
            .unwrap();
    }
}

/// Ten pictures of each class in `dir`, and two more in `dir/test`.
fn shapes(dir: &Path) {
    for (class, name) in CLASSES.iter().enumerate() {
        draw(&dir.join(name), class, 10);
        draw(&dir.join("test").join(name), class, 2);
    }
}

/// `kiln eval` of `model` by `judge` on 30 images of `data`, and `extra` flags.
fn eval_args<'a>(model: &'a str, judge: &'a str, data: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["eval", "--model", model, "--judge", judge, "--data", data];
    args.extend_from_slice(&["--count", "30", "--importance-samples", "2"]);
    args.extend_from_slice(extra);
    args
}

#[test]
fn every_image_model_learns_colour_pictures_with_their_classes() {
    let env = Env::new();
    let data = env.root.join("shapes");
    shapes(&data);
    let data = data.display().to_string();
    let models: [(&str, &[&str]); 6] = [
        ("vae", &["--hidden", "8"]),
        ("cvae", &["--hidden", "8"]),
        ("ae", &["--hidden", "8"]),
        ("classifier", &[]),
        ("gan", &[]),
        ("ddpm", &["--base-channels", "8"]),
    ];
    for (model, flags) in models {
        let run = env.path(&format!("run-{model}"));
        let mut args = vec![
            "train",
            model,
            "--data",
            &data,
            "--out",
            &run,
            "--epochs",
            "1",
            "--batch",
            "10",
            "--image-size",
            "32",
        ];
        args.extend(flags);
        ok(&args);
        let config = read_json(&format!("{run}/run.json"));
        assert_eq!(config["classes"], serde_json::json!(CLASSES), "{model}");
        if model == "classifier" || model == "ae" {
            continue;
        }
        let out = env.path(&format!("samples-{model}"));
        ok(&[
            "sample", "--model", &run, "--count", "4", "--out", &out, "--steps", "2",
        ]
        .into_iter()
        .filter(|arg| model == "ddpm" || !["--steps", "2"].contains(arg))
        .collect::<Vec<_>>());
        let grid = image::open(format!("{out}/grid.png")).unwrap();
        assert_eq!(grid.color(), image::ColorType::Rgb8, "{model}");
        let first = image::open(format!("{out}/000000.png")).unwrap();
        assert_eq!((first.width(), first.height()), (32, 32), "{model}");
    }

    // Judged by the classifier trained on the same pictures, against their held-out ones.
    let (cvae, classifier, ae) = (
        env.path("run-cvae"),
        env.path("run-classifier"),
        env.path("run-ae"),
    );
    let report = stdout_of(&eval_args(&cvae, &classifier, &data, &["--json"]));
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let figures = &report["evaluation"]["metrics"];
    assert!(figures["conditional_accuracy"].is_number(), "{report}");
    assert!(
        report["references"]["shapes train (real images)"]["fid"].is_number(),
        "{report}"
    );
    let not_a_judge = fails(&eval_args(&cvae, &ae, &data, &[]));
    assert!(not_a_judge.contains("is not a classifier"), "{not_a_judge}");

    let pretrained = env.path("pretrained");
    let export = |run: &str, name: &str, extra: &[&str]| {
        let mut args = vec!["export", "--run", run, "--to", &pretrained, "--name", name];
        args.extend_from_slice(extra);
        ok(&args);
    };
    export(&cvae, "shapes", &[]);
    let manifest_path = format!("{pretrained}/manifest.json");
    let manifest = read_json(&manifest_path);
    let entry = &manifest["models"][0];
    assert_eq!(entry["classes"], serde_json::json!(CLASSES));
    let dataset = entry["provenance"]["dataset"].as_str().unwrap();
    assert!(
        dataset.contains("the pictures in shapes (30 training images, 32×32 RGB, 3 classes"),
        "{dataset}"
    );
    judged_by_their_own_classifier(&env, &pretrained, &data);

    // A resumed run reads its pictures as it started, and only pictures of its shape.
    let run = env.path("run-cvae");
    let resume = |extra: &[&'static str]| {
        let mut args = vec![
            "train", "cvae", "--data", &data, "--out", &run, "--resume", "--epochs", "2",
        ];
        args.extend_from_slice(extra);
        args
    };
    let error = fails(&resume(&["--image-size", "28"]));
    assert!(
        error.contains("--image-size, --channels or --skip-unreadable differ"),
        "{error}"
    );
    let extra = Path::new(&data).join("ellipse");
    draw(&extra, 0, 2);
    let error = fails(&resume(&[]));
    assert!(
        error.contains("4 classes (disc, ellipse, square, triangle)"),
        "{error}"
    );
    std::fs::remove_dir_all(extra).unwrap();
    ok(&resume(&[]));
}

/// `kiln eval --all --judge J` judges the manifest's models of J's classes alone, and the
/// reference rows of each judge's data stay side by side in the manifest.
fn judged_by_their_own_classifier(env: &Env, pretrained: &str, data: &str) {
    let export = |run: &str, name: &str| {
        let (run, to) = (env.path(run), pretrained.to_owned());
        ok(&[
            "export",
            "--run",
            &run,
            "--to",
            &to,
            "--name",
            name,
            "--data-name",
            "Shapes",
        ]);
    };
    export("run-classifier", "shapes-judge");
    export("run-gan", "other-gan");
    // A model of other classes (here the same GAN, relabelled), which this judge must not judge.
    let manifest_path = format!("{pretrained}/manifest.json");
    let mut manifest = read_json(&manifest_path);
    let other = manifest["models"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|entry| entry["name"] == "other-gan")
        .unwrap();
    other["classes"] = serde_json::json!(["a", "b", "c"]);
    assert_eq!(
        other["provenance"]["dataset"].as_str().unwrap(),
        "Shapes (30 training images, 32×32 RGB, 3 classes)"
    );
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    let readme = env.path("README.md");
    std::fs::write(
        &readme,
        "<!-- kiln eval --all -->\n<!-- end of kiln eval --all -->\n",
    )
    .unwrap();

    let judged = |judge: &str, data_name: &str, all: bool| {
        let mut args = vec![
            "eval",
            "--judge",
            judge,
            "--data",
            data,
            "--manifest",
            &manifest_path,
        ];
        args.extend_from_slice(&[
            "--data-name",
            data_name,
            "--count",
            "30",
            "--readme",
            &readme,
        ]);
        args.extend_from_slice(if all {
            &["--all"]
        } else {
            &["--model", "shapes", "--record"]
        });
        ok(&args);
        read_json(&manifest_path)
    };
    let manifest = judged("shapes-judge", "Shapes", true);
    let table = std::fs::read_to_string(&readme).unwrap();
    assert!(
        table.contains("shapes") && !table.contains("other-gan"),
        "{table}"
    );
    assert!(manifest["models"][0]["evaluation"]["metrics"]["fid"].is_number());
    let references = &manifest["references"];
    for row in [
        "Shapes train (real images)",
        "uniform noise (judged as Shapes)",
    ] {
        assert!(
            references[row]["metrics"]["fid"].is_number(),
            "{row}: {references}"
        );
    }

    // Another judge's references join them; the same judge's replace its own.
    let other_judge = env.path("run-classifier");
    let manifest = judged(&other_judge, "Shapes again", false);
    let rows: Vec<&String> = manifest["references"].as_object().unwrap().keys().collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    let manifest = judged(&other_judge, "Shapes again", false);
    assert_eq!(manifest["references"].as_object().unwrap().len(), 4);
}
