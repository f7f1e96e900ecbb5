//! `pretrained/manifest.json`: which weight files exist, what architecture each needs, how it was
//! trained, and the SHA-256 that the page and the CLI check before loading it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::audio::{SoundError, SpectrogramSettings};
use crate::family::Capability;
use crate::io::weights::Precision;
use crate::model::ModelSpec;

/// Version of the manifest layout; bumped when a field changes meaning.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON for Kiln: {0}")]
    Parse(#[from] serde_json::Error),
    #[error(
        "manifest version {found} is not supported (this build reads version {MANIFEST_VERSION})"
    )]
    Version { found: u32 },
    #[error("unknown model {name:?}; the manifest has: {}", available.join(", "))]
    UnknownModel {
        name: String,
        available: Vec<String>,
    },
    #[error("model {name:?}: {error}")]
    Sound { name: String, error: SoundError },
    #[error(
        "invalid model name {0:?}: use lower-case letters, digits, '-' and '_' (it becomes a file name)"
    )]
    BadName(String),
}

/// The list of shipped models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub models: Vec<ManifestEntry>,
    /// The reference sets judged beside the models (`kiln eval --all`): real digits and noise,
    /// so a model's figures can be read against the best and the worst.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub references: BTreeMap<String, Evaluation>,
}

impl Default for Manifest {
    fn default() -> Self {
        Self {
            version: MANIFEST_VERSION,
            models: Vec::new(),
            references: BTreeMap::new(),
        }
    }
}

/// One exported model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// What users ask for: `kiln sample --model NAME`, `kiln.model(NAME)`.
    pub name: String,
    /// Architecture kind and its config.
    #[serde(flatten)]
    pub spec: ModelSpec,
    /// An image model's class names, in label order (`None`: the digits 0–9, or no classes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// A sound model's: how its images are spectrograms of clips, to be heard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spectrogram: Option<SpectrogramSettings>,
    /// What the model can do: derived from the spec whenever a manifest is read or written,
    /// so that JavaScript reads it instead of knowing the kinds.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Weight file, relative to the manifest.
    pub file: String,
    /// Lower-case hex SHA-256 of the weight file.
    pub sha256: String,
    /// Size of the weight file in bytes.
    pub size: u64,
    /// How the weight file stores its floats (manifests written before Kiln recorded it say
    /// nothing, which reads as f32); every precision loads into f32.
    #[serde(default)]
    pub precision: Precision,
    pub provenance: Provenance,
    /// Quality figures measured after training (`kiln eval --record`); dropped on re-export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// A diffusion model's figures at each of several guidance weights (`kiln eval
    /// --guidance-sweep … --record`), lowest first; dropped on re-export.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guidance_sweep: Vec<GuidedEvaluation>,
}

/// One point of a guidance sweep: the figures of samples drawn at one guidance weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuidedEvaluation {
    /// The classifier-free guidance weight w (0: unconditional, 1: the conditional model).
    pub guidance: f64,
    #[serde(flatten)]
    pub evaluation: Evaluation,
}

/// How well a model (or a reference set) holds up, and how that was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The exact command line that measured it.
    pub command: String,
    /// When, in UTC (RFC 3339, e.g. `2026-11-23T10:04:05Z`); absent in manifests written
    /// before Kiln recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Images judged.
    pub count: usize,
    pub seed: u64,
    /// The classifier that judged the images: its name and weight sha256.
    pub judge: String,
    /// Figures by name, e.g. `conditional_accuracy`, `class_entropy`.
    pub metrics: BTreeMap<String, f64>,
}

/// How a model was trained, so a number in the README can be traced to a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Data set description, e.g. "MNIST train (60000 images)".
    pub dataset: String,
    /// The command that made the training data, where Kiln made it (`kiln data …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_command: Option<String>,
    /// The exact command line that trained it; resumed runs list each command, joined by `&&`.
    pub command: String,
    pub epochs: usize,
    pub steps: u64,
    pub seed: u64,
    /// Training wall time in seconds, summed over resumed sessions.
    pub wall_time_secs: f64,
    /// Mean training objective over the last epoch (per image).
    pub final_train_loss: f64,
    /// Mean objective on the held-out test set after the last epoch (per image).
    pub final_test_loss: f64,
    /// For VAEs: the test-set ELBO in nats per image (a lower bound on log-likelihood).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_elbo_nats: Option<f64>,
    /// The other per-image terms on the test set after the last epoch, by name: e.g.
    /// `error_rate` for the classifier, `mse` for the autoencoder, `kl` for VAEs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub final_test_terms: BTreeMap<String, f64>,
}

