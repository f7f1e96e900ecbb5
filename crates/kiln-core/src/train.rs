//! What every trainable image model shares: a labelled batch in, named loss terms out, and one
//! training step (one gradient step, or the GAN's discriminator-then-generator pair). The epoch
//! loop, checkpoints and progress live in `kiln-train`; the browser's fine-tuning uses the same
//! [`gradient_step`].

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};

use crate::autoencoder::DenoisingAutoencoder;
use crate::classifier::Classifier;
use crate::diffusion::{DEFAULT_STEPS, Denoising, Diffusion, SamplingOptions};
use crate::gan::Gan;
use crate::vae::Vae;

/// Images in a preview: a 10×10 grid, one column per digit for conditional models.
const PREVIEW_COUNT: usize = 100;
/// Latents of the previews, fixed so that epochs can be compared.
const PREVIEW_SEED: u64 = 0;

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

/// A model the shared training loop can train on digits.
pub trait DigitObjective: Module + Clone {
    /// The loss of `batch`; `seed` fixes any noise the objective draws.
    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses;

    /// The optimiser this model trains with.
    fn adam() -> AdamConfig {
        AdamConfig::new()
    }

    /// Images that show training progress at a glance (written after every epoch), if the model
    /// generates any: the same latents every time, so epochs compare.
    fn preview(&self, _device: &Device) -> Option<Tensor<4>> {
        None
    }

    /// One training step on `batch`, returning the updated model and the batch's losses. Models
    /// with one objective back-propagate [`DigitObjective::losses`]; adversarial ones override it.
    fn train_step(
        self,
        batch: &DigitBatch,
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
/// generic over it): see [`crate::model::ModelSpec::init_objective`].
pub trait WithObjective {
    type Output;
    fn run<M: DigitObjective>(self, model: M) -> Self::Output;
}

impl DigitObjective for Vae {
    fn preview(&self, device: &Device) -> Option<Tensor<4>> {
        Some(self.sample(PREVIEW_COUNT, PREVIEW_SEED, None, device))
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

impl DigitObjective for DenoisingAutoencoder {
    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), seed);
        Losses {
            terms: vec![("mse", loss.mse)],
            total: loss.reconstruction,
        }
    }
}

impl DigitObjective for Classifier {
    fn losses(&self, batch: &DigitBatch, _seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), batch.labels.clone());
        Losses {
            terms: vec![("error_rate", loss.error_rate)],
            total: loss.cross_entropy,
        }
    }
}

impl DigitObjective for Gan {
    /// Both losses on a held-out batch; `total` is their sum, for the loss tables only.
    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), batch.labels.clone(), seed);
        Losses {
            total: loss.discriminator.clone() + loss.generator.clone(),
            terms: vec![("d_loss", loss.discriminator), ("g_loss", loss.generator)],
        }
    }

    fn preview(&self, device: &Device) -> Option<Tensor<4>> {
        Some(
            self.generator
                .sample(PREVIEW_COUNT, PREVIEW_SEED, None, device),
        )
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

impl DigitObjective for Diffusion {
    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let mse = self.loss(batch.images.clone(), batch.labels.clone(), seed);
        Losses {
            terms: vec![("mse", mse.clone())],
            total: mse,
        }
    }

    /// The default sampler (what the page shows first).
    fn preview(&self, device: &Device) -> Option<Tensor<4>> {
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
        Some(run.finish())
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
