//! What every trainable model shares: a batch in, named loss terms out, and one training step
//! (one gradient step, or the GAN's discriminator-then-generator pair). The epoch loop,
//! checkpoints and progress live in `kiln-train`; the browser's fine-tuning uses the same
//! [`gradient_step`].

use std::f64::consts::PI;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::autoencoder::DenoisingAutoencoder;
use crate::classifier::Classifier;
use crate::diffusion::{DEFAULT_STEPS, Denoising, Diffusion, SamplingOptions};
use crate::gan::Gan;
use crate::gpt::Gpt;
use crate::text::{Generation, Reads, TextBatch, TokenChoice};
use crate::vae::Vae;

/// Images in a preview: a 10×10 grid, one column per digit for conditional models.
const PREVIEW_COUNT: usize = 100;
/// Latents of the previews, fixed so that epochs can be compared.
const PREVIEW_SEED: u64 = 0;
/// Characters in a text preview.
const PREVIEW_CHARS: usize = 300;

/// A batch of digits.
#[derive(Debug, Clone)]
pub struct DigitBatch {
    /// Intensities in `[0, 1]`, shape `[batch, 1, 28, 28]`.
    pub images: Tensor<4>,
    /// Classes 0–9, shape `[batch]`.
    pub labels: Tensor<1, Int>,
}

/// The loss of one batch: `total` is minimised, `terms` are reported beside it.
#[derive(Debug, Clone)]
pub struct Losses {
    /// Shape `[1]`.
    pub total: Tensor<1>,
    /// Named per-example averages, each of shape `[1]`.
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

/// What a generative model shows of its progress after an epoch.
#[derive(Debug, Clone)]
pub enum Preview {
    /// A grid of digits in `[0, 1]`, shape `[count, 1, 28, 28]`.
    Images(Box<Tensor<4>>),
    /// Characters, as tokens of the run's vocabulary.
    Tokens(Vec<u32>),
}

impl Losses {
    /// A text model's: the mean negative log-likelihood per character (nats), and in bits.
    pub fn per_character(nats: Tensor<1>) -> Self {
        Self {
            terms: vec![("bits_per_char", nats.clone() / std::f64::consts::LN_2)],
            total: nats,
        }
    }
}

impl Preview {
    /// Text at temperature 0.8 after token 0: the text's smallest character, a newline in most.
    pub fn text(model: &impl Reads, device: &Device) -> Self {
        let mut generation =
            Generation::new(model.reader(), &[0], TokenChoice::default(), PREVIEW_SEED)
                .expect("a one-token prompt with the default choice is valid");
        Preview::Tokens(
            (0..PREVIEW_CHARS)
                .map(|_| generation.next_token(device))
                .collect(),
        )
    }
}

/// A model the shared training loop can train.
pub trait Objective: Module + Clone {
    /// What one step learns from: [`DigitBatch`] or [`TextBatch`].
    type Batch;

    /// The loss of `batch`; `seed` fixes any noise the objective draws.
    fn losses(&self, batch: &Self::Batch, seed: u64) -> Losses;

    /// The optimiser this model trains with.
    fn adam() -> AdamConfig {
        AdamConfig::new()
    }

    /// What shows training progress at a glance (written after every epoch), if the model
    /// generates anything: from the same seed every time, so epochs compare.
    fn preview(&self, _device: &Device) -> Option<Preview> {
        None
    }

    /// One training step on `batch`, returning the updated model and the batch's losses. Models
    /// with one objective back-propagate [`Objective::losses`]; adversarial ones override it.
    fn train_step(
        self,
        batch: &Self::Batch,
        seed: u64,
        optimizer: &mut ModuleOptimizer,
        learning_rate: f64,
    ) -> (Self, Losses) {
        let losses = self.losses(batch, seed);
        let model = gradient_step(optimizer, learning_rate, self, losses.total.clone());
        (model, losses)
    }
}

/// Work on a trainable model whose concrete type only the spec knows (a closure cannot be
/// generic over it): see [`crate::model::ModelSpec::init_objective`]. The two methods are the
/// two kinds of data a model can learn from.
pub trait WithObjective {
    type Output;
    fn digits<M: Objective<Batch = DigitBatch>>(self, model: M) -> Self::Output;
    fn text<M: Objective<Batch = TextBatch>>(self, model: M) -> Self::Output;
}

impl Objective for Vae {
    type Batch = DigitBatch;

    fn preview(&self, device: &Device) -> Option<Preview> {
        Some(Preview::Images(Box::new(self.sample(
            PREVIEW_COUNT,
            PREVIEW_SEED,
            None,
            device,
        ))))
    }

    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), &Some(batch.labels.clone()), seed);
        Losses {
            terms: vec![
                ("recon", loss.reconstruction.clone()),
                ("kl", loss.kl.clone()),
                // −ELBO at β = 1, whatever β training uses: the number VAEs are compared by.
                ("neg_elbo", loss.reconstruction + loss.kl),
            ],
            total: loss.total,
        }
    }
}

impl Objective for DenoisingAutoencoder {
    type Batch = DigitBatch;

    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), seed);
        Losses {
            terms: vec![("mse", loss.mse)],
            total: loss.reconstruction,
        }
    }
}

impl Objective for Classifier {
    type Batch = DigitBatch;

    fn losses(&self, batch: &DigitBatch, _seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), batch.labels.clone());
        Losses {
            terms: vec![("error_rate", loss.error_rate)],
            total: loss.cross_entropy,
        }
    }
}

impl Objective for Gan {
    type Batch = DigitBatch;

