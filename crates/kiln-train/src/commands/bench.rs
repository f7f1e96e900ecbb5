//! `kiln bench`: how fast each model does its job natively — sampling (or denoising, or
//! classifying; writing characters, for text models) at several batch sizes, and training
//! steps — as a table of images (or characters, or text windows) per second,
//! median of several timed runs after a warm-up one.

use std::time::Instant;

use anyhow::{Result, ensure};
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::ValueEnum;
use kiln_core::data::dataset::ImageShape;
use kiln_core::data::mnist::{IMAGE_SIDE, NUM_CLASSES};
use kiln_core::limits::MAX_BATCH;
use kiln_core::model::Model;
use kiln_core::model::ModelSpec;
use kiln_core::models::diffusion::{DEFAULT_GUIDANCE, DEFAULT_STEPS};
use kiln_core::noise;
use kiln_core::request::TextRequest;
use kiln_core::request::{DenoiseRequest, SampleRequest};
use kiln_core::text::{TextBatch, TokenChoice};
use kiln_core::train::{DigitBatch, Objective, WithObjective};

use crate::cli::BenchArgs;
use crate::{progress, resolve};

const PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// The learning rate of the timed steps; irrelevant to speed, but a step needs one.
const LEARNING_RATE: f64 = 1e-4;

pub fn run(args: BenchArgs) -> Result<()> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    for &batch in args.batches.iter().chain([&args.train_batch]) {
        ensure!(
            (1..=MAX_BATCH).contains(&batch),
            "batch sizes must be from 1 to {MAX_BATCH}, got {batch}"
        );
    }
    let names = match &args.models {
        Some(names) => names.clone(),
        None => resolve::read_manifest(&args.manifest)?
            .models
            .into_iter()
            .map(|m| m.name)
            .collect(),
    };
    let device = args.device.device()?;
    let measurements = names.len() * (args.batches.len() + 1) * (args.runs + 1);
    let bar = progress::bar(measurements as u64, "benchmarking".into());
    let mut rows = Vec::new();
    for name in &names {
        let resolved = resolve::resolve(name, &args.manifest)?;
        let model = resolved.spec.load(&resolved.weights, &device)?;
        for &batch in &args.batches {
            bar.set_message(format!("{name}, {} × {batch}", work(&model)));
            let times = timed(args.runs, || infer(&model, batch, &device), &bar)?;
            rows.push(row(name, &work(&model), batch, &times));
        }
        bar.set_message(format!("{name}, training × {}", args.train_batch));
        let train_device = device.clone().autodiff();
        let training = TrainingSteps {
            spec: &resolved.spec,
            batch: args.train_batch,
            runs: args.runs,
            device: train_device.clone(),
            bar: &bar,
        };
        let times = resolved.spec.init_objective(&train_device, training)??;
        rows.push(row(name, "train step", args.train_batch, &times));
    }
    bar.finish_and_clear();
    let backend = args
        .device
        .to_possible_value()
        .expect("no variant is skipped");
    println!(
        "kiln bench --device {}: median (min–max) of {} runs after one warm-up run",
        backend.get_name(),
        args.runs
    );
    println!("| model | work | batch | per second | ms per call |");
    println!("|---|---|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

/// What the model does for a user, named for the table.
fn work(model: &Model) -> String {
    let capable = model.capable();
    if capable.restorer().is_some() {
        "denoise".into()
    } else if capable.recogniser().is_some() {
        "classify".into()
    } else if capable.writer().is_some() {
        "write characters (batch = characters, one at a time)".into()
    } else if capable.diffusion().is_some() {
        format!("sample (DDIM {DEFAULT_STEPS} steps, guidance {DEFAULT_GUIDANCE})")
    } else {
        "sample".into()
    }
}

/// One call of the model's work on `batch` digits, read back to the host so that asynchronous
/// backends finish it inside the timing.
fn infer(model: &Model, batch: usize, device: &Device) -> Result<()> {
    let capable = model.capable();
    if capable.restorer().is_some() {
        let digits = noise::uniform_values(0, batch * PIXELS);
        let request = DenoiseRequest::new(digits, ImageShape::MNIST, 0.4, 0)?;
        model.denoise(&request, device)?.restored.into_data();
    } else if let Some(classifier) = capable.recogniser() {
        let images = noise_images(batch, device);
        classifier.features_and_probabilities(images).1.into_data();
    } else if capable.writer().is_some() {
        let request = TextRequest::new("\n".into(), batch, TokenChoice::default(), 0)?;
        let mut writing = model.writing(&request)?;
        while writing.next_char(device)?.is_some() {}
    } else {
        model
            .sample(SampleRequest::new(batch, 0)?, device)?
            .into_data();
    }
    Ok(())
}

fn noise_images(batch: usize, device: &Device) -> Tensor<4> {
    let values = noise::uniform_values(0, batch * PIXELS);
    Tensor::from_data(
        TensorData::new(values, [batch, 1, IMAGE_SIDE, IMAGE_SIDE]),
        device,
    )
}

/// Seconds of each of `runs` calls of `call`, after one untimed warm-up call.
fn timed(
    runs: usize,
    mut call: impl FnMut() -> Result<()>,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<f64>> {
    call()?;
    bar.inc(1);
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            call()?;
            bar.inc(1);
            Ok(start.elapsed().as_secs_f64())
        })
        .collect()
}

