//! Command-line arguments. Doc comments here are the `--help` text.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Arg, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use kiln_core::io::weights::Precision;
use kiln_core::model::{ModelSpec, Trainable};
use kiln_core::models::diffusion::SamplerKind;
use kiln_core::request::{DiffusionRequest, RequestError};
use kiln_core::train::LrSchedule;
use kiln_core::train::recipe::HyperParameters;

use crate::device::Backend;

#[derive(Debug, Parser)]
#[command(
    name = "kiln",
    version,
    about = "Train, sample and export Kiln's generative models."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model on MNIST-style images, a folder of pictures or of spoken digits (a text
    /// model on a text file), checkpointing every epoch.
    Train(TrainArgs),
    /// Draw images from a trained generative model and write them as PNGs (a sound model's also
    /// as the WAV clips its spectrograms sound like).
    Sample(SampleArgs),
    /// Write text with a trained text model, streaming it to stdout.
    Generate(GenerateArgs),
    /// Decode a walk through a VAE's latent space between the codes of two seeds.
    Interpolate(InterpolateArgs),
    /// Add noise to digit images and restore them with a denoising autoencoder.
    Denoise(DenoiseArgs),
    /// Judge a generative model's samples with the digit classifier.
    Eval(EvalArgs),
    /// Copy a run's weights into a pretrained/ folder and record them in its manifest.
    Export(ExportArgs),
    /// Time sampling (gpt: writing) and training of each model and print a table of throughputs.
    Bench(BenchArgs),
    /// Make a data set to train on.
    #[command(subcommand)]
    Data(DataCommand),
}

/// The data sets `kiln data` makes.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Speak the digits 0–9 with every English voice and variant of espeak-ng, at drawn pitches
    /// and rates, into mono WAV files named as the Free Spoken Digit Dataset's are
    /// (`{digit}_{speaker}_{take}.wav`); a share of the speakers goes to OUT/test/.
    SpokenDigits(SpokenDigitsArgs),
}

#[derive(Debug, Args)]
pub struct SpokenDigitsArgs {
    /// The folder to write into (and OUT/test/ for the held-out speakers).
    #[arg(long)]
    pub out: PathBuf,
    /// Samples per second of the clips (espeak-ng speaks at 22,050 Hz, flite at 8,000 or 16,000;
    /// they are resampled).
    #[arg(long, default_value_t = 8_000)]
    pub rate: u32,
    /// Clips of each digit per speaker, each at its own pitch and rate.
    #[arg(long, default_value_t = 3)]
    pub takes: usize,
    /// At most this many speakers, drawn with --seed [default: every voice × variant].
    #[arg(long)]
    pub speakers: Option<usize>,
    /// The share of speakers held out in OUT/test/.
    #[arg(long, default_value_t = 0.1)]
    pub test_share: f64,
    /// Standard deviation of the Gaussian noise added to every clip (of full scale).
    #[arg(long, default_value_t = 0.003)]
    pub noise: f32,
    /// Seed of the speakers' order and of every pitch, rate and noise drawn.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The synthesisers whose voices speak, separated by commas: espeak-ng (every English voice
    /// × variant) and flite (its 5 voices). Named, not found on the machine, so that a command
    /// always makes the same corpus.
    #[arg(long, value_delimiter = ',', default_value = "espeak-ng")]
    pub synthesisers: Vec<Synthesiser>,
}

/// A speech synthesiser a corpus can be spoken with (`--synthesisers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Synthesiser {
    /// eSpeak NG: every English voice with every voice variant.
    EspeakNg,
    /// CMU Flite: its built-in voices (kal, kal16, awb, rms, slt).
    Flite,
}

