//! `kiln eval`: draw images from a generative model and judge them with a classifier trained on
//! the same data (`--judge`; the digit classifier by default), against the data's test set
//! (Fréchet distance, precision and recall) and on their own (Inception Score, class accuracy
//! and coverage), beside two reference rows that bracket the numbers: real training images (as
//! good as it gets) and uniform noise (as bad). A denoising
//! autoencoder is judged instead by how well it restores noisy test digits (MSE, PSNR), a
//! classifier by its accuracy on the test digits, and a text model by its bits per character on
//! held-out text ([`text`]).

mod classification;
mod figures;
mod restoration;
mod samples;
mod table;
mod text;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, ensure};
use burn::tensor::Tensor;
use kiln_core::audio::{Spectrogram, SpectrogramSettings};
use kiln_core::data::dataset::ImageShape;
use kiln_core::family::Capability;
use kiln_core::io::manifest::{Evaluation, Manifest, ManifestEntry};
use kiln_core::limits::MAX_BATCH;
use kiln_core::metrics::INCEPTION_SCORE_SPLITS;
use kiln_core::request::DiffusionRequest;
use serde::Serialize;

use classification::judge_classification;
use figures::{SampleFigures, to_metrics};
use restoration::judge_restoration;
use samples::{Judge, Judged, Judgement, TestSet, load_judge};
use table::{markdown_table, print_table, rewrite_table};

use crate::cli::EvalArgs;
use crate::command_line::command_line;
use crate::data::Splits;
use crate::pictures::PictureOptions;
use crate::{atomic, data, resolve};

/// Images per call of the classifier or a model: a multiple of 10, so every batch asks a
/// conditional model for each digit equally often.
const BATCH: usize = 500;

/// Figures by name, as the manifest stores them (`fid`, `bits_per_char`, …).
type Figures = BTreeMap<String, f64>;

