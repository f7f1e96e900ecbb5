//! What every trainable model shares: a batch in, named loss terms out, and one training step
//! (one gradient step, or the GAN's discriminator-then-generator pair). The epoch loop,
//! checkpoints and progress live in `kiln-train`; the browser's fine-tuning uses the same
//! [`gradient_step`].

pub mod finetune;
pub mod recipe;

use std::f64::consts::PI;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::text::{Generation, Reads, TextBatch, TokenChoice};

/// Images in a preview: a 10×10 grid, one column per digit for conditional models.
pub const PREVIEW_COUNT: usize = 100;
/// Latents of the previews, fixed so that epochs can be compared.
pub const PREVIEW_SEED: u64 = 0;
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
