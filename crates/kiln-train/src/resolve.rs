//! Turning `--model NAME_OR_PATH` into an architecture and verified weight bytes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use kiln_core::audio::SpectrogramSettings;
use kiln_core::io::manifest::{Manifest, ManifestEntry};
use kiln_core::io::weights;
use kiln_core::model::{Model, ModelSpec};

use crate::cli::ModelArgs;
use crate::run_dir::RunDir;

/// The model `args` names, loaded onto the device it asks for.
pub fn load(args: &ModelArgs) -> Result<(Model, Device)> {
    let (model, _, device) = load_resolved(args)?;
    Ok((model, device))
}

/// [`load`], with what its run or manifest entry says of it.
pub fn load_resolved(args: &ModelArgs) -> Result<(Model, Resolved, Device)> {
    let resolved = resolve(&args.model, &args.manifest)?;
    let device = args.device.device()?;
    let model = resolved
        .spec
        .load(&resolved.weights, &device)
        .with_context(|| format!("loading {}", args.model))?;
    Ok((model, resolved, device))
}

/// A model ready to load.
pub struct Resolved {
    pub spec: ModelSpec,
    pub weights: Vec<u8>,
    /// The class names it was trained with, where its run or manifest entry records them.
    pub classes: Option<Vec<String>>,
    /// A sound model's spectrograms, as its run or manifest entry records them.
    pub spectrogram: Option<SpectrogramSettings>,
}

/// `model` is a run directory, a weight file listed in a manifest beside it or carrying its own
/// spec (a model downloaded from the page), or a name in `manifest`.
pub fn resolve(model: &str, manifest: &Path) -> Result<Resolved> {
    let path = Path::new(model);
    if path.is_dir() {
        let run = RunDir::new(path);
        let config = run.config()?;
        return Ok(Resolved {
            spec: config.spec,
            weights: run.latest_weights()?,
            classes: config.classes,
            spectrogram: config.settings.spectrogram,
        });
    }
    if path.is_file() {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let manifest_path = dir.join("manifest.json");
        let file_name = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        let listed = manifest_path
            .is_file()
            .then(|| read_manifest(&manifest_path))
            .transpose()?
            .and_then(|manifest| manifest.models.into_iter().find(|m| m.file == file_name));
        if let Some(entry) = listed {
            return load_entry(&entry, path.to_path_buf());
        }
        let weights = std::fs::read(path).with_context(|| format!("reading {model}"))?;
        let Some(spec) =
            ModelSpec::embedded_in(&weights).with_context(|| format!("reading {model}"))?
        else {
            bail!(
                "{model} does not say what model it holds, and no manifest.json beside it lists it: \
                 pass a file that `kiln export` listed or the page's Download wrote"
            );
        };
        return Ok(Resolved {
            spec,
            weights,
            classes: None,
            spectrogram: None,
        });
    }
    let manifest_data = read_manifest(manifest).with_context(|| {
        format!("{model:?} is not a file or run directory, so it was looked up as a model name")
    })?;
    let entry = manifest_data.get(model)?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    load_entry(entry, dir.join(&entry.file))
}

pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Manifest::from_json(&text).with_context(|| format!("parsing {}", path.display()))
}

fn load_entry(entry: &ManifestEntry, file: PathBuf) -> Result<Resolved> {
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    weights::verify_sha256(&bytes, &entry.sha256)
        .with_context(|| format!("checking {}", file.display()))?;
    Ok(Resolved {
        spec: entry.spec.clone(),
        weights: bytes,
        classes: entry.classes.clone(),
        spectrogram: entry.spectrogram,
    })
}
