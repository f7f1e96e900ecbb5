//! `kiln train`: start or resume a run.

use std::num::NonZeroUsize;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use burn::tensor::{Bytes, Device};
use kiln_core::audio::SpectrogramSettings;
use kiln_core::data::dataset::ImageShape;
use kiln_core::data::mnist;
use kiln_core::family::DataShape;
use kiln_core::io::weights;
use kiln_core::model::{ModelSpec, Trainable};
use kiln_core::text::{Corpus, TextBatch, Vocabulary};
use kiln_core::train::{DigitBatch, LrSchedule, Objective, WithObjective};

use crate::batches::{TextData, TrainingData};
use crate::cli::{ScheduleKind, TrainArgs};
use crate::command_line::command_line;
use crate::data::{self, Splits};
use crate::ema::WeightAverage;
use crate::pictures::PictureOptions;
use crate::run_dir::{Checkpoint, RunConfig, RunDir, TrainSettings, TrainState};
use crate::trainer::{self, Session};

/// Warm-up steps when `--schedule cosine` is asked of a family that trains at a constant rate
/// (nanoGPT's Shakespeare run uses 100).
const DEFAULT_WARMUP: u64 = 100;
/// Where such a cosine ends, as a fraction of the peak rate (nanoGPT: 1e-4 of 1e-3).
const COSINE_FINAL_RATIO: f64 = 0.1;

pub fn run(args: TrainArgs) -> Result<()> {
    let run = RunDir::new(&args.out);
    let stored = if args.resume {
        Some(stored_config(&run)?)
    } else {
        ensure!(
            !run.exists(),
            "{} already holds a run: pass --resume to continue it, or choose another --out",
            run.path().display()
        );
        None
    };
    let model = trainable(&args.model)?;
    check_flags(&args, &model)?;
    // Read the data (which shapes the model) and start the device before creating anything on
    // disk. A resumed run reads its pictures as it did when it started.
    let requested = picture_options(&args, &model)?;
    let (pictures, spectrogram, class_names) = match &stored {
        Some(config) => (
            config.settings.pictures,
            config.settings.spectrogram,
            config.settings.class_names.clone(),
        ),
        None => (
            requested,
            (!model.reads_text)
                .then(|| data::spectrogram_of(&args.data))
                .flatten(),
            args.class_names.clone(),
        ),
    };
    let reading = Reading {
        pictures: pictures.as_ref(),
        spectrogram: spectrogram.as_ref(),
        class_names: class_names.as_deref(),
        seed: stored
            .as_ref()
            .map_or(args.seed.unwrap_or(0), |c| c.settings.seed),
    };
    let source = Source::read(&args.data, &model, &reading)?;
    let config = match stored {
        Some(stored) => resumed_config(&run, stored, &args, &model, &source, requested)?,
        None => new_config(&args, &model, &source, requested, spectrogram)?,
    };
    let data = source.into_training_set(&config)?;
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
    let train_device = device.clone().autodiff();
    let checkpoint = run.load(&state)?;
    if checkpoint.is_none() {
        train_device.seed(config.settings.seed);
    }
    let fit = Fit {
        run: &run,
        config: &config,
        data: &data,
        device: &device,
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

/// What a run learns from.
enum TrainingSet {
    Digits(Splits),
    Text(TextData),
}

/// How the images of `--data` are read.
struct Reading<'a> {
    pictures: Option<&'a PictureOptions>,
    spectrogram: Option<&'a SpectrogramSettings>,
    class_names: Option<&'a [String]>,
    /// Draws a folder's held-out tenth.
    seed: u64,
}

/// The data as read, before the spec that its shape decides exists.
enum Source {
    Images(Splits),
    Text {
        text: String,
        vocabulary: Vocabulary,
    },
}

impl Source {
    fn read(path: &Path, model: &Trainable, reading: &Reading) -> Result<Self> {
        if !model.reads_text {
            let splits = data::load_images(
                path,
                reading.pictures,
                reading.spectrogram,
                reading.class_names,
                reading.seed,
            )?;
            return Ok(Source::Images(splits));
        }
        let text = data::read_text(path)?;
        let vocabulary = Vocabulary::from_text(&text)
            .with_context(|| format!("reading {} as training text", path.display()))?;
        Ok(Source::Text { text, vocabulary })
    }

    fn shape(&self) -> DataShape<'_> {
        match self {
            Source::Images(splits) => DataShape::Images {
                shape: splits.train.shape(),
                classes: splits.train.classes().len(),
            },
            Source::Text { vocabulary, .. } => DataShape::Text(vocabulary),
        }
    }

    /// The batches `config`'s run trains on: a text read with the spec's vocabulary and
    /// context, or the images (the first `--limit` of them).
    fn into_training_set(self, config: &RunConfig) -> Result<TrainingSet> {
        let settings = &config.settings;
        match (self, config.spec.text_shape()) {
            (Source::Text { text, .. }, Some(shape)) => {
                let corpus = Corpus::new(&text, shape.vocabulary.clone(), shape.context)
                    .with_context(|| {
                        format!("reading {} as training text", settings.data.display())
                    })?;
                let epoch_steps = settings
                    .epoch_steps
                    .or(config.spec.training_defaults().epoch_steps)
                    .context("a text run needs a number of steps per epoch")?;
                Ok(TrainingSet::Text(TextData {
                    corpus,
                    context: shape.context,
                    epoch_steps,
                }))
            }
            (Source::Images(mut splits), None) => {
                if let Some(limit) = settings.limit {
                    splits.train.truncate(limit);
                }
                Ok(TrainingSet::Digits(splits))
            }
            _ => bail!("the data read does not match the kind of model being trained"),
        }
    }
}

