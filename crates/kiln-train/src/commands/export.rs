//! `kiln export`: publish a run's weights into a pretrained/ folder.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use kiln_core::manifest::{Manifest, ManifestEntry, Provenance, validate_name};
use kiln_core::model::ModelSpec;
use kiln_core::weights::{self, Precision};

use crate::cli::ExportArgs;
use crate::run_dir::{RunConfig, RunDir};
use crate::trainer::OBJECTIVE;
use crate::{atomic, resolve};

pub fn run(args: ExportArgs) -> Result<()> {
    validate_name(&args.name)?;
    let run = RunDir::new(&args.run);
    let config = run.config()?;
    let state = run.state()?;
    let model = config
        .spec
        .load(&run.latest_weights()?, &Device::flex())
        .context("the run's weights do not load into its own architecture")?;
    let precision = if args.half {
        Precision::Half
    } else {
        Precision::Full
    };
    // The file also says what model it holds, so it loads even without the manifest.
    let bytes = config.spec.embed_in(&model.to_bytes(precision)?)?;
    let Some(last) = state.history.last() else {
        bail!("run {} has no finished epoch to export", args.run.display());
    };
    let loss = |split: &BTreeMap<String, f64>, name: &str| {
        split
            .get(OBJECTIVE)
            .copied()
            .with_context(|| format!("run state has no {name} {OBJECTIVE}"))
    };
    let settings = &config.settings;
    let provenance = Provenance {
        dataset: describe_data(&config, state.train_images),
        command: std::iter::once(&config.command)
            .chain(&state.resumed_with)
            .cloned()
            .collect::<Vec<_>>()
            .join(" && "),
        epochs: state.epochs_done,
        steps: state.steps,
        seed: settings.seed,
        wall_time_secs: state.wall_time_secs.round(),
        final_train_loss: loss(&last.train, "train")?,
        final_test_loss: loss(&last.test, "test")?,
        test_elbo_nats: last.test.get("neg_elbo").map(|nll| -nll),
        final_test_terms: last
            .test
            .iter()
            .filter(|(name, _)| *name != OBJECTIVE)
            .map(|(name, value)| (name.clone(), *value))
            .collect(),
    };
    std::fs::create_dir_all(&args.to).with_context(|| format!("creating {}", args.to.display()))?;
    let manifest_path = args.to.join("manifest.json");
    let mut manifest = if manifest_path.exists() {
        resolve::read_manifest(&manifest_path)?
    } else {
        Manifest::default()
    };
    let file = format!("{}.bpk", args.name);
    atomic::write(&args.to.join(&file), &bytes)?;
    manifest.upsert(ManifestEntry {
        name: args.name.clone(),
        spec: config.spec,
        file,
        sha256: weights::sha256_hex(&bytes),
        size: bytes.len() as u64,
        provenance,
        evaluation: None,
    });
    atomic::write(&manifest_path, manifest.to_json().as_bytes())?;
    eprintln!(
        "exported {} ({} bytes) to {}",
        args.name,
        bytes.len(),
        args.to.display()
    );
    Ok(())
}

/// What the model learnt from (the path itself is in the command).
fn describe_data(config: &RunConfig, train_examples: usize) -> String {
    let data = &config.settings.data;
    match &config.spec {
        ModelSpec::Gpt(_) => {
            let name = data.file_name().unwrap_or(data.as_os_str());
            format!(
                "{} ({train_examples} training characters; the last tenth held out)",
                name.to_string_lossy()
            )
        }
        _ => format!("MNIST ({train_examples} training images)"),
    }
}