impl Manifest {
    pub fn from_json(text: &str) -> Result<Self, ManifestError> {
        let mut manifest: Manifest = serde_json::from_str(text)?;
        if manifest.version != MANIFEST_VERSION {
            return Err(ManifestError::Version {
                found: manifest.version,
            });
        }
        for entry in &manifest.models {
            if let Some(settings) = &entry.spectrogram {
                settings.validate().map_err(|error| ManifestError::Sound {
                    name: entry.name.clone(),
                    error,
                })?;
            }
        }
        manifest.derive_capabilities();
        Ok(manifest)
    }

    pub fn to_json(&self) -> String {
        let mut manifest = self.clone();
        manifest.derive_capabilities();
        // Serialising plain data to a string cannot fail.
        serde_json::to_string_pretty(&manifest).expect("manifest serialises") + "\n"
    }

    fn derive_capabilities(&mut self) {
        for entry in &mut self.models {
            entry.capabilities = entry.spec.capabilities();
        }
    }

    pub fn get(&self, name: &str) -> Result<&ManifestEntry, ManifestError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| ManifestError::UnknownModel {
                name: name.to_owned(),
                available: self.models.iter().map(|m| m.name.clone()).collect(),
            })
    }

    /// Add `entry`, replacing any model of the same name.
    pub fn upsert(&mut self, entry: ManifestEntry) {
        match self.models.iter_mut().find(|m| m.name == entry.name) {
            Some(existing) => *existing = entry,
            None => self.models.push(entry),
        }
    }
}

/// Model names become file names and URL parts, so keep them plain.
pub fn validate_name(name: &str) -> Result<(), ManifestError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ManifestError::BadName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::vae::VaeConfig;

    fn entry(name: &str) -> ManifestEntry {
        ManifestEntry {
            name: name.into(),
            spec: ModelSpec::Vae(VaeConfig::new()),
            classes: None,
            spectrogram: None,
            capabilities: Vec::new(),
            file: format!("{name}.bpk"),
            sha256: "00".repeat(32),
            size: 1,
            precision: Precision::Int8,
            provenance: Provenance {
                dataset: "toy".into(),
                data_command: None,
                command: "kiln train vae".into(),
                epochs: 1,
                steps: 2,
                seed: 3,
                wall_time_secs: 4.0,
                final_train_loss: 5.0,
                final_test_loss: 6.0,
                test_elbo_nats: Some(-6.0),
                final_test_terms: BTreeMap::from([("kl".into(), 7.0)]),
            },
            evaluation: None,
            guidance_sweep: Vec::new(),
        }
    }

    #[test]
    fn json_round_trip_and_layout() {
        let mut manifest = Manifest::default();
        manifest.upsert(entry("vae"));
        let json = manifest.to_json();
        assert!(json.contains("\"kind\": \"vae\""), "{json}");
        assert!(json.contains("\"latent_dim\": 16"), "{json}");
        assert!(json.contains("\"precision\": \"int8\""), "{json}");
        let read = Manifest::from_json(&json).unwrap();
        assert_eq!(
            read.models[0].capabilities,
            [Capability::Sample, Capability::Interpolate],
            "derived from the spec, whatever the entry said"
        );
        assert_eq!(read.to_json(), json);
    }

    #[test]
    fn upsert_replaces_by_name() {
        let mut manifest = Manifest::default();
        manifest.upsert(entry("a"));
        manifest.upsert(entry("b"));
        let mut again = entry("a");
        again.size = 9;
        manifest.upsert(again);
        assert_eq!(manifest.models.len(), 2);
        assert_eq!(manifest.get("a").unwrap().size, 9);
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let mut manifest = Manifest::default();
        manifest.upsert(entry("vae"));
        let err = manifest.get("gan").unwrap_err().to_string();
        assert_eq!(err, "unknown model \"gan\"; the manifest has: vae");
    }

    #[test]
    fn rejects_other_versions_and_kinds() {
        assert!(matches!(
            Manifest::from_json(r#"{"version": 99, "models": []}"#),
            Err(ManifestError::Version { found: 99 })
        ));
        let json = Manifest::default()
            .to_json()
            .replace("[]", r#"[{"name":"x","kind":"nope"}]"#);
        assert!(matches!(
            Manifest::from_json(&json),
            Err(ManifestError::Parse(_))
        ));
    }

    #[test]
    fn names_are_file_safe() {
        assert!(validate_name("vae-2_x").is_ok());
        for bad in ["", "../x", "Vae", "a b", "a/b"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