/// How the learning rate moves over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleKind {
    /// The --lr throughout.
    Constant,
    /// Linear warm-up over --warmup steps, then a half cosine down to a tenth of --lr.
    Cosine,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Which model to train.
    #[arg(value_parser = recipes())]
    pub model: String,
    /// Image models: a directory with the four MNIST IDX files ({train,t10k}-images-idx3-ubyte
    /// and {train,t10k}-labels-idx1-ubyte, raw or .gz), or a folder of PNG, JPEG or WebP
    /// pictures: DIR/<class>/*.png (classes in name order), or the pictures directly in DIR for
    /// one class; DIR/test/ laid out the same way is held out, else a tenth drawn with --seed.
    /// Or a folder of spoken digits (WAV files of any rate, named {digit}_{speaker}_{index}.wav
    /// as in FSDD, or in folders zero/ … nine/ as in SC09), learnt as 32×32 log-mel
    /// spectrograms; DIR/test/ is held out, else a tenth of the speakers drawn with --seed.
    /// Text models: any UTF-8 text file (its last tenth is held out for validation).
    #[arg(long)]
    pub data: PathBuf,
    /// A folder of pictures: the side they are resized to (the shorter side) and centre-cropped
    /// to, a multiple of 4 [default: 28].
    #[arg(long)]
    pub image_size: Option<usize>,
    /// A folder of pictures: 1 (grayscale) or 3 (RGB) [default: 3 if any picture has colour].
    #[arg(long)]
    pub channels: Option<usize>,
    /// A folder of pictures: leave out pictures that cannot be read (and count them) rather
    /// than stopping at the first.
    #[arg(long)]
    pub skip_unreadable: bool,
    /// MNIST-style IDX files: the names of their classes, in label order, separated by commas
    /// (e.g. Fashion-MNIST's) [default: 0 to 9].
    #[arg(long, value_delimiter = ',')]
    pub class_names: Option<Vec<String>>,
    /// Run directory for config, checkpoints and logs.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint (up to --epochs in total).
    #[arg(long)]
    pub resume: bool,
    /// Total number of epochs for the run [default: the model's, listed under <MODEL>].
    #[arg(long)]
    pub epochs: Option<NonZeroUsize>,
    /// Images (text models: windows of text) per batch [default: the model's].
    #[arg(long)]
    pub batch: Option<NonZeroUsize>,
    /// Learning rate (the peak, with a schedule): Adam's step, or for a model trained by
    /// expectation–maximisation the share of its counts each batch replaces [default: the
    /// model's].
    #[arg(long)]
    pub lr: Option<f64>,
    /// How the learning rate moves [default: the model's; constant if it lists none].
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleKind>,
    /// Steps of linear warm-up before the cosine schedule [default: the model's, else 100].
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Also keep an exponential moving average of the weights with this decay (0 < d < 1);
    /// sampling, evaluation and export then use the average. Can be added when resuming
    /// [default: the model's; off if it lists none].
    #[arg(long)]
    pub ema: Option<f64>,
    /// Text models: training steps per epoch; each epoch ends with validation, a sample and a
    /// checkpoint [default: the model's].
    #[arg(long)]
    pub epoch_steps: Option<NonZeroUsize>,
    /// Seed for initialisation, shuffling and noise [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train on only the first N training images (quick experiments and tests).
    #[arg(long)]
    pub limit: Option<NonZeroUsize>,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub device: Backend,
    /// The model's own hyper-parameters (`--states 512`): flags that each family declares
    /// ([`ModelSpec::trainable`]), read by [`Cli::parse_all`].
    #[arg(skip)]
    pub hyper_parameters: HyperParameters,
}

/// The models `kiln train` starts, each with its line of help.
fn recipes() -> PossibleValuesParser {
    PossibleValuesParser::new(
        ModelSpec::trainable()
            .into_iter()
            .map(|model| PossibleValue::new(model.recipe.name).help(recipe_help(&model))),
    )
}

/// `--help`'s heading over the hyper-parameter flags.
const HYPER_PARAMETERS: &str = "Hyper-parameters of the model (a new run)";

