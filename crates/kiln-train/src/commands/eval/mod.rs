//! `kiln eval`: draw images from a generative model and judge them with the digit classifier,
//! against the MNIST test set (Fréchet distance, precision and recall) and on their own
//! (Inception Score, class accuracy and coverage), beside two reference rows that bracket the
//! numbers: real training digits (as good as it gets) and uniform noise (as bad). A denoising
//! autoencoder is judged instead by how well it restores noisy test digits (MSE, PSNR), a
//! classifier by its accuracy on the test digits, and a text model by its bits per character on
//! held-out text ([`text`]).

mod text;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use burn::tensor::{Device, Tensor, TensorData};
use kiln_core::classifier::Classifier;
use kiln_core::family::Capability;
use kiln_core::manifest::{Evaluation, GuidedEvaluation, Manifest, ManifestEntry};
use kiln_core::metrics::{
    ClassTally, FeatureStatistics, INCEPTION_SCORE_SPLITS, MANIFOLD_NEIGHBOURS, frechet_distance,
    inception_score, precision_recall, psnr,
};
use kiln_core::mnist::{DigitDataset, IMAGE_SIDE, NUM_CLASSES};
use kiln_core::model::Model;
use kiln_core::noise;
use kiln_core::request::{DenoiseRequest, DiffusionRequest, MAX_SAMPLE_COUNT, SampleRequest};
use kiln_core::vae::Vae;
use kiln_core::weights;
use serde::Serialize;

use crate::cli::{EvalArgs, ModelArgs};
use crate::command_line::command_line;
use crate::resolve::Resolved;
use crate::{atomic, data, progress, resolve};

/// Images per sampling call: a multiple of 10, so every batch asks a conditional model for each
/// digit equally often.
const BATCH: usize = 500;

/// What the classifier's outputs are called when they cannot be read.
const CLASSIFIER_OUTPUTS: &str = "the classifier's outputs";

/// Decoder passes per batch of the likelihood bound (digits × draws): bounds memory.
const LIKELIHOOD_DRAWS_PER_BATCH: usize = 2_000;

/// The noise the autoencoder's figures are measured at (the page's default).
const RESTORATION_NOISE: f64 = 0.4;

/// Figures of one set of images, by name (`fid`, `precision`, …).
type Figures = BTreeMap<String, f64>;

pub fn run(args: EvalArgs) -> Result<()> {
    ensure!(
        args.count >= INCEPTION_SCORE_SPLITS,
        "--count must be at least {INCEPTION_SCORE_SPLITS} (the Inception Score averages over \
         {INCEPTION_SCORE_SPLITS} splits), got {}",
        args.count
    );
    // Each model's weights are read (and their sha256 checked) once, here.
    let models = match &args.model {
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
            vec![(name.clone(), resolved)]
        }
        None => generative_models(&args.manifest)?
            .into_iter()
            .map(|name| resolve::resolve(&name, &args.manifest).map(|resolved| (name, resolved)))
            .collect::<Result<_>>()?,
    };
    let device = args.device.device()?;
    let (classifier, judge) = load_classifier(&args, &device)?;
    let mnist = data::load_mnist(&args.data)?;
    let test = TestSet::new(Judged::real(
        &classifier,
        &mnist.test,
        mnist.test.len(),
        &device,
    )?);
    let references = [
        (
            "MNIST train (real digits)",
            Judged::real(&classifier, &mnist.train, args.count, &device)?,
        ),
        (
            "uniform noise",
            Judged::noise(&classifier, args.count, args.seed, &device)?,
        ),
    ]
    .map(|(name, set)| (name.to_owned(), set.figures(&test, args.count)));

    let judgement = Judgement {
        args: &args,
        classifier: &classifier,
        test: &test,
        test_digits: &mnist.test,
        device: &device,
    };
    if !args.guidance_sweep.is_empty() {
        let [(name, resolved)] = <[_; 1]>::try_from(models).map_err(|_| {
            anyhow::anyhow!("--guidance-sweep judges one diffusion model: pass --model")
        })?;
        return judgement.guidance_sweep(&name, &resolved, &judge, &references);
    }
    let mut evaluations = Vec::new();
    for (name, resolved) in models {
        let model = judgement.load(&name, &resolved)?;
        // Sampler options apply to diffusion models only; --all passes them to those alone.
        let diffusion = if args.all && model.capable().diffusion().is_none() {
            DiffusionRequest::default()
        } else {
            args.diffusion.request()?
        };
        let (metrics, tally) = judgement.samples(&name, &model, diffusion)?;
        let model_args = ModelArgs {
            model: name,
            manifest: args.manifest.clone(),
            device: args.device,
        };
        let evaluation = measured(&args, args.count, &judge, metrics);
        if args.json {
            let report = Report {
                evaluation: &evaluation,
                references: references.iter().cloned().collect(),
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print_table(&model_args.model, &evaluation, &references, &tally);
        }
        if args.record || args.all {
            record(&model_args, evaluation.clone())?;
        }
        evaluations.push((model_args.model, evaluation));
    }
    if args.all {
        record_references(&args, &judge, &references)?;
        rewrite_table(&args.readme, &markdown_table(&evaluations, &references))?;
    }
    Ok(())
}

