//! `kiln export`: publish a run's weights into a pretrained/ folder.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use kiln_core::manifest::{Manifest, ManifestEntry, Provenance, validate_name};
use kiln_core::weights;

use crate::cli::ExportArgs;
use crate::run_dir::RunDir;
use crate::trainer::OBJECTIVE;
use crate::{atomic, resolve};

pub fn run(args: ExportArgs) -> Result<()> {
    validate_name(&args.name)?;
    let run = RunDir::new(&args.run);
    let config = run.config()?;
    let state = run.state()?;
    let bytes = run.latest_weights()?;
    // Refuse to publish weights that would not load.
    config
        .spec
        .load(&bytes, &Device::flex())
        .context("the run's weights do not load into its own architecture")?;
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
        // The data directory is already in `command`.
        dataset: format!("MNIST ({} training images)", state.train_images),
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
