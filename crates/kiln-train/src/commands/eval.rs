//! `kiln eval`: draw images from a generative model and judge them with the digit classifier.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail, ensure};
use burn::tensor::Tensor;
use kiln_core::manifest::Evaluation;
use kiln_core::metrics::ClassTally;
use kiln_core::mnist::NUM_CLASSES;
use kiln_core::model::Model;
use kiln_core::request::{MAX_SAMPLE_COUNT, SampleRequest};
use kiln_core::weights;

use crate::cli::{EvalArgs, ModelArgs};
use crate::command_line::command_line;
use crate::{atomic, progress, resolve};

/// Images per sampling call: a multiple of 10, so every batch asks a conditional model for each
/// digit equally often.
const BATCH: usize = 500;

pub fn run(args: EvalArgs) -> Result<()> {
    ensure!(
        args.count > 0,
        "--count must be at least 1, got {}",
        args.count
    );
    let diffusion = args.diffusion.request()?;
    let (model, device) = resolve::load(&args.model)?;
    let judge_args = ModelArgs {
        model: args.classifier.clone(),
        manifest: args.model.manifest.clone(),
        device: args.model.device,
    };
    let judge = resolve::resolve(&judge_args.model, &judge_args.manifest)?;
    let Model::Classifier(classifier) = judge
        .spec
        .load(&judge.weights, &device)
        .with_context(|| format!("loading the classifier {}", args.classifier))?
    else {
        bail!("--classifier {} is not a classifier", args.classifier);
    };

    let bar = progress::bar(args.count as u64, "judging".into());
    let mut tally = ClassTally::new(NUM_CLASSES);
    let mut drawn = 0;
    for (batch, seed) in (args.seed..).enumerate() {
        if drawn == args.count {
            break;
        }
        let count = BATCH.min(args.count - drawn).min(MAX_SAMPLE_COUNT);
        let images = model
            .sample(
                SampleRequest::new(count, seed)?.with_diffusion(diffusion),
                &device,
            )
            .with_context(|| format!("drawing batch {batch}"))?;
        // Without a class, a conditional model draws image i as digit i mod num_classes.
        let requested: Option<Vec<usize>> = model
            .num_classes()
            .map(|n| (0..count).map(|i| i % n).collect());
        tally.add(
            &predictions(classifier.predict(images))?,
            requested.as_deref(),
        );
        drawn += count;
        bar.inc(count as u64);
    }
    bar.finish_and_clear();

    let mut metrics = BTreeMap::from([("class_entropy".to_owned(), tally.normalized_entropy())]);
    if let Some(accuracy) = tally.conditional_accuracy() {
        metrics.insert("conditional_accuracy".into(), accuracy);
    }
    let evaluation = Evaluation {
        command: command_line(),
        count: args.count,
        seed: args.seed,
        judge: format!(
            "{} (sha256 {})",
            args.classifier,
            &weights::sha256_hex(&judge.weights)[..12]
        ),
        metrics,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        print_table(&args.model.model, &evaluation, &tally);
    }
    if args.record {
        record(&args.model, evaluation)?;
    }
    Ok(())
}

/// The predicted classes of a batch as indices.
fn predictions(classes: Tensor<1, burn::tensor::Int>) -> Result<Vec<usize>> {
    let values = classes
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| anyhow::anyhow!("reading predictions: {e:?}"))?;
    values
        .into_iter()
        .map(|c| usize::try_from(c).context("negative class"))
        .collect()
}

fn print_table(name: &str, evaluation: &Evaluation, tally: &ClassTally) {
    println!(
        "{name}: {} images, seed {}, judged by {}",
        evaluation.count, evaluation.seed, evaluation.judge
    );
    for (metric, value) in &evaluation.metrics {
        println!("  {metric:<22} {value:.4}");
    }
    let shares: Vec<String> = tally
        .histogram()
        .iter()
        .enumerate()
        .map(|(class, share)| format!("{class}: {:.1}%", 100.0 * share))
        .collect();
    println!("  predicted classes      {}", shares.join("  "));
}

/// Store `evaluation` in the manifest entry of the model `args` names.
fn record(args: &ModelArgs, evaluation: Evaluation) -> Result<()> {
    let mut manifest = resolve::read_manifest(&args.manifest)?;
    let Some(entry) = manifest.models.iter_mut().find(|m| m.name == args.model) else {
        bail!(
            "--record stores figures in the manifest, so --model must name a model in {} (got {})",
            args.manifest.display(),
            args.model
        );
    };
    entry.evaluation = Some(evaluation);
    atomic::write(&args.manifest, manifest.to_json().as_bytes())?;
    eprintln!("recorded in {}", args.manifest.display());
    Ok(())
}
