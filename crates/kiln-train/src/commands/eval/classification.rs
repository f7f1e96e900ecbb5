//! A classifier's figures: the share of the test images it labels correctly.

use anyhow::{Context, Result, bail};

use super::figures::ClassificationFigures;
use super::samples::Judged;
use super::{BATCH, load_data, measured, record_as};
use crate::cli::EvalArgs;
use crate::progress;
use crate::resolve::Resolved;

/// A classifier's figures: the share of the first `--count` test images it labels correctly.
pub fn judge_classification(args: &EvalArgs, name: &str, resolved: Resolved) -> Result<()> {
    let device = args.device.device()?;
    let model = resolved
        .spec
        .load(&resolved.weights, &device)
        .with_context(|| format!("loading {name}"))?;
    let Some(classifier) = model.capable().recogniser() else {
        bail!("{name} is not a classifier");
    };
    let test = load_data(
        args,
        classifier.image_shape(),
        resolved.spectrogram.as_ref(),
    )?
    .test;
    let indices: Vec<usize> = (0..args.count.min(test.len())).collect();
    let bar = progress::bar(indices.len() as u64, format!("classifying with {name}"));
    let mut judged = Judged::new(classifier);
    for chunk in indices.chunks(BATCH) {
        let labels: Vec<usize> = chunk
            .iter()
            .map(|&i| usize::from(test.labels()[i]))
            .collect();
        judged.add(classifier, test.images(chunk, &device), Some(&labels))?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let accuracy = judged
        .tally
        .conditional_accuracy()
        .context("no test images to classify")?;
    let reference = format!(
        "the test images of {} and their labels",
        args.data.display()
    );
    let evaluation = measured(
        args,
        indices.len(),
        &reference,
        &ClassificationFigures {
            test_accuracy: accuracy,
        },
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        println!(
            "{name}: {:.2} % of {} test images labelled correctly",
            100.0 * accuracy,
            evaluation.count
        );
    }
    if args.record {
        record_as(args, name, evaluation)?;
    }
    Ok(())
}
