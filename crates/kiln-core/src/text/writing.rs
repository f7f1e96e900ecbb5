//! A [`Generation`] as its callers see it: characters instead of tokens, and an end.

use burn::tensor::{Device, Tensor};

use super::generation::host_logits;
use super::{Generation, GenerationError, Vocabulary};

/// Text being written by a model, up to a number of characters.
#[derive(Debug)]
pub struct Writing {
    vocabulary: Vocabulary,
    generation: Generation,
    remaining: usize,
}

impl Writing {
    pub fn new(vocabulary: Vocabulary, generation: Generation, max_tokens: usize) -> Self {
        Self {
            vocabulary,
            generation,
            remaining: max_tokens,
        }
    }

    /// Characters still to write.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// The logits of the next character, or `None` once all are written.
    ///
    /// # Shapes
    /// - output: `[V]`
    pub fn next_logits(&mut self, device: &Device) -> Option<Tensor<1>> {
        (self.remaining > 0).then(|| self.generation.next_logits(device))
    }

    /// Pick the next character from the logits [`Writing::next_logits`] gave, read to the host
    /// (one per character of the vocabulary).
    pub fn choose(&mut self, logits: &[f32]) -> Result<char, GenerationError> {
        if logits.len() != self.vocabulary.len() {
            return Err(GenerationError::Logits {
                expected: self.vocabulary.len(),
                found: logits.len(),
            });
        }
        self.remaining = self.remaining.saturating_sub(1);
        let token = self.generation.choose(logits);
        Ok(self
            .vocabulary
            .char(token)
            .expect("a token below the vocabulary's size is in it"))
    }

    /// One whole step, reading the logits synchronously (native backends); `None` at the end.
    pub fn next_char(&mut self, device: &Device) -> Result<Option<char>, GenerationError> {
        let Some(logits) = self.next_logits(device) else {
            return Ok(None);
        };
        self.choose(&host_logits(logits)).map(Some)
    }
}