impl Cli {
    /// The command line, with a flag of `kiln train` for every family's hyper-parameters.
    pub fn command_with_hyper_parameters() -> clap::Command {
        Self::command().mut_subcommand("train", |train| {
            train.args(hyper_parameter_flags(&ModelSpec::trainable()))
        })
    }

    /// Parse the command line (exiting with clap's message if it is invalid).
    pub fn parse_all() -> Self {
        let matches = Self::command_with_hyper_parameters().get_matches();
        let mut cli = Self::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
        if let (Command::Train(args), Some(train)) =
            (&mut cli.command, matches.subcommand_matches("train"))
        {
            args.hyper_parameters = HyperParameters::new(
                hyper_parameter_flags(&ModelSpec::trainable())
                    .iter()
                    .filter_map(|flag| {
                        let name = flag.get_id().as_str();
                        let value = train.get_one::<String>(name)?;
                        Some((name.to_owned(), value.clone()))
                    }),
            );
        }
        cli
    }
}

/// One `--NAME VALUE` flag per hyper-parameter name, its help gathered from every model that
/// takes it ("vae, cvae, ae: …").
fn hyper_parameter_flags(trainable: &[Trainable]) -> Vec<Arg> {
    let mut helps: BTreeMap<&str, Vec<(&str, Vec<&str>)>> = BTreeMap::new();
    for model in trainable {
        for parameter in model.hyper_parameters {
            let meanings = helps.entry(parameter.name).or_default();
            match meanings
                .iter_mut()
                .find(|(about, _)| *about == parameter.about)
            {
                Some((_, models)) => models.push(model.recipe.name),
                None => meanings.push((parameter.about, vec![model.recipe.name])),
            }
        }
    }
    helps
        .into_iter()
        .map(|(name, meanings)| {
            let help: Vec<String> = meanings
                .into_iter()
                .map(|(about, models)| format!("{}: {about}", models.join(", ")))
                .collect();
            Arg::new(name)
                .long(name)
                .value_name("VALUE")
                .help(help.join("; "))
                .help_heading(HYPER_PARAMETERS)
        })
        .collect()
}

/// A model's line of `--help`: what it is, and how it trains unless told otherwise.
fn recipe_help(model: &Trainable) -> String {
    let defaults = model.training;
    let mut flags = vec![
        format!("--epochs {}", defaults.epochs),
        format!("--batch {}", defaults.batch),
        format!("--lr {}", defaults.learning_rate),
    ];
    if let LrSchedule::Cosine { warmup_steps, .. } = defaults.schedule {
        flags.push(format!("--schedule cosine --warmup {warmup_steps}"));
    }
    if let Some(decay) = defaults.ema {
        flags.push(format!("--ema {decay}"));
    }
    if let Some(steps) = defaults.epoch_steps {
        flags.push(format!("--epoch-steps {steps}"));
    }
    format!("{} [defaults: {}]", model.recipe.about, flags.join(" "))
}

/// Which trained model to use, and where to run it.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A model name from the manifest, a run directory, or a .bpk file listed in a manifest beside it.
    #[arg(long)]
    pub model: String,
    /// The manifest that model names resolve against.
    #[arg(long, default_value = "pretrained/manifest.json")]
    pub manifest: PathBuf,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub device: Backend,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// How many images to draw (1–1024).
    #[arg(long, default_value_t = 16)]
    pub count: usize,
    /// Seed of the latent noise; the same seed gives the same images on every backend.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Class-conditional models: the digit to draw (0–9). Without it, image i is digit i mod 10.
    #[arg(long)]
    pub class: Option<usize>,
    #[command(flatten)]
    pub diffusion: DiffusionArgs,
    #[command(flatten)]
    pub output: ImagesOut,
}