/// An [`Evaluation`] of `count` images (or characters) measured now by this command.
fn measured(args: &EvalArgs, count: usize, judge: &str, metrics: Figures) -> Evaluation {
    Evaluation {
        command: command_line(),
        date: Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
        count,
        seed: args.seed,
        judge: judge.to_owned(),
        metrics,
    }
}

/// An autoencoder's figures: how close it brings the first `--count` test digits, damaged by
/// Gaussian noise of [`RESTORATION_NOISE`], back to the originals, beside how far the damage
/// took them.
fn judge_restoration(args: &EvalArgs, name: &str, resolved: Resolved) -> Result<()> {
    let device = args.device.device()?;
    let model = resolved
        .spec
        .load(&resolved.weights, &device)
        .with_context(|| format!("loading {name}"))?;
    let mnist = data::load_mnist(&args.data)?;
    let indices: Vec<usize> = (0..args.count.min(mnist.test.len())).collect();
    let bar = progress::bar(indices.len() as u64, format!("restoring with {name}"));
    let (mut damaged, mut restored) = (0.0, 0.0);
    for (batch, chunk) in indices.chunks(BATCH).enumerate() {
        let clean = mnist.test.images(chunk, &device);
        let pixels = host_values(clean.clone(), "test digits")?;
        let request = DenoiseRequest::new(pixels, RESTORATION_NOISE, args.seed + batch as u64)?;
        let out = model.denoise(&request, &device)?;
        damaged += squared_error(out.damaged, clean.clone())?;
        restored += squared_error(out.restored, clean)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let pixels = (indices.len() * IMAGE_SIDE * IMAGE_SIDE) as f64;
    let (damaged, restored) = (damaged / pixels, restored / pixels);
    let evaluation = measured(
        args,
        indices.len(),
        &format!("MNIST test digits with Gaussian noise σ = {RESTORATION_NOISE}"),
        Figures::from([
            ("noise_std".to_owned(), RESTORATION_NOISE),
            ("damaged_mse".into(), damaged),
            ("damaged_psnr_db".into(), psnr(damaged)),
            ("restored_mse".into(), restored),
            ("restored_psnr_db".into(), psnr(restored)),
        ]),
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        println!(
            "{name}: {} test digits with Gaussian noise σ = {RESTORATION_NOISE}, seed {}",
            evaluation.count, evaluation.seed
        );
        println!("  damaged   MSE {damaged:.4}  PSNR {:.2} dB", psnr(damaged));
        println!(
            "  restored  MSE {restored:.4}  PSNR {:.2} dB",
            psnr(restored)
        );
    }
    if args.record {
        record_as(args, name, evaluation)?;
    }
    Ok(())
}

/// A classifier's figures: the share of the first `--count` test digits it labels correctly.
fn judge_classification(args: &EvalArgs, name: &str, resolved: Resolved) -> Result<()> {
    let device = args.device.device()?;
    let model = resolved
        .spec
        .load(&resolved.weights, &device)
        .with_context(|| format!("loading {name}"))?;
    let Some(classifier) = model.capable().recogniser() else {
        bail!("{name} is not a classifier");
    };
    let mnist = data::load_mnist(&args.data)?;
    let indices: Vec<usize> = (0..args.count.min(mnist.test.len())).collect();
    let bar = progress::bar(indices.len() as u64, format!("classifying with {name}"));
    let mut judged = Judged::new();
    for chunk in indices.chunks(BATCH) {
        let labels: Vec<usize> = chunk
            .iter()
            .map(|&i| mnist.test.labels()[i] as usize)
            .collect();
        judged.add(classifier, mnist.test.images(chunk, &device), Some(&labels))?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let accuracy = judged
        .tally
        .conditional_accuracy()
        .context("no test digits to classify")?;
    let evaluation = measured(
        args,
        indices.len(),
        "MNIST test digits and their labels",
        Figures::from([("test_accuracy".to_owned(), accuracy)]),
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        println!(
            "{name}: {:.2} % of {} test digits labelled correctly",
            100.0 * accuracy,
            evaluation.count
        );
    }
    if args.record {
        record_as(args, name, evaluation)?;
    }
    Ok(())
}

/// Store `evaluation` in the manifest entry of model `name`.
fn record_as(args: &EvalArgs, name: &str, evaluation: Evaluation) -> Result<()> {
    let model_args = ModelArgs {
        model: name.to_owned(),
        manifest: args.manifest.clone(),
        device: args.device,
    };
    record(&model_args, evaluation)
}

/// Σ (a − b)² over every pixel.
fn squared_error(a: Tensor<4>, b: Tensor<4>) -> Result<f64> {
    total((a - b).powi_scalar(2))
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

/// The manifest's models that draw images (not the autoencoder or the classifier).
fn generative_models(manifest: &Path) -> Result<Vec<String>> {
    let names: Vec<String> = resolve::read_manifest(manifest)?
        .models
        .into_iter()
        .filter(|m| m.spec.capabilities().contains(&Capability::Sample))
        .map(|m| m.name)
        .collect();
    ensure!(
        !names.is_empty(),
        "{} lists no generative model to evaluate",
        manifest.display()
    );
    Ok(names)
}

/// What judges a model's samples: the classifier and the MNIST test set it is compared with.
struct Judgement<'a> {
    args: &'a EvalArgs,
    classifier: &'a Classifier,
    test: &'a TestSet,
    test_digits: &'a DigitDataset,
    device: &'a Device,
}

impl Judgement<'_> {
    fn load(&self, name: &str, resolved: &Resolved) -> Result<Model> {
        resolved
            .spec
            .load(&resolved.weights, self.device)
            .with_context(|| format!("loading {name}"))
    }

    /// Draw `--count` images from the model (a diffusion model with `diffusion`'s sampler
    /// options) and judge them against the test set; a VAE also gets its likelihood bounds on
    /// the test digits.
    fn samples(
        &self,
        name: &str,
        model: &Model,
        diffusion: DiffusionRequest,
    ) -> Result<(Figures, ClassTally)> {
        let (args, device) = (self.args, self.device);
        let bar = progress::bar(args.count as u64, format!("judging {name}"));
        let mut generated = Judged::new();
        for (batch, seed) in (args.seed..).enumerate() {
            let count = BATCH
                .min(args.count - generated.tally.total())
                .min(MAX_SAMPLE_COUNT);
            if count == 0 {
                break;
            }
            let images = model
                .sample(
                    SampleRequest::new(count, seed)?.with_diffusion(diffusion),
                    device,
                )
                .with_context(|| format!("drawing batch {batch} from {name}"))?;
            // Without a class, a conditional model draws image i as digit i mod num_classes.
            let requested: Option<Vec<usize>> = model
                .num_classes()
                .map(|n| (0..count).map(|i| i % n).collect());
            generated.add(self.classifier, images, requested.as_deref())?;
            bar.inc(count as u64);
        }
        bar.finish_and_clear();
        let mut figures = generated.figures(self.test, args.count);
        if let Some(vae) = model.capable().vae() {
            figures.extend(self.likelihood(name, vae)?);
        }
        Ok((figures, generated.tally))
    }

    /// `--guidance-sweep`: a diffusion model's figures at each guidance weight, as a table (and
    /// into its manifest entry with `--record`).
    fn guidance_sweep(
        &self,
        name: &str,
        resolved: &Resolved,
        judge: &str,
        references: &[(String, Figures)],
    ) -> Result<()> {
        let args = self.args;
        let model = self.load(name, resolved)?;
        ensure!(
            model.capable().diffusion().is_some(),
            "--guidance-sweep applies only to diffusion models such as ddpm, and {name} is a {} model",
            model.kind()
        );
        let mut weights = args.guidance_sweep.clone();
        weights.sort_by(f64::total_cmp);
        weights.dedup();
        let mut sweep = Vec::with_capacity(weights.len());
        for guidance in weights {
            let diffusion = DiffusionRequest::new(
                args.diffusion.sampler,
                args.diffusion.steps,
                Some(guidance),
            )?;
            let (metrics, _) =
                self.samples(&format!("{name} at guidance {guidance}"), &model, diffusion)?;
            sweep.push(GuidedEvaluation {
                guidance,
                evaluation: measured(args, args.count, judge, metrics),
            });
        }
        println!(
            "{name}: {} images per guidance weight, seed {}, judged by {judge}",
            args.count, args.seed
        );
        print_header("guidance");
        let rows = sweep
            .iter()
            .map(|point| (format!("w = {}", point.guidance), &point.evaluation.metrics))
            .chain(references.iter().map(|(n, f)| (n.clone(), f)));
        for (row, figures) in rows {
            print_row(&row, figures);
        }
        if args.record {
            let mut manifest = resolve::read_manifest(&args.manifest)?;
            let entry = manifest_entry(&mut manifest, name, &args.manifest)?;
            entry.guidance_sweep = sweep;
            atomic::write(&args.manifest, manifest.to_json().as_bytes())?;
            eprintln!("recorded the sweep in {}", args.manifest.display());
        }
        Ok(())
    }

    /// A VAE's bounds on the negative log-likelihood of the first `--count` test digits, in nats
    /// per digit (a CVAE's given the true labels): −ELBO and the importance-weighted bound.
    fn likelihood(&self, name: &str, vae: &Vae) -> Result<Figures> {
        let (args, test) = (self.args, self.test_digits);
        let samples = args.importance_samples as usize;
        let indices: Vec<usize> = (0..args.count.min(test.len())).collect();
        let bar = progress::bar(indices.len() as u64, format!("bounding log p(x) of {name}"));
        let (mut negative_elbo, mut importance_weighted) = (0.0, 0.0);
        let digits_per_batch = (LIKELIHOOD_DRAWS_PER_BATCH / samples).max(1);
        for (batch, chunk) in indices.chunks(digits_per_batch).enumerate() {
            let labels = vae
                .num_classes()
                .map(|_| test.label_tensor(chunk, self.device));
            let images = test.images(chunk, self.device);
            let bounds = vae.likelihood_bounds(images, &labels, samples, args.seed + batch as u64);
            negative_elbo += total(bounds.negative_elbo)?;
            importance_weighted += total(bounds.importance_weighted)?;
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        let digits = indices.len() as f64;
        Ok(Figures::from([
            ("test_negative_elbo_nats".to_owned(), negative_elbo / digits),
            ("test_nll_bound_nats".into(), importance_weighted / digits),
            ("importance_samples".into(), samples as f64),
        ]))
    }
}

/// What `--json` prints.
#[derive(Serialize)]
struct Report<'a> {
    evaluation: &'a Evaluation,
    references: BTreeMap<String, Figures>,
}

/// The judging classifier and how the figures name it (name and weight hash).
fn load_classifier(args: &EvalArgs, device: &Device) -> Result<(Classifier, String)> {
    let judge = resolve::resolve(&args.classifier, &args.manifest)?;
    let model = judge
        .spec
        .load(&judge.weights, device)
        .with_context(|| format!("loading the classifier {}", args.classifier))?;
    let Some(classifier) = model.capable().recogniser() else {
        bail!("--classifier {} is not a classifier", args.classifier);
    };
    let name = format!(
        "{} (sha256 {})",
        args.classifier,
        &weights::sha256_hex(&judge.weights)[..12]
    );
    Ok((classifier.clone(), name))
}

/// The MNIST test set as the metrics compare against it.
struct TestSet {
    statistics: FeatureStatistics,
    judged: Judged,
}

impl TestSet {
    fn new(judged: Judged) -> Self {
        Self {
            statistics: FeatureStatistics::from_rows(&judged.features, judged.feature_size),
            judged,
        }
    }
}

/// What the classifier makes of a set of images: features, class probabilities and the
/// predicted classes.
struct Judged {
    features: Vec<f32>,
    probabilities: Vec<f32>,
    feature_size: usize,
    tally: ClassTally,
}

impl Judged {
    fn new() -> Self {
        Self {
            features: Vec::new(),
            probabilities: Vec::new(),
            feature_size: 0,
            tally: ClassTally::new(NUM_CLASSES),
        }
    }

    /// The first `count` images of `data` (all of them if it has fewer).
    fn real(
        classifier: &Classifier,
        data: &DigitDataset,
        count: usize,
        device: &Device,
    ) -> Result<Self> {
        let mut judged = Self::new();
        let indices: Vec<usize> = (0..count.min(data.len())).collect();
        for chunk in indices.chunks(BATCH) {
            judged.add(classifier, data.images(chunk, device), None)?;
        }
        Ok(judged)
    }

    /// `count` images of pixels drawn uniformly from [0, 1) with `seed`.
    fn noise(classifier: &Classifier, count: usize, seed: u64, device: &Device) -> Result<Self> {
        const PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
        let mut judged = Self::new();
        for values in noise::uniform_values(seed, count * PIXELS).chunks(BATCH * PIXELS) {
            let shape = [values.len() / PIXELS, 1, IMAGE_SIDE, IMAGE_SIDE];
            let images = Tensor::from_data(TensorData::new(values.to_vec(), shape), device);
            judged.add(classifier, images, None)?;
        }
        Ok(judged)
    }

    fn add(
        &mut self,
        classifier: &Classifier,
        images: Tensor<4>,
        requested: Option<&[usize]>,
    ) -> Result<()> {
        let (features, probabilities) = classifier.features_and_probabilities(images);
        self.feature_size = features.dims()[1];
        self.features
            .extend(host_values(features, CLASSIFIER_OUTPUTS)?);
        let probabilities = host_values(probabilities, CLASSIFIER_OUTPUTS)?;
        let predicted: Vec<usize> = probabilities
            .chunks_exact(NUM_CLASSES)
            .map(|row| {
                (0..NUM_CLASSES).fold(0, |best, c| if row[c] > row[best] { c } else { best })
            })
            .collect();
        self.tally.add(&predicted, requested);
        self.probabilities.extend(probabilities);
        Ok(())
    }

    /// This set's figures against `test`; precision and recall against the first `count` test
    /// images (the manifold estimate is biased unless both sets are the same size).
    fn figures(&self, test: &TestSet, count: usize) -> Figures {
        let dim = self.feature_size;
        let fid = frechet_distance(
            &FeatureStatistics::from_rows(&self.features, dim),
            &test.statistics,
        );
        let inception = inception_score(&self.probabilities, NUM_CLASSES, INCEPTION_SCORE_SPLITS);
        let test = &test.judged.features;
        let real = &test[..count.min(test.len() / dim) * dim];
        let manifold = precision_recall(real, &self.features, dim, MANIFOLD_NEIGHBOURS);
        let mut figures = Figures::from([
            ("fid".to_owned(), fid),
            ("inception_score".into(), inception.mean),
            ("inception_score_std".into(), inception.std),
            ("precision".into(), manifold.precision),
            ("recall".into(), manifold.recall),
            ("class_entropy".into(), self.tally.normalized_entropy()),
        ]);
        if let Some(accuracy) = self.tally.conditional_accuracy() {
            figures.insert("conditional_accuracy".into(), accuracy);
        }
        figures
    }
}

fn print_table(
    name: &str,
    evaluation: &Evaluation,
    references: &[(String, Figures)],
    tally: &ClassTally,
) {
    println!(
        "{name}: {} images, seed {}, judged by {}",
        evaluation.count, evaluation.seed, evaluation.judge
    );
    print_header("");
    let rows = std::iter::once((name, &evaluation.metrics))
        .chain(references.iter().map(|(n, f)| (n.as_str(), f)));
    for (row, figures) in rows {
        print_row(row, figures);
    }
    if let Some(line) = likelihood_line(&evaluation.metrics) {
        println!("  test digits: {line}");
    }
    let shares: Vec<String> = tally
        .histogram()
        .iter()
        .enumerate()
        .map(|(class, share)| format!("{class}: {:.1}%", 100.0 * share))
        .collect();
    println!("  predicted classes of {name}: {}", shares.join("  "));
}

/// The column heads of the figures table, `label` over the first.
fn print_header(label: &str) {
    println!(
        "  {label:<28} {:>8} {:>13} {:>9} {:>7} {:>9} {:>8}",
        "FID ↓", "IS ↑", "precision", "recall", "accuracy", "entropy"
    );
}

/// One row of the figures table.
fn print_row(row: &str, figures: &Figures) {
    let accuracy = figures
        .get("conditional_accuracy")
        .map_or("–".to_owned(), |a| format!("{:.1}%", 100.0 * a));
    println!(
        "  {row:<28} {:>8.2} {:>6.2} ± {:<4.2} {:>9.3} {:>7.3} {accuracy:>9} {:>8.3}",
        figures["fid"],
        figures["inception_score"],
        figures["inception_score_std"],
        figures["precision"],
        figures["recall"],
        figures["class_entropy"],
    );
}

/// A VAE's likelihood bounds in words, if `figures` has them.
fn likelihood_line(figures: &Figures) -> Option<String> {
    let elbo = figures.get("test_negative_elbo_nats")?;
    let bound = figures.get("test_nll_bound_nats")?;
    let samples = figures.get("importance_samples")?;
    Some(format!(
        "−ELBO {elbo:.1}, importance-weighted bound (k = {samples}) {bound:.1}"
    ))
}

const TABLE_START: &str = "<!-- kiln eval --all -->";
const TABLE_END: &str = "<!-- end of kiln eval --all -->";

/// The figures as a Markdown table: the models, then the references in italics, then how they
/// were measured.
fn markdown_table(
    evaluations: &[(String, Evaluation)],
    references: &[(String, Figures)],
) -> String {
    let mut lines = vec![
        "| model | the digit asked for | FID ↓ | IS ↑ | precision | recall | class entropy |"
            .to_owned(),
        "|---|---:|---:|---:|---:|---:|---:|".to_owned(),
    ];
    let rows = evaluations
        .iter()
        .map(|(name, evaluation)| (format!("`{name}`"), &evaluation.metrics))
        .chain(
            references
                .iter()
                .map(|(name, figures)| (format!("*{name}*"), figures)),
        );
    for (name, figures) in rows {
        let accuracy = figures
            .get("conditional_accuracy")
            .map_or("–".to_owned(), |a| format!("{:.1} %", 100.0 * a));
        lines.push(format!(
            "| {name} | {accuracy} | {:.1} | {:.2} ± {:.2} | {:.3} | {:.3} | {:.3} |",
            figures["fid"],
            figures["inception_score"],
            figures["inception_score_std"],
            figures["precision"],
            figures["recall"],
            figures["class_entropy"],
        ));
    }
    let likelihoods: Vec<String> = evaluations
        .iter()
        .filter_map(|(name, e)| likelihood_line(&e.metrics).map(|line| format!("`{name}` {line}")))
        .collect();
    if !likelihoods.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "Negative log-likelihood of the MNIST test digits (nats per digit, Bernoulli decoder \
             on grey levels; a CVAE's given the digit's label): {}.",
            likelihoods.join("; ")
        ));
    }
    if let Some((_, first)) = evaluations.first() {
        lines.push(String::new());
        lines.push(format!(
            "{} images per model (seed {}), judged by {}; FID against the MNIST test digits. \
             Measured with `{}`.",
            first.count, first.seed, first.judge, first.command
        ));
    }
    lines.join("\n")
}