/// Train a model (fresh, or from the checkpoint's weights, optimizer state and moving average)
/// through the shared loop, on the data its kind learns from.
struct Fit<'a> {
    run: &'a RunDir,
    config: &'a RunConfig,
    data: &'a TrainingSet,
    device: &'a Device,
    checkpoint: Option<&'a Checkpoint>,
    state: TrainState,
}

impl WithObjective for Fit<'_> {
    type Output = Result<TrainState>;

    fn digits<M: Objective<Batch = DigitBatch>>(self, model: M) -> Result<TrainState> {
        match self.data {
            TrainingSet::Digits(digits) => self.fit(digits, model),
            TrainingSet::Text(_) => bail!("a digit model was given text to train on"),
        }
    }

    fn text<M: Objective<Batch = TextBatch>>(self, model: M) -> Result<TrainState> {
        match self.data {
            TrainingSet::Text(text) => self.fit(text, model),
            TrainingSet::Digits(_) => bail!("a text model was given digits to train on"),
        }
    }
}

impl Fit<'_> {
    fn fit<D: TrainingData, M: Objective<Batch = D::Batch>>(
        self,
        data: &D,
        model: M,
    ) -> Result<TrainState> {
        let session = Session {
            run: self.run,
            config: self.config,
            data,
            device: self.device,
        };
        let decay = self.config.settings.ema;
        let Some(checkpoint) = self.checkpoint else {
            let average = decay.map(|decay| WeightAverage::new(model.valid(), decay));
            return trainer::train(&session, model, M::adam().init(), average, self.state);
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
        trainer::train(&session, model, optimizer, average, self.state)
    }
}

/// The model `kiln train NAME` starts (clap has checked the name).
fn trainable(name: &str) -> Result<Trainable> {
    ModelSpec::trainable()
        .into_iter()
        .find(|model| model.recipe.name == name)
        .with_context(|| format!("kiln cannot train a model called {name:?}"))
}

/// Refuse flags that do not apply to the model being trained.
fn check_flags(args: &TrainArgs, model: &Trainable) -> Result<()> {
    let all = ModelSpec::trainable();
    let recipes_where = |keep: &dyn Fn(&Trainable) -> bool| {
        let names: Vec<String> = all
            .iter()
            .filter(|other| keep(other))
            .map(|other| format!("`kiln train {}`", other.recipe.name))
            .collect();
        names.join(" and ")
    };
    for name in args.hyper_parameters.names() {
        let takes = |model: &Trainable| model.hyper_parameters.iter().any(|p| p.name == name);
        ensure!(
            takes(model),
            "--{name} applies only to {}",
            recipes_where(&takes)
        );
    }
    if args.epoch_steps.is_some() && !model.reads_text {
        bail!(
            "--epoch-steps applies only to {}",
            recipes_where(&|model| model.reads_text)
        );
    }
    if args.limit.is_some() && model.reads_text {
        bail!(
            "--limit applies only to image models (train a text model on a shorter text instead)"
        );
    }
    if model.reads_text && (picture_flags(args) || args.class_names.is_some()) {
        bail!(
            "--image-size, --channels, --skip-unreadable and --class-names apply only to image \
             models"
        );
    }
    Ok(())
}

/// Whether any of the flags that say how to read a folder of pictures is given.
fn picture_flags(args: &TrainArgs) -> bool {
    args.image_size.is_some() || args.channels.is_some() || args.skip_unreadable
}

/// How the flags ask for `--data` to be read: as a folder of pictures, or (`None`) as MNIST's
/// IDX files or a text.
fn picture_options(args: &TrainArgs, model: &Trainable) -> Result<Option<PictureOptions>> {
    if model.reads_text {
        return Ok(None);
    }
    if data::is_mnist(&args.data) {
        ensure!(
            !picture_flags(args),
            "--image-size, --channels and --skip-unreadable apply to folders of pictures; {} \
             holds MNIST IDX files (28×28 grayscale)",
            args.data.display()
        );
        return Ok(None);
    }
    if data::is_clips(&args.data) {
        ensure!(
            !picture_flags(args),
            "--image-size, --channels and --skip-unreadable apply to folders of pictures; {} \
             holds spoken clips (WAV files), read as spectrograms",
            args.data.display()
        );
        return Ok(None);
    }
    Ok(Some(PictureOptions {
        side: args.image_size.unwrap_or(ImageShape::MNIST.side),
        channels: args.channels,
        skip_unreadable: args.skip_unreadable,
    }))
}

