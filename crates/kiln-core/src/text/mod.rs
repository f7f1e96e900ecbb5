//! What every model that writes text shares: the characters its tokens stand for, the text it
//! learns from, and writing one character at a time. A model only says how it reads a text and
//! what it expects next (a [`Reader`]); choosing characters, prompts and lengths are common.

mod corpus;
mod generation;
mod vocabulary;
mod writing;

pub use corpus::{Corpus, CorpusError, TextBatch, TextSplit, VALIDATION_PARTS};
pub use generation::{Generation, GenerationError, MAX_TEMPERATURE, TokenChoice};
pub use vocabulary::{Vocabulary, VocabularyError};
pub use writing::Writing;

use std::fmt::Debug;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// A text being read by a model, which remembers what it has read. `Send`, so that the threaded
/// browser build can run its reading on a thread of its pool.
pub trait Reader: Debug + Send {
    /// Read `tokens`, which continue the text read so far, and give the logits of the
    /// character that comes next.
    ///
    /// # Shapes
    /// - output: `[V]`
    fn read(&mut self, tokens: &[u32], device: &Device) -> Tensor<1>;
}

/// A model that writes text: it starts a fresh [`Reader`] for each text.
pub trait Reads {
    fn reader(&self) -> Box<dyn Reader>;
}

/// A text model as stored: its architecture and the characters its tokens stand for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextSpec<C> {
    pub model: C,
    pub vocabulary: Vocabulary,
}

/// A text model as loaded: the model and the characters its tokens stand for.
#[derive(Debug, Clone)]
pub struct TextModel<M> {
    pub model: M,
    pub vocabulary: Vocabulary,
}
