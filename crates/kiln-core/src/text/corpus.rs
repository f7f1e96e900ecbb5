//! A text to learn from: its vocabulary and its tokens, split into a training part (the first
//! 90 %) and a held-out validation part (the rest), as nanoGPT splits Tiny Shakespeare.

use burn::tensor::{Device, Int, Tensor, TensorData};
use thiserror::Error;

use super::vocabulary::{Vocabulary, VocabularyError};

/// One part in this many, the end of the text, is held out for validation.
pub const VALIDATION_PARTS: usize = 10;

#[derive(Debug, Error, PartialEq)]
pub enum CorpusError {
    #[error(transparent)]
    Vocabulary(#[from] VocabularyError),
    #[error(
        "the text has {chars} characters; a context of {context} needs at least {needed} \
         (its validation tenth must hold one window of context + 1)"
    )]
    TooShort {
        chars: usize,
        context: usize,
        needed: usize,
    },
}

/// Tokens of one split.
#[derive(Debug, Clone)]
pub struct TextSplit {
    tokens: Vec<u32>,
}

/// Next-character prediction examples: each target row is its input row shifted by one.
#[derive(Debug, Clone)]
pub struct TextBatch {
    /// Shape `[B, T]`.
    pub inputs: Tensor<2, Int>,
    /// Shape `[B, T]`.
    pub targets: Tensor<2, Int>,
}

impl TextSplit {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Windows of `length` + 1 tokens that fit in the split; window `i` starts at token `i`.
    pub fn windows(&self, length: usize) -> usize {
        self.tokens.len().saturating_sub(length)
    }

    /// The windows starting at `starts` as a batch of inputs and targets of `length` tokens.
    ///
    /// # Panics
    /// If a window does not fit (a start ≥ [`TextSplit::windows`]).
    pub fn batch(&self, starts: &[usize], length: usize, device: &Device) -> TextBatch {
        let rows = |offset: usize| {
            let values: Vec<i32> = starts
                .iter()
                .flat_map(|&s| &self.tokens[s + offset..s + offset + length])
                .map(|&t| t as i32)
                .collect();
            Tensor::from_data(TensorData::new(values, [starts.len(), length]), device)
        };
        TextBatch {
            inputs: rows(0),
            targets: rows(1),
        }
    }
}

/// A text, tokenised by its own characters and split for training.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub vocabulary: Vocabulary,
    pub train: TextSplit,
    pub validation: TextSplit,
}

impl Corpus {
    /// Split `text`, tokenised by `vocabulary` (which must hold every character of it), for a
    /// model that reads `context` characters at once.
    pub fn new(text: &str, vocabulary: Vocabulary, context: usize) -> Result<Self, CorpusError> {
        let tokens = vocabulary.encode(text)?;
        let chars = tokens.len();
        // The validation part needs one window of context + 1 tokens.
        let needed = VALIDATION_PARTS * (context + 1);
        if chars < needed {
            return Err(CorpusError::TooShort {
                chars,
                context,
                needed,
            });
        }
        let mut train = tokens;
        let validation = train.split_off(chars - chars / VALIDATION_PARTS);
        Ok(Self {
            vocabulary,
            train: TextSplit { tokens: train },
            validation: TextSplit { tokens: validation },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_nine_to_one_and_shifts_targets() {
        let text = "abcdefghij".repeat(10);
        let corpus = Corpus::new(&text, Vocabulary::from_text(&text).unwrap(), 4).unwrap();
        assert_eq!(corpus.vocabulary.len(), 10);
        assert_eq!((corpus.train.len(), corpus.validation.len()), (90, 10));
        assert_eq!(corpus.validation.windows(4), 6);
        let device = Device::flex();
        let batch = corpus.train.batch(&[0, 7], 4, &device);
        batch.inputs.into_data().assert_eq(
            &TensorData::new(vec![0, 1, 2, 3, 7, 8, 9, 0], [2, 4]),
            false,
        );
        batch.targets.into_data().assert_eq(
            &TensorData::new(vec![1, 2, 3, 4, 8, 9, 0, 1], [2, 4]),
            false,
        );
    }

    #[test]
    fn too_short_a_text_is_refused() {
        let vocabulary = Vocabulary::from_text("abeinorst ").unwrap();
        let err = Corpus::new("to be or not", vocabulary.clone(), 8).unwrap_err();
        assert_eq!(
            err,
            CorpusError::TooShort {
                chars: 12,
                context: 8,
                needed: 90
            }
        );
        assert!(matches!(
            Corpus::new("to be, or", vocabulary, 8),
            Err(CorpusError::Vocabulary(
                VocabularyError::UnknownCharacters { .. }
            ))
        ));
    }
}
