//! Writing text one character at a time: a [`Generation`] feeds the model's [`Reader`] only what
//! it has not read yet and a [`TokenChoice`] picks each next character, seeded on the CPU so
//! that a seed means the same choices on every backend.
//!
//! Each step is two calls — [`Generation::next_logits`], then [`Generation::choose`] with those
//! logits read back — so a native caller reads them synchronously and the browser
//! asynchronously, and either can stop between any two characters.

use burn::tensor::{Device, Tensor};
use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;
use thiserror::Error;

use super::Reader;
use crate::noise;

#[derive(Debug, Error, PartialEq)]
pub enum GenerationError {
    #[error("the prompt is empty: give at least one character (a newline starts a fresh line)")]
    EmptyPrompt,
    #[error(
        "temperature must be a finite number from 0 to 10 (0 always picks the likeliest), got {0}"
    )]
    Temperature(f32),
    #[error("top-k must be at least 1, got {0}")]
    TopK(usize),
    #[error("top-p must be above 0 and at most 1, got {0}")]
    TopP(f32),
    #[error("expected {expected} logits, one per character of the vocabulary, got {found}")]
    Logits { expected: usize, found: usize },
}

/// The flattest a draw may be asked to be.
pub const MAX_TEMPERATURE: f32 = 10.0;

/// How the next character is picked from the model's logits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenChoice {
    /// Divides the logits: below 1 sharper, above 1 flatter; 0 picks the likeliest (greedy).
    pub temperature: f32,
    /// Draw only among the `k` likeliest characters.
    pub top_k: Option<usize>,
    /// Draw only among the likeliest characters whose probabilities add up to `p` (nucleus
    /// sampling, Holtzman et al. 2020), after top-k.
    pub top_p: Option<f32>,
}

impl Default for TokenChoice {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: None,
            top_p: None,
        }
    }
}

impl TokenChoice {
    pub fn validate(&self) -> Result<(), GenerationError> {
        if !(self.temperature.is_finite() && (0.0..=MAX_TEMPERATURE).contains(&self.temperature)) {
            return Err(GenerationError::Temperature(self.temperature));
        }
        if let Some(k) = self.top_k.filter(|&k| k == 0) {
            return Err(GenerationError::TopK(k));
        }
        if let Some(p) = self.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(GenerationError::TopP(p));
        }
        Ok(())
    }

    /// The index of the chosen character, drawing (unless greedy) one uniform number.
    pub(crate) fn pick(&self, logits: &[f32], rng: &mut Xoshiro256PlusPlus) -> usize {
        // Likeliest first; ties keep the lower index, so greedy picks the first maximum.
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        if self.temperature == 0.0 {
            return order[0];
        }
        order.truncate(self.top_k.unwrap_or(order.len()).max(1));
        let top = f64::from(logits[order[0]]);
        let temperature = f64::from(self.temperature);
        let mut weights: Vec<f64> = order
            .iter()
            .map(|&i| ((f64::from(logits[i]) - top) / temperature).exp())
            .collect();
        if let Some(p) = self.top_p {
            let total: f64 = weights.iter().sum();
            let mut mass = 0.0;
            let keep = weights
                .iter()
                .position(|w| {
                    mass += w / total;
                    mass >= f64::from(p)
                })
                .map_or(weights.len(), |last| last + 1);
            weights.truncate(keep);
        }
        let mut threshold = rng.random::<f64>() * weights.iter().sum::<f64>();
        for (rank, weight) in weights.iter().enumerate() {
            threshold -= weight;
            if threshold < 0.0 {
                return order[rank];
            }
        }
        order[weights.len() - 1]
    }
}

/// One piece of text being written.
#[derive(Debug)]
pub struct Generation {
    reader: Box<dyn Reader>,
    /// Tokens chosen (or prompted) but not yet read by the model.
    unread: Vec<u32>,
    /// The logits of the last read, until a character is chosen from them.
    pending: Option<Tensor<1>>,
    choice: TokenChoice,
    rng: Xoshiro256PlusPlus,
}

impl Generation {
    /// Start writing after `prompt`, which `reader` (fresh) reads first.
    pub fn new(
        reader: Box<dyn Reader>,
        prompt: &[u32],
        choice: TokenChoice,
        seed: u64,
    ) -> Result<Self, GenerationError> {
        choice.validate()?;
        if prompt.is_empty() {
            return Err(GenerationError::EmptyPrompt);
        }
        Ok(Self {
            reader,
            unread: prompt.to_vec(),
            pending: None,
            choice,
            rng: noise::rng(seed),
        })
    }

    /// The logits of the next character, once the model has read what it had not yet (asked
    /// again before a character is chosen, the same logits).
    ///
    /// # Shapes
    /// - output: `[V]`
    pub fn next_logits(&mut self, device: &Device) -> Tensor<1> {
        if self.unread.is_empty()
            && let Some(logits) = &self.pending
        {
            return logits.clone();
        }
        let unread = std::mem::take(&mut self.unread);
        let logits = self.reader.read(&unread, device);
        self.pending = Some(logits.clone());
        logits
    }

    /// One whole step, reading the logits back synchronously (native backends): the chosen
    /// character's token.
    pub fn next_token(&mut self, device: &Device) -> u32 {
        let logits = host_logits(self.next_logits(device));
        self.choose(&logits)
    }

    /// Pick the next character from `logits` (those [`Generation::next_logits`] gave, read to
    /// the host); the model reads it at the next step.
    pub fn choose(&mut self, logits: &[f32]) -> u32 {
        let token = self.choice.pick(logits, &mut self.rng) as u32;
        self.unread.push(token);
        self.pending = None;
        token
    }
}

/// Logits read back to the host synchronously (native backends only: a browser's GPU must be
/// read asynchronously).
pub(crate) fn host_logits(logits: Tensor<1>) -> Vec<f32> {
    logits
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
}
