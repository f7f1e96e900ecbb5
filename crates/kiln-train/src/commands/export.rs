//! `kiln export`: publish a run's weights into a pretrained/ folder.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use kiln_core::audio::SpectrogramSettings;
use kiln_core::io::manifest::{Manifest, ManifestEntry, Provenance, validate_name};
use kiln_core::io::weights;
use kiln_core::model::ModelSpec;

use crate::cli::ExportArgs;
use crate::run_dir::{RunConfig, RunDir};
use crate::trainer::OBJECTIVE;
use crate::{atomic, resolve, spoken_digits};

pub fn run(args: ExportArgs) -> Result<()> {
    let manifest_path = args.to.join("manifest.json");
    let mut manifest = if manifest_path.exists() {
        resolve::read_manifest(&manifest_path)?
    } else {
        Manifest::default()
    };
    let (name, source) = match (&args.run, &args.model) {
        (Some(run), _) => {
            let name = args
                .name
                .clone()
                .context("--name names the exported model")?;
            (name, from_run(run, args.data_name.as_deref())?)
        }
        (None, Some(model)) => {
            let entry = manifest.get(model)?;
            let bytes = resolve::resolve(model, &manifest_path)?.weights;
            let source = Source {
                spec: entry.spec.clone(),
                classes: entry.classes.clone(),
                spectrogram: entry.spectrogram,
                weights: bytes,
                provenance: entry.provenance.clone(),
            };
            (args.name.clone().unwrap_or_else(|| model.clone()), source)
        }
        (None, None) => bail!("pass --run (a run directory) or --model (a model in the manifest)"),
    };
    validate_name(&name)?;
    let model = source
        .spec
        .load(&source.weights, &Device::flex())
        .context("the weights do not load into their own architecture")?;
    // The file also says what model it holds, so it loads even without the manifest.
    let bytes = source.spec.embed_in(&model.to_bytes(args.precision)?)?;
    std::fs::create_dir_all(&args.to).with_context(|| format!("creating {}", args.to.display()))?;
    let file = format!("{name}.bpk");
    atomic::write(&args.to.join(&file), &bytes)?;
    manifest.upsert(ManifestEntry {
        name: name.clone(),
        capabilities: source.spec.capabilities(),
        spec: source.spec,
        classes: source.classes,
        spectrogram: source.spectrogram,
        file,
        sha256: weights::sha256_hex(&bytes),
        size: bytes.len() as u64,
        precision: args.precision,
        provenance: source.provenance,
        evaluation: None,
        guidance_sweep: Vec::new(),
    });
    atomic::write(&manifest_path, manifest.to_json().as_bytes())?;
    eprintln!(
        "exported {name} ({} bytes, {}) to {}",
        bytes.len(),
        args.precision,
        args.to.display()
    );
    Ok(())
}

/// What `kiln export` publishes: an architecture, its weights and how they were trained.
struct Source {
    spec: ModelSpec,
    classes: Option<Vec<String>>,
    spectrogram: Option<SpectrogramSettings>,
    weights: Vec<u8>,
    provenance: Provenance,
}

/// A run's latest weights and the provenance its config and state record; `data_name` names
/// its training data.
fn from_run(path: &std::path::Path, data_name: Option<&str>) -> Result<Source> {
    let run = RunDir::new(path);
    let config = run.config()?;
    let state = run.state()?;
    let Some(last) = state.history.last() else {
        bail!("run {} has no finished epoch to export", path.display());
    };
    let loss = |split: &BTreeMap<String, f64>, name: &str| {
        split
            .get(OBJECTIVE)
            .copied()
            .with_context(|| format!("run state has no {name} {OBJECTIVE}"))
    };
    let settings = &config.settings;
    let provenance = Provenance {
        dataset: describe_data(&config, data_name, state.train_images),
        data_command: spoken_digits::corpus_command(&settings.data),
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
    Ok(Source {
        weights: run.latest_weights()?,
        spec: config.spec,
        classes: config.classes,
        spectrogram: config.settings.spectrogram,
        provenance,
    })
}

/// What the model learnt from (the path itself is in the command), called `data_name` if given.
fn describe_data(config: &RunConfig, data_name: Option<&str>, train_examples: usize) -> String {
    let data = &config.settings.data;
    let folder = data
        .file_name()
        .unwrap_or(data.as_os_str())
        .to_string_lossy();
    if let Some(settings) = &config.settings.spectrogram {
        let name = data_name.map_or_else(|| format!("the clips in {folder}"), str::to_owned);
        return format!(
            "{name} ({train_examples} training clips, as {}×{} log-mel spectrograms at {} Hz)",
            settings.bands, settings.bands, settings.sample_rate
        );
    }
    if let Some(shape) = config.spec.image_shape() {
        if config.settings.pictures.is_none() {
            let name = data_name.unwrap_or("MNIST");
            return format!("{name} ({train_examples} training images)");
        }
        let name = data_name.map_or_else(|| format!("the pictures in {folder}"), str::to_owned);
        let classes = config.classes.as_ref().map_or(0, Vec::len);
        return format!("{name} ({train_examples} training images, {shape}, {classes} classes)");
    }
    let name = data_name.unwrap_or(&folder);
    format!("{name} ({train_examples} training characters; the last tenth held out)")
}