/// Put `table` between the table markers of the Markdown file `path`: lines that hold nothing
/// else, so prose that quotes a marker is left alone.
fn rewrite_table(path: &Path, table: &str) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} to rewrite its metrics table", path.display()))?;
    atomic::write(path, replace_table(&text, table, path)?.as_bytes())?;
    eprintln!("rewrote the metrics table in {}", path.display());
    Ok(())
}

/// `text` with the lines between its marker lines replaced by `table`.
fn replace_table(text: &str, table: &str, path: &Path) -> Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let marker_line = |marker: &str| -> Result<Option<usize>> {
        let found: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].trim() == marker)
            .collect();
        ensure!(
            found.len() <= 1,
            "{} has {} lines `{marker}`; keep one",
            path.display(),
            found.len()
        );
        Ok(found.first().copied())
    };
    let (Some(start), Some(end)) = (marker_line(TABLE_START)?, marker_line(TABLE_END)?) else {
        bail!(
            "{} has no lines `{TABLE_START}` and `{TABLE_END}` to put the metrics table between",
            path.display()
        );
    };
    ensure!(
        start < end,
        "{}: `{TABLE_END}` comes before `{TABLE_START}`",
        path.display()
    );
    Ok(format!(
        "{}{table}\n{}",
        lines[..=start].concat(),
        lines[end..].concat()
    ))
}

