//! Fine-tuning a pretrained class-conditional VAE on a handful of someone's images (digits in
//! the demo), so that it draws new ones in their style.
//!
//! Why the conditional VAE: its latent code holds the style and the label the digit, so a few
//! examples of some digits move the style of all of them; one gradient step is a few
//! milliseconds, so a few hundred steps fit in a minute on a laptop's CPU; and its ELBO is a
//! stable objective on ten images, where a GAN's would collapse onto them.
//!
//! Two things keep it from copying the examples or forgetting digits: every step sees randomly
//! [augmented](augment) copies of the examples, never the same pixels twice; and every step
//! also *replays* the classes the examples do not show: the decoder is pulled towards what the
//! pretrained decoder draws from the same latent codes (distillation), so it keeps drawing those
//! digits as before while the examples alone say how their own digits look.

pub mod augment;

use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use thiserror::Error;

use crate::data::dataset::ImageShape;
use crate::models::vae::{Vae, bernoulli_nll};
use crate::noise;
use crate::train::gradient_step;
use augment::Augmentation;
use burn::tensor::activation::sigmoid;

/// Most examples a fine-tuning run takes (each step augments all of them).
pub const MAX_EXAMPLES: usize = 64;
/// Most steps one run may take.
pub const MAX_STEPS: usize = 5_000;
/// The largest step fine-tuning takes: beyond it a few examples overwrite the model.
pub const MAX_LEARNING_RATE: f64 = 0.01;
/// Keeps the replayed codes' noise apart from the ELBO's, which draws from the same step seed.
const REPLAY_STREAM: u64 = 0x5EED_0F2E_91A7;

#[derive(Debug, Error, PartialEq)]
pub enum FinetuneError {
    #[error("fine-tuning needs at least one example")]
    NoExamples,
    #[error("at most {MAX_EXAMPLES} examples, got {0}")]
    TooManyExamples(usize),
    #[error("example {index} must be one {shape} image ({} intensities), got {len} values", .shape.values())]
    ImageSize {
        index: usize,
        shape: ImageShape,
        len: usize,
    },
    #[error("example {index} has an intensity outside 0 to 1: {value}")]
    Intensity { index: usize, value: f32 },
    #[error("example {index} is labelled {label}; labels are 0 to {}", .classes - 1)]
    Label {
        index: usize,
        label: usize,
        classes: usize,
    },
    #[error("steps must be from 1 to {MAX_STEPS}, got {0}")]
    Steps(usize),
    #[error("the learning rate must be above 0 and at most {MAX_LEARNING_RATE}, got {0}")]
    LearningRate(f64),
    #[error("only a class-conditional VAE (such as cvae) can be fine-tuned on labelled images")]
    NotConditional,
}

/// An image someone gave (a digit drawn and normalised as MNIST digits are, say), with its class.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// An image of the model's shape: intensities in `[0, 1]`, channel by channel, row by row.
    pub pixels: Vec<f32>,
    pub label: usize,
}

/// How a run trains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FinetuneConfig {
    pub steps: usize,
    pub learning_rate: f64,
    /// Augmented copies of the examples per step, and replayed latent codes beside them.
    pub batch_size: usize,
    pub augmentation: Augmentation,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            steps: 200,
            learning_rate: 2e-3,
            batch_size: 32,
            augmentation: Augmentation::default(),
        }
    }
}

impl FinetuneConfig {
    pub fn validate(&self) -> Result<(), FinetuneError> {
        if !(1..=MAX_STEPS).contains(&self.steps) {
            return Err(FinetuneError::Steps(self.steps));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= MAX_LEARNING_RATE) {
            return Err(FinetuneError::LearningRate(self.learning_rate));
        }
        Ok(())
    }
}

/// A fine-tuning run, one step at a time (so a page can show progress and cancel it).
pub struct Finetuning {
    model: Vae,
    /// The pretrained model, frozen: the source of replayed images.
    pretrained: Vae,
    /// What the model draws, and the examples are.
    shape: ImageShape,
    examples: Vec<Example>,
    /// The classes no example shows, which replay keeps as the pretrained model drew them.
    replayed_classes: Vec<usize>,
    optimizer: ModuleOptimizer,
    config: FinetuneConfig,
    steps_done: usize,
    seed: u64,
    /// The plain device, where the pretrained model draws.
    device: Device,
    /// Its autodiff twin, where the fine-tuned model trains.
    train_device: Device,
}

