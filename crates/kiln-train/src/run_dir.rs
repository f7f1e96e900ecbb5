//! A training run on disk. Inference and resumption rebuild everything from these files:
//!
//! ```text
//! RUN_DIR/run.json              what is trained and how (written once)
//! RUN_DIR/state.json            progress; names the latest complete checkpoint (atomic)
//! RUN_DIR/ckpt-NNNN/model.bpk   weights after epoch NNNN
//! RUN_DIR/ckpt-NNNN/optim.bpk   Adam moments after epoch NNNN
//! RUN_DIR/ckpt-NNNN/ema.bpk     runs with --ema: the averaged weights after epoch NNNN
//! RUN_DIR/previews/NNNN.png     image models: the same latents decoded after each epoch
//! RUN_DIR/previews/NNNN.txt     text models: text written from the same seed after each epoch
//! ```
//!
//! A checkpoint directory is complete before `state.json` points at it, so a kill at any moment
//! leaves the previous checkpoint in force and loses at most the epoch in progress.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kiln_core::audio::SpectrogramSettings;
use kiln_core::data::image::ImageBatch;
use kiln_core::limits::{MAX_BATCH, check_sizes};
use kiln_core::model::ModelSpec;
use kiln_core::train::LrSchedule;
use serde::{Deserialize, Serialize};

use crate::pictures::PictureOptions;
use crate::{atomic, png};

const RUN_FILE: &str = "run.json";
const STATE_FILE: &str = "state.json";
const MODEL_FILE: &str = "model.bpk";
const OPTIM_FILE: &str = "optim.bpk";
const EMA_FILE: &str = "ema.bpk";
const PREVIEW_DIR: &str = "previews";

/// What a run trains and how; fixed when the run starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub spec: ModelSpec,
    pub settings: TrainSettings,
    /// The command line that started the run.
    pub command: String,
    /// An image model's class names, in label order (`None` in runs started before Kiln read
    /// picture folders: the digits 0–9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    /// The MNIST directory, the folder of pictures or of clips, or the text file.
    pub data: PathBuf,
    /// How a folder of pictures is read (`None` for MNIST's IDX files and for text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pictures: Option<PictureOptions>,
    /// How a folder of clips becomes spectrogram images (`None` for everything but sound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spectrogram: Option<SpectrogramSettings>,
    /// The names given to the classes of MNIST-style IDX files (`--class-names`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    pub epochs: usize,
    /// Images, or windows of text, per step.
    pub batch_size: usize,
    /// The peak learning rate.
    pub learning_rate: f64,
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Text models: steps per epoch (an epoch of text is a fixed number of random windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_steps: Option<usize>,
    pub seed: u64,
    /// Train on only the first `limit` training images.
    pub limit: Option<usize>,
    /// Decay of the moving average of the weights, if the run keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema: Option<f64>,
}

impl TrainSettings {
    /// Check the sizes a hand-edited or damaged run.json could put out of range.
    pub fn validate(&self) -> Result<()> {
        check_sizes(&[("batch_size", self.batch_size, MAX_BATCH)]).map_err(anyhow::Error::msg)
    }
}

/// Mean losses of one epoch, by term name (`loss` is the objective).
pub type EpochLosses = BTreeMap<String, f64>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train: EpochLosses,
    pub test: EpochLosses,
}

/// Progress of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub epochs_done: usize,
    pub steps: u64,
    pub wall_time_secs: f64,
    pub train_images: usize,
    /// Directory name of the newest complete checkpoint.
    pub checkpoint: Option<String>,
    pub history: Vec<EpochRecord>,
    /// The command lines that resumed the run, in order (the first is in `run.json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed_with: Vec<String>,
}

/// The bytes of one checkpoint.
pub struct Checkpoint {
    pub model: Vec<u8>,
    pub optimizer: Vec<u8>,
    /// The moving average of the weights, in runs that keep one.
    pub ema: Option<Vec<u8>>,
}

impl Checkpoint {
    /// The weights to sample from: the moving average where there is one.
    pub fn inference_weights(self) -> Vec<u8> {
        self.ema.unwrap_or(self.model)
    }
}

pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn exists(&self) -> bool {
        self.root.join(RUN_FILE).is_file()
    }

    pub fn create(&self, config: &RunConfig) -> Result<()> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("creating run directory {}", self.root.display()))?;
        self.write_json(RUN_FILE, config)?;
        self.write_json(STATE_FILE, &TrainState::default())
    }

    pub fn config(&self) -> Result<RunConfig> {
        let config: RunConfig = self.read_json(RUN_FILE)?;
        config
            .settings
            .validate()
            .with_context(|| format!("{}", self.root.join(RUN_FILE).display()))?;
        Ok(config)
    }

    pub fn state(&self) -> Result<TrainState> {
        self.read_json(STATE_FILE)
    }

    /// Store a checkpoint, then make `state` (which must name it) current.
    /// Keep the preview grid of `epoch` (a GAN's mode collapse, or a VAE's sharpening, shows
    /// there).
    pub fn save_preview(&self, epoch: usize, images: &ImageBatch) -> Result<()> {
        png::write_grid(images, &self.preview_path(epoch, "png")?)
    }

    /// Keep the text a language model wrote after `epoch`.
    pub fn save_text_preview(&self, epoch: usize, text: &str) -> Result<()> {
        atomic::write(&self.preview_path(epoch, "txt")?, text.as_bytes())
    }

    fn preview_path(&self, epoch: usize, extension: &str) -> Result<PathBuf> {
        let dir = self.root.join(PREVIEW_DIR);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir.join(format!("{epoch:04}.{extension}")))
    }

    pub fn save(&self, state: &TrainState, checkpoint: &Checkpoint) -> Result<()> {
        let name = state
            .checkpoint
            .as_deref()
            .context("state names no checkpoint")?;
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        atomic::write(&dir.join(MODEL_FILE), &checkpoint.model)?;
        atomic::write(&dir.join(OPTIM_FILE), &checkpoint.optimizer)?;
        if let Some(ema) = &checkpoint.ema {
            atomic::write(&dir.join(EMA_FILE), ema)?;
        }
        let previous = self.state()?.checkpoint;
        self.write_json(STATE_FILE, state)?;
        // Only now is the older checkpoint unreferenced.
        if let Some(old) = previous.filter(|old| old != name) {
            std::fs::remove_dir_all(self.root.join(&old))
                .with_context(|| format!("removing old checkpoint {old}"))?;
        }
        Ok(())
    }

    /// The checkpoint `state` names, if training has completed an epoch.
    pub fn load(&self, state: &TrainState) -> Result<Option<Checkpoint>> {
        let Some(name) = &state.checkpoint else {
            return Ok(None);
        };
        let dir = self.root.join(name);
        let read = |file| {
            let path = dir.join(file);
            std::fs::read(&path).with_context(|| format!("reading checkpoint {}", path.display()))
        };
        let ema_path = dir.join(EMA_FILE);
        Ok(Some(Checkpoint {
            model: read(MODEL_FILE)?,
            optimizer: read(OPTIM_FILE)?,
            ema: ema_path.is_file().then(|| read(EMA_FILE)).transpose()?,
        }))
    }

    /// The latest weights for sampling and export (the moving average where the run keeps one).
    pub fn latest_weights(&self) -> Result<Vec<u8>> {
        match self.load(&self.state()?)? {
            Some(checkpoint) => Ok(checkpoint.inference_weights()),
            None => bail!(
                "run {} has no checkpoint yet: train at least one epoch",
                self.root.display()
            ),
        }
    }

    fn write_json(&self, file: &str, value: &impl Serialize) -> Result<()> {
        let text = serde_json::to_string_pretty(value)? + "\n";
        atomic::write(&self.root.join(file), text.as_bytes())
    }

    fn read_json<T: for<'de> Deserialize<'de>>(&self, file: &str) -> Result<T> {
        let path = self.root.join(file);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (is {} a kiln run directory?)",
                path.display(),
                self.root.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Checkpoint directory name for the end of `epoch`.
pub fn checkpoint_name(epoch: usize) -> String {
    format!("ckpt-{epoch:04}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::models::vae::VaeConfig;

    fn config() -> RunConfig {
        RunConfig {
            spec: ModelSpec::Vae(VaeConfig::new()),
            settings: TrainSettings {
                data: "data".into(),
                epochs: 2,
                batch_size: 4,
                learning_rate: 1e-3,
                lr_schedule: LrSchedule::Constant,
                epoch_steps: None,
                seed: 0,
                limit: None,
                pictures: None,
                spectrogram: None,
                class_names: None,
                ema: None,
            },
            command: "kiln train vae".into(),
            classes: None,
        }
    }

    #[test]
    fn keeps_only_the_latest_complete_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::new(tmp.path().join("run"));
        run.create(&config()).unwrap();
        assert!(run.load(&run.state().unwrap()).unwrap().is_none());
        for epoch in 1..=2 {
            let state = TrainState {
                epochs_done: epoch,
                checkpoint: Some(checkpoint_name(epoch)),
                ..Default::default()
            };
            let checkpoint = Checkpoint {
                model: vec![epoch as u8],
                optimizer: vec![],
                ema: None,
            };
            run.save(&state, &checkpoint).unwrap();
        }
        assert_eq!(run.latest_weights().unwrap(), vec![2]);
        assert!(!run.path().join(checkpoint_name(1)).exists());
        assert_eq!(run.config().unwrap(), config());
    }

    #[test]
    fn samples_from_the_moving_average_where_the_run_keeps_one() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::new(tmp.path().join("run"));
        run.create(&config()).unwrap();
        let state = TrainState {
            epochs_done: 1,
            checkpoint: Some(checkpoint_name(1)),
            ..Default::default()
        };
        let checkpoint = Checkpoint {
            model: vec![1],
            optimizer: vec![],
            ema: Some(vec![7]),
        };
        run.save(&state, &checkpoint).unwrap();
        assert_eq!(run.latest_weights().unwrap(), vec![7]);
        let loaded = run.load(&state).unwrap().unwrap();
        assert_eq!((loaded.model, loaded.ema), (vec![1], Some(vec![7])));
    }
}