/// Timed Adam steps of a freshly initialised model on a batch of noise: images, or random
/// characters filling the text model's context.
struct TrainingSteps<'a> {
    spec: &'a ModelSpec,
    batch: usize,
    runs: usize,
    device: Device,
    bar: &'a indicatif::ProgressBar,
}

impl WithObjective for TrainingSteps<'_> {
    type Output = Result<Vec<f64>>;

    fn digits<M: Objective<Batch = DigitBatch>>(self, model: M) -> Result<Vec<f64>> {
        let labels: Vec<i32> = (0..self.batch).map(|i| (i % NUM_CLASSES) as i32).collect();
        let batch = DigitBatch {
            images: noise_images(self.batch, &self.device),
            labels: Tensor::<1, Int>::from_data(
                TensorData::new(labels, [self.batch]),
                &self.device,
            ),
        };
        self.time_steps(model, &batch)
    }

    fn text<M: Objective<Batch = TextBatch>>(self, model: M) -> Result<Vec<f64>> {
        let Some(text) = self.spec.text_shape() else {
            anyhow::bail!("a text model without a text spec");
        };
        let (context, vocab) = (text.context, text.vocabulary.len());
        let tokens = |offset: usize| {
            let values = (0..self.batch * context)
                .map(|i| ((i * 7 + offset) % vocab) as i32)
                .collect();
            Tensor::<2, Int>::from_data(
                TensorData::new(values, [self.batch, context]),
                &self.device,
            )
        };
        let batch = TextBatch {
            inputs: tokens(0),
            targets: tokens(1),
        };
        self.time_steps(model, &batch)
    }
}

impl TrainingSteps<'_> {
    fn time_steps<M: Objective>(self, model: M, batch: &M::Batch) -> Result<Vec<f64>> {
        let mut optimizer: ModuleOptimizer = M::adam().init();
        let mut model = Some(model);
        let mut seed = 0;
        timed(
            self.runs,
            || {
                let (next, losses) = model
                    .take()
                    .expect("the model is put back after every step")
                    .train_step(batch, seed, &mut optimizer, LEARNING_RATE);
                losses.total.into_data();
                model = Some(next);
                seed += 1;
                Ok(())
            },
            self.bar,
        )
    }
}

/// One line of the table: items (images, characters) per second at the median run (and at the slowest and
/// fastest), and the median call in milliseconds.
fn row(model: &str, work: &str, batch: usize, seconds: &[f64]) -> String {
    let mut sorted = seconds.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let rate = |s: f64| batch as f64 / s;
    format!(
        "| {model} | {work} | {batch} | {:.1} ({:.1}–{:.1}) | {:.1} |",
        rate(median),
        rate(sorted[sorted.len() - 1]),
        rate(sorted[0]),
        1000.0 * median
    )
}
