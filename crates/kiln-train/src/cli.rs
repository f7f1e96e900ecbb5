//! Command-line arguments. Doc comments here are the `--help` text.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use kiln_core::io::weights::Precision;
use kiln_core::models::diffusion::SamplerKind;
use kiln_core::request::{DiffusionRequest, RequestError};

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
    /// Train a model on MNIST-style digits (or gpt and hmm on a text file), checkpointing every
    /// epoch.
    Train(TrainArgs),
    /// Draw images from a trained generative model and write them as PNGs.
    Sample(SampleArgs),
    /// Write text with a trained text model (gpt, hmm), streaming it to stdout.
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
}

/// The model families `kiln train` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// Convolutional variational autoencoder.
    Vae,
    /// Class-conditional VAE: the same with the digit class given to encoder and decoder.
    Cvae,
    /// Denoising convolutional autoencoder (Gaussian noise and random erasing).
    Ae,
    /// Digit classifier (small CNN) that the metrics use to judge generated digits.
    Classifier,
    /// Class-conditional DCGAN (generator and discriminator trained in turn).
    Gan,
    /// Class-conditional diffusion model (DDPM with a UNet and classifier-free guidance).
    Ddpm,
    /// Character-level Transformer that writes text like the --data text file.
    Gpt,
    /// Character-level hidden Markov model (Baum–Welch), the classic baseline below gpt.
    Hmm,
}

impl ModelKind {
    /// Whether it learns from a text file rather than digits.
    pub fn reads_text(self) -> bool {
        matches!(self, ModelKind::Gpt | ModelKind::Hmm)
    }
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
    pub model: ModelKind,
    /// Directory with the four MNIST IDX files: {train,t10k}-images-idx3-ubyte and
    /// {train,t10k}-labels-idx1-ubyte, raw or .gz. For gpt and hmm: any UTF-8 text file (its
    /// last tenth is held out for validation).
    #[arg(long)]
    pub data: PathBuf,
    /// Run directory for config, checkpoints and logs.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint (up to --epochs in total).
    #[arg(long)]
    pub resume: bool,
    /// Total number of epochs for the run [default: 20].
    #[arg(long)]
    pub epochs: Option<NonZeroUsize>,
    /// Images (gpt, hmm: windows of text) per batch [default: 128; 16 for gpt, 64 for hmm].
    #[arg(long)]
    pub batch: Option<NonZeroUsize>,
    /// Adam learning rate (the peak, with a schedule); for hmm the rate at which each batch's
    /// counts replace the model's [default: 0.001; 0.0002 for gan, 0.0005 for ddpm, 0.002 for
    /// gpt, 0.5 for hmm].
    #[arg(long)]
    pub lr: Option<f64>,
    /// How the learning rate moves [default: cosine for gpt and hmm, constant for the others].
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleKind>,
    /// Steps of linear warm-up before the cosine schedule [default: 100].
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Also keep an exponential moving average of the weights with this decay (0 < d < 1);
    /// sampling, evaluation and export then use the average. Can be added when resuming
    /// [default: 0.999 for ddpm, off for the others].
    #[arg(long)]
    pub ema: Option<f64>,
    /// VAE and CVAE: weight of the KL term [default: 1.0].
    #[arg(long)]
    pub beta: Option<f64>,
    /// VAE and CVAE: size of the latent code [default: 16].
    #[arg(long)]
    pub latent: Option<NonZeroUsize>,
    /// VAE, CVAE and AE: width of the dense layer on either side of the code [default: 64].
    #[arg(long)]
    pub hidden: Option<NonZeroUsize>,
    /// DDPM: channels of the UNet's 28×28 stage, a multiple of 8 (the deeper stages have 2×
    /// and 4× as many) [default: 16].
    #[arg(long)]
    pub channels: Option<NonZeroUsize>,
    #[command(flatten)]
    pub text: TextArgs,
    /// Seed for initialisation, shuffling and noise [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train on only the first N training images (quick experiments and tests).
    #[arg(long)]
    pub limit: Option<NonZeroUsize>,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub device: Backend,
}

/// The shape of a text model and its epochs (`kiln train gpt` and `hmm`).
#[derive(Debug, Args)]
pub struct TextArgs {
    /// GPT: characters the model reads at once; HMM: characters per window it trains on (each
    /// read from the initial state) [default: 256].
    #[arg(long)]
    pub context: Option<NonZeroUsize>,
    /// GPT: Transformer blocks [default: 6].
    #[arg(long)]
    pub layers: Option<NonZeroUsize>,
    /// GPT: attention heads per block [default: 6].
    #[arg(long)]
    pub heads: Option<NonZeroUsize>,
    /// GPT: width of the residual stream, a multiple of --heads [default: 192].
    #[arg(long)]
    pub width: Option<NonZeroUsize>,
    /// GPT: dropout probability while training [default: 0.05].
    #[arg(long)]
    pub dropout: Option<f64>,
    /// HMM: hidden states [default: 256].
    #[arg(long)]
    pub states: Option<NonZeroUsize>,
    /// GPT and HMM: training steps per epoch; each epoch ends with validation, a sample and a
    /// checkpoint [default: 250 for gpt, 50 for hmm].
    #[arg(long)]
    pub epoch_steps: Option<NonZeroUsize>,
}

impl TextArgs {
    /// The flags given, by name, each with the models it applies to.
    pub fn given(&self) -> Vec<(&'static str, &'static [ModelKind])> {
        const TEXT: &[ModelKind] = &[ModelKind::Gpt, ModelKind::Hmm];
        const GPT: &[ModelKind] = &[ModelKind::Gpt];
        [
            (self.context.is_some(), "--context", TEXT),
            (self.layers.is_some(), "--layers", GPT),
            (self.heads.is_some(), "--heads", GPT),
            (self.width.is_some(), "--width", GPT),
            (self.dropout.is_some(), "--dropout", GPT),
            (self.states.is_some(), "--states", &[ModelKind::Hmm]),
            (self.epoch_steps.is_some(), "--epoch-steps", TEXT),
        ]
        .into_iter()
        .filter_map(|(given, flag, models)| given.then_some((flag, models)))
        .collect()
    }
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
    /// Judge every generative model in the manifest, record the figures there and rewrite the
    /// metrics table of --readme.
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
    /// The classifier that judges the samples: a name in the manifest, a run directory or a file.
    #[arg(long, default_value = "classifier")]
    pub classifier: String,
    /// Directory with the MNIST IDX files: the test set is the reference for FID, precision and
    /// recall, the training set a reference row.
    #[arg(long)]
    pub data: PathBuf,
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
    /// Store the figures, command, count and seed in the model's manifest entry.
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