/// How a diffusion model runs its reverse process (other models refuse these flags).
#[derive(Debug, Args)]
pub struct DiffusionArgs {
    /// Diffusion models: the reverse process, ddpm (ancestral) or ddim (deterministic)
    /// [default: ddim].
    #[arg(long)]
    pub sampler: Option<SamplerKind>,
    /// Diffusion models: number of reverse steps, from 1 to the model's T [default: 20].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Diffusion models: classifier-free guidance weight w from 0 to 10; 1 is the plain
    /// conditional model, more gives clearer but less varied digits [default: 1.5].
    #[arg(long)]
    pub guidance: Option<f64>,
}

impl DiffusionArgs {
    pub fn request(&self) -> Result<DiffusionRequest, RequestError> {
        DiffusionRequest::new(self.sampler, self.steps, self.guidance)
    }
}

/// Where generated images go.
#[derive(Debug, Args)]
pub struct ImagesOut {
    /// Output directory for 000000.png… and grid.png (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the exact intensities to samples.json (for comparisons across backends).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Text to continue (printed first); every character must be in the model's vocabulary.
    #[arg(long, default_value = "\n")]
    pub prompt: String,
    /// How many characters to write (1–100000).
    #[arg(long, default_value_t = 500)]
    pub tokens: usize,
    /// Below 1 surer, above 1 wilder; 0 always picks the likeliest character (0–10).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// Draw only among the k likeliest characters.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Draw only among the likeliest characters that together have probability p (0 < p ≤ 1).
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Seed of the draws; the same seed and settings write the same text on every backend.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct InterpolateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Seed whose latent code starts the walk (the first digit `kiln sample --seed` draws).
    #[arg(long)]
    pub from: u64,
    /// Seed whose latent code ends the walk.
    #[arg(long)]
    pub to: u64,
    /// Number of frames, both ends included (2–256).
    #[arg(long, default_value_t = 16)]
    pub steps: usize,
    /// Class-conditional models: the digit to keep along the walk (0–9) [default: 0].
    #[arg(long)]
    pub class: Option<usize>,
    #[command(flatten)]
    pub output: ImagesOut,
}