impl Finetuning {
    /// Start fine-tuning `vae`, which draws `shape` images (on `device`, a plain device;
    /// training runs on its autodiff twin) on `examples`, with every random draw following
    /// `seed`.
    pub fn new(
        vae: Vae,
        shape: ImageShape,
        examples: Vec<Example>,
        config: FinetuneConfig,
        seed: u64,
        device: &Device,
    ) -> Result<Self, FinetuneError> {
        config.validate()?;
        let classes = vae.num_classes().ok_or(FinetuneError::NotConditional)?;
        check_examples(&examples, shape, classes)?;
        let replayed_classes = (0..classes)
            .filter(|class| examples.iter().all(|e| e.label != *class))
            .collect();
        let train_device = device.clone().autodiff();
        Ok(Self {
            replayed_classes,
            model: vae.clone().fork(&train_device).train(),
            train_device,
            pretrained: vae,
            shape,
            examples,
            optimizer: AdamConfig::new().init(),
            config,
            steps_done: 0,
            seed,
            device: device.clone(),
        })
    }

    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    pub fn total_steps(&self) -> usize {
        self.config.steps
    }

    /// One gradient step on a fresh batch; returns its loss (nats per image: the −ELBO of the
    /// augmented examples plus the replay term) for the caller to read, or `None` once every
    /// step is done.
    ///
    /// # Shapes
    /// - output: `[1]`
    pub fn step(&mut self) -> Option<Tensor<1>> {
        if self.steps_done == self.config.steps {
            return None;
        }
        let seed = self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ self.steps_done as u64;
        let (images, labels) = self.examples_batch(seed);
        let mut loss = self.model.loss(images, &Some(labels), seed).total;
        if let Some(replay) = self.replay_loss(seed) {
            loss = loss + replay;
        }
        self.model = gradient_step(
            &mut self.optimizer,
            self.config.learning_rate,
            self.model.clone(),
            loss.clone(),
        );
        self.steps_done += 1;
        Some(loss.detach())
    }

    /// The model as fine-tuned so far, for sampling.
    pub fn model(&self) -> Vae {
        self.model.valid()
    }

    /// The (plain) device it trains on, where [`Finetuning::model`] samples.
    pub fn device(&self) -> Device {
        self.device.clone()
    }

    /// `batch_size` augmented copies of the examples, cycling through them.
    ///
    /// # Shapes
    /// - output: `[batch_size, channels, side, side]` and `[batch_size]`
    fn examples_batch(&self, seed: u64) -> (Tensor<4>, Tensor<1, Int>) {
        let size = self.config.batch_size;
        let ImageShape { channels, side } = self.shape;
        let mut rng = noise::rng(seed);
        let mut pixels = Vec::with_capacity(size * self.shape.values());
        let mut labels = Vec::with_capacity(size);
        for i in 0..size {
            let example = &self.examples[i % self.examples.len()];
            let augmentation = &self.config.augmentation;
            pixels.extend(augmentation.apply(&example.pixels, self.shape, &mut rng));
            labels.push(example.label as i32);
        }
        (
            Tensor::from_data(
                TensorData::new(pixels, [size, channels, side, side]),
                &self.train_device,
            ),
            Tensor::from_data(TensorData::new(labels, [size]), &self.train_device),
        )
    }

    /// How far the decoder has moved from the pretrained one on `batch_size` latent codes of the
    /// classes no example shows: the cross-entropy of its pixels against the pretrained model's
    /// (distillation, nats per image). It keeps those classes as they were drawn, code for code;
    /// `None` when the examples show every class.
    ///
    /// # Shapes
    /// - output: `[1]`
    fn replay_loss(&self, seed: u64) -> Option<Tensor<1>> {
        if self.replayed_classes.is_empty() {
            return None;
        }
        let size = self.config.batch_size;
        let labels: Vec<i32> = (0..size)
            .map(|i| self.replayed_classes[i % self.replayed_classes.len()] as i32)
            .collect();
        let latents =
            noise::standard_normal_values(seed ^ REPLAY_STREAM, size * self.model.latent_dim());
        let shape = [size, self.model.latent_dim()];
        let on = |device: &Device| {
            (
                Tensor::<2>::from_data(TensorData::new(latents.clone(), shape), device),
                Some(Tensor::<1, Int>::from_data(
                    TensorData::new(labels.clone(), [size]),
                    device,
                )),
            )
        };
        let (codes, classes) = on(&self.device);
        let target = sigmoid(self.pretrained.decode(codes, &classes));
        let (codes, classes) = on(&self.train_device);
        let logits = self.model.decode(codes, &classes);
        Some(bernoulli_nll(logits, target.to_device(&self.train_device)).mean())
    }
}

fn check_examples(
    examples: &[Example],
    shape: ImageShape,
    classes: usize,
) -> Result<(), FinetuneError> {
    if examples.is_empty() {
        return Err(FinetuneError::NoExamples);
    }
    if examples.len() > MAX_EXAMPLES {
        return Err(FinetuneError::TooManyExamples(examples.len()));
    }
    for (index, example) in examples.iter().enumerate() {
        if example.pixels.len() != shape.values() {
            return Err(FinetuneError::ImageSize {
                index,
                shape,
                len: example.pixels.len(),
            });
        }
        if let Some(&value) = example.pixels.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return Err(FinetuneError::Intensity { index, value });
        }
        if example.label >= classes {
            return Err(FinetuneError::Label {
                index,
                label: example.label,
                classes,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