/// A new run's config: `model` shaped by the data read from `source`, which `pictures` says
/// how to read.
fn new_config(
    args: &TrainArgs,
    model: &Trainable,
    source: &Source,
    pictures: Option<PictureOptions>,
    spectrogram: Option<SpectrogramSettings>,
) -> Result<RunConfig> {
    let spec = model.configure(&args.hyper_parameters, source.shape())?;
    spec.validate()?;
    let defaults = spec.training_defaults();
    let learning_rate = args.lr.unwrap_or(defaults.learning_rate);
    ensure!(
        learning_rate.is_finite() && learning_rate > 0.0,
        "--lr must be a positive number, got {learning_rate}"
    );
    let ema = args.ema.or(defaults.ema);
    if let Some(decay) = ema {
        ensure!(
            decay > 0.0 && decay < 1.0,
            "--ema must be a decay between 0 and 1 (exclusive), got {decay}"
        );
    }
    let lr_schedule = lr_schedule(args, defaults.schedule)?;
    let settings = TrainSettings {
        data: args.data.clone(),
        pictures,
        spectrogram,
        class_names: args.class_names.clone(),
        epochs: args.epochs.map_or(defaults.epochs, NonZeroUsize::get),
        batch_size: args.batch.map_or(defaults.batch, NonZeroUsize::get),
        learning_rate,
        lr_schedule,
        epoch_steps: defaults
            .epoch_steps
            .map(|steps| args.epoch_steps.map_or(steps, NonZeroUsize::get)),
        seed: args.seed.unwrap_or(0),
        limit: args.limit.map(|l| l.get()),
        ema,
    };
    settings.validate()?;
    let classes = match source {
        Source::Images(splits) => Some(splits.train.classes().to_vec()),
        Source::Text { .. } => None,
    };
    Ok(RunConfig {
        spec,
        settings,
        command: command_line(),
        classes,
    })
}

/// The schedule the flags ask for, starting from the family's.
fn lr_schedule(args: &TrainArgs, default: LrSchedule) -> Result<LrSchedule> {
    let (kind, warmup, final_ratio) = match default {
        LrSchedule::Constant => (ScheduleKind::Constant, DEFAULT_WARMUP, COSINE_FINAL_RATIO),
        LrSchedule::Cosine {
            warmup_steps,
            final_ratio,
        } => (ScheduleKind::Cosine, warmup_steps, final_ratio),
    };
    Ok(match args.schedule.unwrap_or(kind) {
        ScheduleKind::Constant => {
            ensure!(
                args.warmup.is_none(),
                "--warmup applies only to --schedule cosine"
            );
            LrSchedule::Constant
        }
        ScheduleKind::Cosine => LrSchedule::Cosine {
            warmup_steps: args.warmup.unwrap_or(warmup),
            final_ratio,
        },
    })
}

/// The config of the run in `run`, to resume.
fn stored_config(run: &RunDir) -> Result<RunConfig> {
    if !run.exists() {
        bail!(
            "nothing to resume: {} holds no run (drop --resume to start one)",
            run.path().display()
        );
    }
    run.config()
}

/// The stored config, with only `--epochs`, `--ema` (and `--data`, which may have moved)
/// overridable, once the data read from `source` has been checked to be of the run's shape.
fn resumed_config(
    run: &RunDir,
    mut config: RunConfig,
    args: &TrainArgs,
    model: &Trainable,
    source: &Source,
    requested: Option<PictureOptions>,
) -> Result<RunConfig> {
    if let Source::Images(splits) = source {
        let classes = config.classes.clone().unwrap_or_else(mnist::digit_classes);
        let (shape, found) = (splits.train.shape(), splits.train.classes());
        ensure!(
            config.spec.image_shape() == Some(shape) && classes == found,
            "{} now gives {shape} images of {} classes ({}), but the run in {} learns from {} \
             images of {} classes ({})",
            args.data.display(),
            found.len(),
            found.join(", "),
            run.path().display(),
            config
                .spec
                .image_shape()
                .map_or_else(|| "no".into(), |shape| shape.to_string()),
            classes.len(),
            classes.join(", ")
        );
    }
    let fixed = new_config(args, model, source, requested, config.settings.spectrogram)?;
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
            (!args.hyper_parameters.is_empty()
                || args.epoch_steps.is_some()
                || args.schedule.is_some()
                || args.warmup.is_some())
                && (fixed.spec != config.spec
                    || fixed.settings.lr_schedule != stored.lr_schedule
                    || fixed.settings.epoch_steps != stored.epoch_steps),
            "the model's shape or schedule",
        ),
        (fixed.spec.kind() != config.spec.kind(), "the model kind"),
        (
            picture_flags(args) && fixed.settings.pictures != stored.pictures,
            "--image-size, --channels or --skip-unreadable",
        ),
        (
            args.class_names.is_some() && fixed.settings.class_names != stored.class_names,
            "--class-names",
        ),
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