#[derive(Debug, Args)]
pub struct DenoiseArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// 28×28 grayscale PNGs of digits, white on black as in MNIST (e.g. from `kiln sample`).
    #[arg(long = "image", required = true, value_name = "PNG")]
    pub images: Vec<PathBuf>,
    /// Standard deviation of the Gaussian noise added before restoring (intensities are 0–1).
    #[arg(long, default_value_t = 0.4)]
    pub noise: f64,
    /// Seed of the added noise; the same seed gives the same result on every backend.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory: damaged/ and restored/, each with 000000.png… and grid.png.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the exact intensities to denoised.json (for comparisons across backends).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A model name from the manifest, a run directory, or a .bpk file listed in a manifest beside it.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub model: Option<String>,
    /// Judge every generative model in the manifest that draws the judge's classes at its size,
    /// record the figures there and rewrite the metrics table of --readme.
    #[arg(long, conflicts_with = "json")]
    pub all: bool,
    /// The Markdown file whose table --all rewrites, between the lines `<!-- kiln eval --all -->`
    /// and `<!-- end of kiln eval --all -->`.
    #[arg(long, default_value = "README.md")]
    pub readme: PathBuf,
    /// The manifest that model names resolve against.
    #[arg(long, default_value = "pretrained/manifest.json")]
    pub manifest: PathBuf,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub device: Backend,
    /// The classifier that judges the samples: a name in the manifest, a run directory or a file
    /// (train one on your own data with `kiln train classifier`).
    #[arg(long, alias = "judge", default_value = "classifier")]
    pub classifier: String,
    /// The data the model learnt from: a directory with MNIST-style IDX files, a folder of
    /// pictures (read at the judge's size and channels), or a folder of spoken clips (read as
    /// the judge's spectrograms; drawn ones are judged as they sound). Its test set is the
    /// reference for FID, precision and recall, its training set a reference row.
    #[arg(long)]
    pub data: PathBuf,
    /// A folder of pictures or clips without a test/ folder: the seed its held-out tenth was
    /// drawn with (the `--seed` the model was trained with).
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// What the reference rows call --data ("NAME train (real images)") [default: MNIST for IDX
    /// files, the folder's name for pictures].
    #[arg(long)]
    pub data_name: Option<String>,
    /// How many images to draw.
    #[arg(long, default_value_t = 10_000)]
    pub count: usize,
    /// Seed of the first batch of latent noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub diffusion: DiffusionArgs,
    /// Diffusion models: judge the samples at each of these guidance weights, comma-separated
    /// (e.g. 0,0.5,1,1.5,2,3), and print one row per weight; with --record, store the sweep in
    /// the manifest (the page plots it beside its guidance slider).
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["all", "guidance", "json"])]
    pub guidance_sweep: Vec<f64>,
    /// Draws of q(z|x) per test digit for a VAE's importance-weighted likelihood bound.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub importance_samples: u32,
    /// Store the figures, command, count and seed in the model's manifest entry, and the
    /// reference rows' beside the figures measured before by other judges.
    #[arg(long)]
    pub record: bool,
    /// Print the figures as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run directory written by `kiln train`.
    #[arg(long, required_unless_present = "model", conflicts_with = "model")]
    pub run: Option<PathBuf>,
    /// Instead of a run: a model already in --to's manifest, stored again (at another
    /// --precision, say) with its provenance; its recorded figures are dropped, to be measured
    /// again with `kiln eval --record`.
    #[arg(long)]
    pub model: Option<String>,
    /// The pretrained/ folder holding manifest.json (created if missing).
    #[arg(long, default_value = "pretrained")]
    pub to: PathBuf,
    /// Name to publish the model under (lower-case letters, digits, '-', '_') [default: the
    /// --model's own name].
    #[arg(long, required_unless_present = "model")]
    pub name: Option<String>,
    /// What the manifest calls the run's training data, e.g. Fashion-MNIST [default: MNIST for
    /// IDX files, "the pictures in FOLDER" for pictures].
    #[arg(long, conflicts_with = "model")]
    pub data_name: Option<String>,
    /// How the file stores the weights: f32 (as trained), f16 (half the size; relative error at
    /// most 2⁻¹¹ per weight), int8 (about 26 % of the size: weight matrices and kernels in 8
    /// bits with one f16 scale per 64 values, biases in f32) or int4 (about 14 %: 4 bits with one
    /// f16 scale per 32 values; judge the result with `kiln eval`). Every precision loads back
    /// into f32.
    /// A GAN's file holds only its generator, whatever the precision.
    #[arg(long, default_value_t = Precision::F32)]
    pub precision: Precision,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Models to time, by manifest name, comma-separated [default: every model in the manifest].
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    /// The manifest that model names resolve against.
    #[arg(long, default_value = "pretrained/manifest.json")]
    pub manifest: PathBuf,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub device: Backend,
    /// Batch sizes to sample (denoise, classify) at, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    pub batches: Vec<usize>,
    /// Images (gpt: windows of text) per timed training step.
    #[arg(long, default_value_t = 64)]
    pub train_batch: usize,
    /// Timed runs per measurement (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own checks: among them, that no family's hyper-parameter takes a trainer flag's name.
    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command_with_hyper_parameters().debug_assert();
    }

    #[test]
    fn a_flag_gathers_what_it_means_to_each_model() {
        let flags = hyper_parameter_flags(&ModelSpec::trainable());
        let help = |name: &str| {
            let flag = flags.iter().find(|flag| flag.get_id() == name).unwrap();
            flag.get_help().unwrap().to_string()
        };
        assert!(
            help("hidden").starts_with("vae, cvae, ae: width"),
            "{}",
            help("hidden")
        );
        let context = help("context");
        assert!(
            context.starts_with("gpt: characters") && context.contains("; hmm: characters"),
            "{context}"
        );
    }
}