/// Store the reference sets' figures in the manifest, for the page's table.
fn record_references(args: &EvalArgs, judge: &str, references: &[(String, Figures)]) -> Result<()> {
    let mut manifest = resolve::read_manifest(&args.manifest)?;
    manifest.references = references
        .iter()
        .map(|(name, figures)| {
            let evaluation = measured(args, args.count, judge, figures.clone());
            (name.clone(), evaluation)
        })
        .collect();
    atomic::write(&args.manifest, manifest.to_json().as_bytes())
}

/// Store `evaluation` in the manifest entry of the model `args` names.
fn record(args: &ModelArgs, evaluation: Evaluation) -> Result<()> {
    let mut manifest = resolve::read_manifest(&args.manifest)?;
    manifest_entry(&mut manifest, &args.model, &args.manifest)?.evaluation = Some(evaluation);
    atomic::write(&args.manifest, manifest.to_json().as_bytes())?;
    eprintln!("recorded in {}", args.manifest.display());
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_goes_between_marker_lines_only() {
        let text = format!(
            "Run it to rewrite `{TABLE_START}`.\n{TABLE_START}\nold\n{TABLE_END}\nThe end.\n"
        );
        let path = Path::new("README.md");
        assert_eq!(
            replace_table(&text, "| new |", path).unwrap(),
            format!(
                "Run it to rewrite `{TABLE_START}`.\n{TABLE_START}\n| new |\n{TABLE_END}\nThe end.\n"
            )
        );
        let twice = format!("{TABLE_START}\n{TABLE_START}\n{TABLE_END}\n");
        let err = replace_table(&twice, "", path).unwrap_err().to_string();
        assert!(err.contains("has 2 lines"), "{err}");
        let reversed = format!("{TABLE_END}\n{TABLE_START}\n");
        assert!(replace_table(&reversed, "", path).is_err());
    }
}
