//! `kiln train`: start or resume a run.

use anyhow::{Context, Result, bail, ensure};
use burn::tensor::Bytes;
use kiln_core::autoencoder::AutoencoderConfig;
use kiln_core::classifier::ClassifierConfig;
use kiln_core::diffusion::DiffusionConfig;
use kiln_core::gan::GanConfig;
use kiln_core::mnist::NUM_CLASSES;
use kiln_core::model::ModelSpec;
use kiln_core::train::{DigitObjective, WithObjective};
use kiln_core::vae::VaeConfig;
use kiln_core::weights;

use crate::cli::{ModelKind, TrainArgs};
use crate::command_line::command_line;
use crate::data;
use crate::ema::WeightAverage;
use crate::run_dir::{Checkpoint, RunConfig, RunDir, TrainSettings, TrainState};
use crate::trainer::{self, Session};

const DEFAULT_EPOCHS: usize = 20;
const DEFAULT_BATCH: usize = 128;
const DEFAULT_LR: f64 = 1e-3;
/// DCGAN's learning rate (Radford et al. 2016).
const DEFAULT_GAN_LR: f64 = 2e-4;
/// Half the usual rate: the noise-prediction loss is noisy.
const DEFAULT_DDPM_LR: f64 = 5e-4;
/// Diffusion models sample from a moving average of their weights (Ho et al. 2020 use 0.9999
/// over 800k steps; a few thousand steps on MNIST want a shorter memory).
const DEFAULT_DDPM_EMA: f64 = 0.999;

pub fn run(args: TrainArgs) -> Result<()> {
    let run = RunDir::new(&args.out);
    let config = if args.resume {
        resumed_config(&run, &args)?
    } else {
        ensure!(
            !run.exists(),
            "{} already holds a run: pass --resume to continue it, or choose another --out",
            run.path().display()
        );
        new_config(&args)?
    };
    // Read the data and start the device before creating anything on disk.
    let mut data = data::load_mnist(&config.settings.data)?;
    if let Some(limit) = config.settings.limit {
        data.train.truncate(limit);
    }
    let device = args.device.device()?;
    if !args.resume {
        run.create(&config)?;
    }
    let mut state = run.state()?;
    if state.epochs_done >= config.settings.epochs {
        eprintln!(
            "{} has already trained {} of {} epochs; pass a larger --epochs with --resume to continue",
            run.path().display(),
            state.epochs_done,
            config.settings.epochs
        );
        return Ok(());
    }
    if args.resume {
        state.resumed_with.push(command_line());
    }
    let session = Session {
        run: &run,
        config: &config,
        data: &data,
        device: &device,
    };
    let train_device = device.clone().autodiff();
    let checkpoint = run.load(&state)?;
    if checkpoint.is_none() {
        train_device.seed(config.settings.seed);
    }
    let fit = Fit {
        session: &session,
        checkpoint: checkpoint.as_ref(),
        state,
    };
    let final_state = config.spec.init_objective(&train_device, fit)??;
    eprintln!(
        "trained {} epochs ({} steps, {:.0} s); weights in {}",
        final_state.epochs_done,
        final_state.steps,
        final_state.wall_time_secs,
        run.path().display()
    );
    Ok(())
}

/// Train a model (fresh, or from the checkpoint's weights, optimizer state and moving average)
/// through the shared loop.
struct Fit<'a> {
    session: &'a Session<'a>,
    checkpoint: Option<&'a Checkpoint>,
    state: TrainState,
}

impl WithObjective for Fit<'_> {
    type Output = Result<TrainState>;

    fn run<M: DigitObjective>(self, model: M) -> Result<TrainState> {
        fit(self.session, model, self.checkpoint, self.state)
    }
}

fn fit<M: DigitObjective>(
    session: &Session,
    model: M,
    checkpoint: Option<&Checkpoint>,
    state: TrainState,
) -> Result<TrainState> {
    let decay = session.config.settings.ema;
    let Some(checkpoint) = checkpoint else {
        let average = decay.map(|decay| WeightAverage::new(model.valid(), decay));
        return trainer::train(session, model, M::adam().init(), average, state);
    };
    let model =
        weights::load(model, &checkpoint.model).context("loading the checkpoint's weights")?;
    let optimizer = M::adam()
        .init()
        .from_bytes(Bytes::from_bytes_vec(checkpoint.optimizer.clone()))
        .context("reading the optimizer state of the checkpoint")?;
    let average = match (decay, &checkpoint.ema) {
        (None, _) => None,
        (Some(decay), Some(bytes)) => Some(WeightAverage::new(
            weights::load(model.valid(), bytes)
                .context("loading the checkpoint's averaged weights")?,
            decay,
        )),
        // Averaging added on resume: start from the current weights.
        (Some(decay), None) => Some(WeightAverage::new(model.valid(), decay)),
    };
    trainer::train(session, model, optimizer, average, state)
}