pub fn run(args: EvalArgs) -> Result<()> {
    ensure!(
        args.count >= INCEPTION_SCORE_SPLITS,
        "--count must be at least {INCEPTION_SCORE_SPLITS} (the Inception Score averages over \
         {INCEPTION_SCORE_SPLITS} splits), got {}",
        args.count
    );
    ensure!(
        args.count <= MAX_BATCH,
        "--count {} is above the limit of {MAX_BATCH} images",
        args.count
    );
    // Each model's weights are read (and their sha256 checked) once, here.
    let named = match &args.model {
        Some(name) => {
            let resolved = resolve::resolve(name, &args.manifest)?;
            let capabilities = resolved.spec.capabilities();
            if capabilities.contains(&Capability::Write) {
                return text::judge_text(&args, name, resolved);
            }
            if capabilities.contains(&Capability::Denoise) {
                return judge_restoration(&args, name, resolved);
            }
            if capabilities.contains(&Capability::Classify) {
                return judge_classification(&args, name, resolved);
            }
            Some((name.clone(), resolved))
        }
        None => None,
    };
    let device = args.device.device()?;
    let judge = load_judge(&args, &device)?;
    let shape = judge.classifier.image_shape();
    // --all picks the models of the judge's shape; a model named is checked against it.
    let models = match named {
        Some((name, resolved)) => {
            ensure!(
                resolved.spectrogram == judge.spectrogram,
                "{name} and its judge {} make spectrograms differently (or only one of them \
                 is a sound model): pass the classifier trained on the same clips with --judge",
                args.classifier
            );
            ensure!(
                resolved.spec.image_shape() == Some(shape),
                "{name} draws {} images, but its judge {} reads {shape} images: pass the \
                 classifier trained on the same data with --judge",
                resolved
                    .spec
                    .image_shape()
                    .map_or_else(|| "no".into(), |shape| shape.to_string()),
                args.classifier
            );
            vec![(name, resolved)]
        }
        None => judged_by(&judge, &args)?,
    };
    let classifier = &judge.classifier;
    let splits = load_data(&args, shape, judge.spectrogram.as_ref())?;
    let heard = judge.spectrogram.map(Spectrogram::new).transpose()?;
    let test = TestSet::new(Judged::real(
        classifier,
        &splits.test,
        splits.test.len(),
        None,
        &device,
    )?);
    let mut references = vec![
        (
            real_row(
                &args,
                if heard.is_some() {
                    "real clips"
                } else {
                    "real images"
                },
            ),
            Judged::real(classifier, &splits.train, args.count, None, &device)?,
        ),
        (
            noise_row(&args),
            Judged::noise(classifier, args.count, args.seed, &device)?,
        ),
    ];
    // What phase recovery costs: the real clips as their spectrograms sound.
    if let Some(spectrogram) = &heard {
        references.push((
            real_row(&args, "real clips, Griffin–Lim"),
            Judged::real(
                classifier,
                &splits.train,
                args.count,
                Some(spectrogram),
                &device,
            )?,
        ));
    }
    let references: Vec<(String, SampleFigures)> = references
        .into_iter()
        .map(|(name, set)| (name, set.figures(&test, args.count)))
        .collect();

    let judgement = Judgement {
        args: &args,
        classifier,
        test: &test,
        test_digits: &splits.test,
        heard: heard.as_ref(),
        device: &device,
    };
    if !args.guidance_sweep.is_empty() {
        let [(name, resolved)] = <[_; 1]>::try_from(models).map_err(|_| {
            anyhow::anyhow!("--guidance-sweep judges one diffusion model: pass --model")
        })?;
        return judgement.guidance_sweep(&name, &resolved, &judge.label, &references);
    }
    let mut judged = Vec::new();
    let mut last = None;
    for (name, resolved) in models {
        let model = judgement.load(&name, &resolved)?;
        // Sampler options apply to diffusion models only; --all passes them to those alone.
        let diffusion = if args.all && model.capable().diffusion().is_none() {
            DiffusionRequest::default()
        } else {
            args.diffusion.request()?
        };
        let (figures, tally) = judgement.samples(&name, &model, diffusion)?;
        let evaluation = measured(&args, args.count, &judge.label, &figures);
        if args.json {
            let report = Report {
                evaluation: &evaluation,
                references: references.iter().cloned().collect(),
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print_table(&name, &evaluation, &figures, &references, &tally);
        }
        if args.record || args.all {
            record_as(&args, &name, evaluation.clone())?;
        }
        judged.push((name, figures));
        last = Some(evaluation);
    }
    if args.record || args.all {
        record_references(&args, &judge.label, &references)?;
    }
    if let (true, Some(measured)) = (args.all, last) {
        rewrite_table(
            &args.readme,
            &markdown_table(&judged, &references, &measured),
        )?;
    }
    Ok(())
}

/// `--data` as a model of `shape` reads it: MNIST-style IDX files, a folder of pictures resized
/// to that shape, or (for a model of `spectrogram`s) a folder of clips; a folder's held-out share
/// is drawn with `--split-seed`.
fn load_data(
    args: &EvalArgs,
    shape: ImageShape,
    spectrogram: Option<&SpectrogramSettings>,
) -> Result<Splits> {
    let clips = data::is_clips(&args.data);
    ensure!(
        clips == spectrogram.is_some(),
        "{} holds {}, but the model judged {}",
        args.data.display(),
        if clips { "spoken clips" } else { "images" },
        if clips {
            "was not trained on sound"
        } else {
            "learnt from spoken clips: pass their folder"
        }
    );
    let pictures = (!data::is_mnist(&args.data) && !clips).then_some(PictureOptions {
        side: shape.side,
        channels: Some(shape.channels),
        skip_unreadable: false,
    });
    let splits = data::load_images(
        &args.data,
        pictures.as_ref(),
        spectrogram,
        None,
        args.split_seed,
    )?;
    ensure!(
        splits.train.shape() == shape,
        "{} holds {} images, but the model judged reads {shape} images",
        args.data.display(),
        splits.train.shape()
    );
    Ok(splits)
}

/// The name of the reference row of the real training images in `--data`, which are `what`.
fn real_row(args: &EvalArgs, what: &str) -> String {
    match data_name(args) {
        Some(name) => format!("{name} train ({what})"),
        None => "MNIST train (real digits)".to_owned(),
    }
}

/// The name of the reference row of uniform noise, which names the data unless it is MNIST, so
/// that one manifest can hold the references of several judges.
fn noise_row(args: &EvalArgs) -> String {
    match data_name(args) {
        Some(name) => format!("uniform noise (judged as {name})"),
        None => "uniform noise".to_owned(),
    }
}

/// What the reference rows call `--data`: `--data-name`, else the folder's name for pictures
/// (`None`: MNIST's IDX files).
fn data_name(args: &EvalArgs) -> Option<String> {
    args.data_name.clone().or_else(|| {
        (!data::is_mnist(&args.data)).then(|| {
            args.data
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
    })
}

/// An [`Evaluation`] of `count` images (or characters) measured now by this command.
fn measured(args: &EvalArgs, count: usize, judge: &str, figures: &impl Serialize) -> Evaluation {
    Evaluation {
        command: command_line(),
        date: Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
        count,
        seed: args.seed,
        judge: judge.to_owned(),
        metrics: to_metrics(figures),
    }
}

/// Store `evaluation` in the manifest entry of model `name`.
fn record_as(args: &EvalArgs, name: &str, evaluation: Evaluation) -> Result<()> {
    let mut manifest = resolve::read_manifest(&args.manifest)?;
    manifest_entry(&mut manifest, name, &args.manifest)?.evaluation = Some(evaluation);
    atomic::write(&args.manifest, manifest.to_json().as_bytes())?;
    eprintln!("recorded in {}", args.manifest.display());
    Ok(())
}

/// The sum of every element, on the host.
fn total<const D: usize>(tensor: Tensor<D>) -> Result<f64> {
    Ok(f64::from(host_values(tensor.sum(), "a sum")?[0]))
}

/// A tensor's values on the host as f32; `what` names them if they cannot be read.
fn host_values<const D: usize>(tensor: Tensor<D>, what: &str) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading {what}: {e:?}"))
}

/// The manifest's models that draw images (not the autoencoder or the classifier) of `judge`'s
/// shape and classes: the models trained on the data the judge was.
fn judged_by(judge: &Judge, args: &EvalArgs) -> Result<Vec<(String, resolve::Resolved)>> {
    let shape = judge.classifier.image_shape();
    let models: Vec<_> = resolve::read_manifest(&args.manifest)?
        .models
        .into_iter()
        .filter(|m| {
            m.spec.capabilities().contains(&Capability::Sample)
                && m.spec.image_shape() == Some(shape)
                && m.classes == judge.classes
                && m.spectrogram == judge.spectrogram
        })
        .map(|m| resolve::resolve(&m.name, &args.manifest).map(|resolved| (m.name, resolved)))
        .collect::<Result<_>>()?;
    ensure!(
        !models.is_empty(),
        "{} lists no generative model of {shape} images with the classes of the judge {}",
        args.manifest.display(),
        args.classifier
    );
    Ok(models)
}

/// What `--json` prints.
#[derive(Serialize)]
struct Report<'a> {
    evaluation: &'a Evaluation,
    references: BTreeMap<String, SampleFigures>,
}

/// Store the reference sets' figures in the manifest, for the page's table, in place of those
/// measured before by the same judge (other judges' stay).
fn record_references(
    args: &EvalArgs,
    judge: &str,
    references: &[(String, SampleFigures)],
) -> Result<()> {
    let mut manifest = resolve::read_manifest(&args.manifest)?;
    manifest
        .references
        .retain(|_, evaluation| evaluation.judge != judge);
    manifest
        .references
        .extend(references.iter().map(|(name, figures)| {
            let evaluation = measured(args, args.count, judge, figures);
            (name.clone(), evaluation)
        }));
    atomic::write(&args.manifest, manifest.to_json().as_bytes())
}

/// The entry of model `name` in `manifest` (read from `path`), which `--record` writes into.
fn manifest_entry<'m>(
    manifest: &'m mut Manifest,
    name: &str,
    path: &Path,
) -> Result<&'m mut ManifestEntry> {
    manifest
        .models
        .iter_mut()
        .find(|m| m.name == name)
        .with_context(|| {
            format!(
                "--record stores figures in the manifest, so --model must name a model in {} (got {name})",
                path.display()
            )
        })
}
