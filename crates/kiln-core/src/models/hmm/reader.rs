//! How an HMM reads a text it is writing: it keeps only p(state | text so far), updated by
//! Bayes' rule with each character, so any length of text costs the same per character.

use burn::tensor::{Device, Tensor};

use super::{Hmm, MIN_PROBABILITY, Probabilities};
use crate::text::{Reader, Reads};

#[derive(Debug)]
struct HmmReader {
    probabilities: Probabilities,
    /// p(state | characters read), shape `[1, N]`; `None` before the first character.
    filtered: Option<Tensor<2>>,
}

impl Reads for Hmm {
    fn reader(&self) -> Box<dyn Reader> {
        Box::new(HmmReader {
            probabilities: self.probabilities(),
            filtered: None,
        })
    }
}

impl Reader for HmmReader {
    fn read(&mut self, tokens: &[u32], _device: &Device) -> Tensor<1> {
        let p = &self.probabilities;
        for &token in tokens {
            let prior = self.next_states();
            let states = p.emissions.dims()[0];
            let likelihood = p
                .emissions
                .clone()
                .slice([0..states, token as usize..token as usize + 1])
                .reshape([1, states]);
            let joint = prior * likelihood;
            let total = joint.clone().sum().clamp_min(f32::MIN_POSITIVE);
            self.filtered = Some(joint / total.unsqueeze());
        }
        let characters = self.next_states().matmul(p.emissions.clone());
        let vocab = characters.dims()[1];
        characters.clamp_min(MIN_PROBABILITY).log().reshape([vocab])
    }
}

impl HmmReader {
    /// p(next state | characters read), shape `[1, N]`.
    fn next_states(&self) -> Tensor<2> {
        match &self.filtered {
            None => self.probabilities.initial.clone(),
            Some(filtered) => filtered
                .clone()
                .matmul(self.probabilities.transitions.clone()),
        }
    }
}
