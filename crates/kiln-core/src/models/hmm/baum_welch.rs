//! Baum–Welch (Baum et al. 1970): expected counts of the hidden path from a forward–backward
//! pass, then the counts become the parameters. Trained as stepwise EM (Liang & Klein 2009):
//! each step's counts come from a batch of windows and are blended into the stored counts with
//! the step's rate η, `μ ← (1 − η) μ + η s`; at η = 1 on the whole text it is the classic
//! algorithm, whose likelihood never decreases.

use burn::module::Param;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Int, Tensor};

use super::{Forward, Hmm, emission_likelihoods};
use crate::text::TextBatch;
use crate::train::{Losses, Objective, Preview};

/// Counts below this are stored as this, so that their logarithm stays finite.
const MIN_COUNT: f32 = 1e-30;

/// Expected counts of a batch's hidden paths, summed over its windows.
#[derive(Debug, Clone)]
pub struct Counts {
    /// Of the first state, shape `[1, N]`.
    pub initial: Tensor<2>,
    /// Of each move i → j, shape `[N, N]`.
    pub transitions: Tensor<2>,
    /// Of each state writing each character, shape `[N, V]`.
    pub emissions: Tensor<2>,
}

impl Hmm {
    /// The forward–backward pass over `tokens` (each row a window): the expected counts and
    /// the forward pass they came from.
    ///
    /// # Shapes
    /// - tokens: `[B, T]`
    pub fn expected_counts(&self, tokens: Tensor<2, Int>) -> (Counts, Forward) {
        let p = self.probabilities();
        let [batch, length] = tokens.dims();
        let states = self.states();
        let device = tokens.device();
        let likelihoods = emission_likelihoods(&p.emissions, tokens.clone());
        let forward = p.forward(&likelihoods);
        let scales = forward.log_scales.clone().exp();
        // β̂ at the last position is 1; going back, β̂_t = A (b_{t+1} ∘ β̂_{t+1}) / c_{t+1}.
        let mut backward = Tensor::<2>::ones([batch, states], &device);
        let mut posteriors = vec![forward.filtered[length - 1].clone()];
        let mut transitions = Tensor::<2>::zeros([states, states], &device);
        for t in (0..length - 1).rev() {
            let scale = scales.clone().slice([0..batch, t + 1..t + 2]);
            let weighted = likelihoods[t + 1].clone() * backward / scale;
            transitions = transitions
                + forward.filtered[t]
                    .clone()
                    .transpose()
                    .matmul(weighted.clone());
            backward = weighted.matmul(p.transitions.clone().transpose());
            posteriors.push(forward.filtered[t].clone() * backward.clone());
        }
        posteriors.reverse();
        let initial = posteriors[0].clone().sum_dim(0);
        let posteriors = Tensor::cat(posteriors, 1).reshape([batch * length, states]);
        let vocab = p.emissions.dims()[1];
        let characters = tokens.reshape([batch * length]).one_hot::<2>(vocab).float();
        let counts = Counts {
            initial,
            transitions: transitions * p.transitions,
            emissions: posteriors.transpose().matmul(characters),
        };
        (counts, forward)
    }

    /// Blend `counts` into the stored counts at rate `rate` (η in (0, 1]; a larger rate, which
    /// would make counts negative, replaces them as 1 does).
    pub fn absorb(self, counts: Counts, rate: f64) -> Self {
        let rate = rate.min(1.0);
        let blend = |param: Param<Tensor<2>>, new: Tensor<2>| {
            param.map(|old| {
                let old = old.detach().exp();
                (old * (1.0 - rate) + new * rate).clamp_min(MIN_COUNT).log()
            })
        };
        Self {
            initial: blend(self.initial, counts.initial),
            transitions: blend(self.transitions, counts.transitions),
            emissions: blend(self.emissions, counts.emissions),
            context: self.context,
        }
    }
}

/// Each window with the last target appended: the whole text the batch covers.
fn windows(batch: &TextBatch) -> Tensor<2, Int> {
    let [rows, length] = batch.targets.dims();
    let last = batch.targets.clone().slice([0..rows, length - 1..length]);
    Tensor::cat(vec![batch.inputs.clone(), last], 1)
}

impl Objective for Hmm {
    type Batch = TextBatch;

    fn losses(&self, batch: &TextBatch, _seed: u64) -> Losses {
        Losses::per_character(self.loss(windows(batch)))
    }

    /// One Baum–Welch step on the batch at rate `learning_rate`; the losses are the batch's
    /// under the parameters before the step. No gradients, so the optimiser is unused.
    fn train_step(
        self,
        batch: &TextBatch,
        _seed: u64,
        _optimizer: &mut ModuleOptimizer,
        learning_rate: f64,
    ) -> (Self, Losses) {
        let (counts, forward) = self.expected_counts(windows(batch));
        let losses = Losses::per_character(forward.surprise());
        (self.absorb(counts, learning_rate), losses)
    }

    fn preview(&self, device: &Device) -> Option<Preview> {
        Some(Preview::text(self, device))
    }
}