    /// Both losses on a held-out batch; `total` is their sum, for the loss tables only.
    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), batch.labels.clone(), seed);
        Losses {
            total: loss.discriminator.clone() + loss.generator.clone(),
            terms: vec![("d_loss", loss.discriminator), ("g_loss", loss.generator)],
        }
    }

    fn preview(&self, device: &Device) -> Option<Preview> {
        Some(Preview::Images(Box::new(self.generator.sample(
            PREVIEW_COUNT,
            PREVIEW_SEED,
            None,
            device,
        ))))
    }

    /// Adam with β₁ = 0.5, as DCGAN: less momentum keeps the two players from overshooting.
    fn adam() -> AdamConfig {
        AdamConfig::new().with_beta_1(0.5)
    }

    /// A discriminator step on real and generated digits, then a generator step against the
    /// updated discriminator, each moving only its own player's parameters.
    fn train_step(
        self,
        batch: &DigitBatch,
        seed: u64,
        optimizer: &mut ModuleOptimizer,
        learning_rate: f64,
    ) -> (Self, Losses) {
        let [size, ..] = batch.images.dims();
        let (latents, fake_labels) = self.fake_inputs(size, seed, &batch.images.device());
        let fakes = self.generator.forward(latents.clone(), fake_labels.clone());
        let d_loss = self.discriminator_loss(
            batch.images.clone(),
            batch.labels.clone(),
            fakes,
            fake_labels.clone(),
        );
        let grads = GradientsParams::from_grads(d_loss.backward(), &self.discriminator);
        let gan = optimizer.step(learning_rate, self, grads);

        let fakes = gan.generator.forward(latents, fake_labels.clone());
        let g_loss = gan.generator_loss(fakes, fake_labels);
        let grads = GradientsParams::from_grads(g_loss.backward(), &gan.generator);
        let gan = optimizer.step(learning_rate, gan, grads);
        let losses = Losses {
            total: d_loss.clone() + g_loss.clone(),
            terms: vec![("d_loss", d_loss), ("g_loss", g_loss)],
        };
        (gan, losses)
    }
}

impl Objective for Diffusion {
    type Batch = DigitBatch;

    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let mse = self.loss(batch.images.clone(), batch.labels.clone(), seed);
        Losses {
            terms: vec![("mse", mse.clone())],
            total: mse,
        }
    }

    /// The default sampler (what the page shows first).
    fn preview(&self, device: &Device) -> Option<Preview> {
        let options = SamplingOptions {
            steps: DEFAULT_STEPS.min(self.schedule().len()),
            ..SamplingOptions::default()
        };
        let run = Denoising::new(
            self.clone(),
            PREVIEW_COUNT,
            PREVIEW_SEED,
            None,
            options,
            device,
        )
        .expect("steps within the schedule");
        Some(Preview::Images(Box::new(run.finish())))
    }
}

impl Objective for Gpt {
    type Batch = TextBatch;

    fn losses(&self, batch: &TextBatch, _seed: u64) -> Losses {
        Losses::per_character(self.loss(batch.inputs.clone(), batch.targets.clone()))
    }

    /// nanoGPT's settings: β₂ = 0.99 (few tokens per step make the second moment noisy) and the
    /// gradient norm clipped at 1, which keeps the early steps of a Transformer stable.
    fn adam() -> AdamConfig {
        AdamConfig::new()
            .with_beta_2(0.99)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
    }

    fn preview(&self, device: &Device) -> Option<Preview> {
        Some(Preview::text(self, device))
    }
}

/// How the learning rate moves over a run.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// The same rate throughout.
    #[default]
    Constant,
    /// A linear warm-up from 0 over `warmup_steps`, then half a cosine down to `final_ratio`
    /// of the peak at the last step (Loshchilov & Hutter 2017, as GPT-2 and nanoGPT train).
    Cosine { warmup_steps: u64, final_ratio: f64 },
}

impl LrSchedule {
    /// The rate of step `step` (from 0) of `total_steps`, given the peak rate.
    pub fn rate(&self, peak: f64, step: u64, total_steps: u64) -> f64 {
        match *self {
            LrSchedule::Constant => peak,
            LrSchedule::Cosine {
                warmup_steps,
                final_ratio,
            } => {
                if step < warmup_steps {
                    return peak * (step + 1) as f64 / warmup_steps as f64;
                }
                let decay_steps = total_steps.saturating_sub(warmup_steps).max(1);
                let progress = ((step - warmup_steps) as f64 / decay_steps as f64).min(1.0);
                let cosine = 0.5 * (1.0 + (PI * progress).cos());
                peak * (final_ratio + (1.0 - final_ratio) * cosine)
            }
        }
    }
}

/// Back-propagate `loss` through `model` and apply one optimiser update.
pub fn gradient_step<M: Module>(
    optimizer: &mut ModuleOptimizer,
    learning_rate: f64,
    model: M,
    loss: Tensor<1>,
) -> M {
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optimizer.step(learning_rate, model, grads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_warms_up_linearly_then_decays_to_its_floor() {
        let schedule = LrSchedule::Cosine {
            warmup_steps: 10,
            final_ratio: 0.1,
        };
        let rate = |step| schedule.rate(1e-3, step, 110);
        assert!((rate(0) - 1e-4).abs() < 1e-12);
        assert!((rate(9) - 1e-3).abs() < 1e-12);
        assert!((rate(10) - 1e-3).abs() < 1e-12);
        // Halfway through the decay: halfway between the peak and the floor.
        assert!((rate(60) - 0.55e-3).abs() < 1e-12);
        assert!((rate(110) - 1e-4).abs() < 1e-12);
        assert!((rate(500) - 1e-4).abs() < 1e-12, "stays at the floor");
        assert!((10..110).all(|step| rate(step + 1) <= rate(step)));
        assert_eq!(LrSchedule::Constant.rate(1e-3, 7, 10), 1e-3);
    }
}
