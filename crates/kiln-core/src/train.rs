//! What every trainable image model shares: a labelled batch in, named loss terms out, and one
//! gradient step. The epoch loop, checkpoints and progress live in `kiln-train`; the browser's
//! fine-tuning uses the same [`gradient_step`].

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Int, Tensor};

use crate::autoencoder::DenoisingAutoencoder;
use crate::classifier::Classifier;
use crate::vae::Vae;

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
}

impl DigitObjective for Vae {
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