fn new_config(args: &TrainArgs) -> Result<RunConfig> {
    if !matches!(args.model, ModelKind::Vae | ModelKind::Cvae) {
        for (given, flag) in [
            (args.beta.is_some(), "--beta"),
            (args.latent.is_some(), "--latent"),
        ] {
            ensure!(
                !given,
                "{flag} applies only to `kiln train vae` and `kiln train cvae`"
            );
        }
    }
    ensure!(
        args.channels.is_none() || args.model == ModelKind::Ddpm,
        "--channels applies only to `kiln train ddpm`"
    );
    let spec = match args.model {
        ModelKind::Vae | ModelKind::Cvae => {
            let mut vae = VaeConfig::new();
            if args.model == ModelKind::Cvae {
                vae.num_classes = Some(NUM_CLASSES);
            }
            if let Some(beta) = args.beta {
                vae.beta = beta;
            }
            if let Some(latent) = args.latent {
                vae.latent_dim = latent.get();
            }
            ModelSpec::Vae(vae)
        }
        ModelKind::Ae => ModelSpec::Autoencoder(AutoencoderConfig::new()),
        ModelKind::Classifier => ModelSpec::Classifier(ClassifierConfig::new()),
        ModelKind::Gan => ModelSpec::Gan(GanConfig::new()),
        ModelKind::Ddpm => {
            let mut ddpm = DiffusionConfig::new();
            if let Some(channels) = args.channels {
                ddpm.unet.base_channels = channels.get();
            }
            ModelSpec::Ddpm(ddpm)
        }
    };
    spec.validate()?;
    let learning_rate = args.lr.unwrap_or(match args.model {
        ModelKind::Gan => DEFAULT_GAN_LR,
        ModelKind::Ddpm => DEFAULT_DDPM_LR,
        _ => DEFAULT_LR,
    });
    ensure!(
        learning_rate.is_finite() && learning_rate > 0.0,
        "--lr must be a positive number, got {learning_rate}"
    );
    let ema = args
        .ema
        .or((args.model == ModelKind::Ddpm).then_some(DEFAULT_DDPM_EMA));
    if let Some(decay) = ema {
        ensure!(
            decay > 0.0 && decay < 1.0,
            "--ema must be a decay between 0 and 1 (exclusive), got {decay}"
        );
    }
    Ok(RunConfig {
        spec,
        settings: TrainSettings {
            data: args.data.clone(),
            epochs: args.epochs.map_or(DEFAULT_EPOCHS, |e| e.get()),
            batch_size: args.batch.map_or(DEFAULT_BATCH, |b| b.get()),
            learning_rate,
            seed: args.seed.unwrap_or(0),
            limit: args.limit.map(|l| l.get()),
            ema,
        },
        command: command_line(),
    })
}

/// The stored config, with only `--epochs`, `--ema` (and `--data`, which may have moved)
/// overridable.
fn resumed_config(run: &RunDir, args: &TrainArgs) -> Result<RunConfig> {
    if !run.exists() {
        bail!(
            "nothing to resume: {} holds no run (drop --resume to start one)",
            run.path().display()
        );
    }
    let mut config = run.config()?;
    let fixed = new_config(args)?;
    let stored = &config.settings;
    let conflicts: Vec<&str> = [
        (
            args.batch.is_some() && fixed.settings.batch_size != stored.batch_size,
            "--batch",
        ),
        (
            args.lr.is_some() && fixed.settings.learning_rate != stored.learning_rate,
            "--lr",
        ),
        (
            args.seed.is_some() && fixed.settings.seed != stored.seed,
            "--seed",
        ),
        (
            args.limit.is_some() && fixed.settings.limit != stored.limit,
            "--limit",
        ),
        (
            (args.beta.is_some() || args.latent.is_some() || args.channels.is_some())
                && fixed.spec != config.spec,
            "--beta/--latent/--channels",
        ),
        (fixed.spec.kind() != config.spec.kind(), "the model kind"),
    ]
    .into_iter()
    .filter_map(|(differs, flag)| differs.then_some(flag))
    .collect();
    ensure!(
        conflicts.is_empty(),
        "{} differ from the run being resumed (see {}/run.json); drop them to resume",
        conflicts.join(", "),
        run.path().display()
    );
    if let Some(epochs) = args.epochs {
        config.settings.epochs = epochs.get();
    }
    if args.ema.is_some() {
        config.settings.ema = fixed.settings.ema;
    }
    config.settings.data = args.data.clone();
    Ok(config)
}
