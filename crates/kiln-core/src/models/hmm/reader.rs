//! How an HMM reads a text it is writing: it keeps only p(state | text so far), updated by
//! Bayes' rule with each character, so any length of text costs the same per character.

use burn::tensor::{Device, Tensor};

use super::{Hmm, MIN_PROBABILITY, Probabilities, condition};
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
        let states = p.emissions.dims()[0];
        for &token in tokens {
            let prior = p.prior(self.filtered.as_ref(), 1);
            let likelihood = p
                .emissions
                .clone()
                .slice([0..states, token as usize..token as usize + 1])
                .reshape([1, states]);
            self.filtered = Some(condition(prior, likelihood).0);
        }
        let characters = p
            .prior(self.filtered.as_ref(), 1)
            .matmul(p.emissions.clone());
        let vocab = characters.dims()[1];
        characters.clamp_min(MIN_PROBABILITY).log().reshape([vocab])
    }
}
