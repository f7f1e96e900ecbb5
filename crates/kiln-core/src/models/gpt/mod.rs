//! A small GPT (Radford et al. 2018/2019) that writes text one character at a time.
//!
//! Notation: B batch, T positions, V vocabulary size, D width. Tokens are characters of a
//! [`Vocabulary`](crate::text::Vocabulary); positions have learned embeddings, so the model
//! reads at most `context` characters. Blocks are pre-norm (GPT-2): `x + attention(norm(x))`, then
//! `x + mlp(norm(x))`.

mod attention;
mod reader;

pub use attention::LayerCache;

use burn::config::Config;
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig,
    Linear, LinearConfig,
};
use burn::optim::AdamConfig;
use burn::tensor::activation::{gelu, log_softmax};
use burn::tensor::{Device, Int, Tensor};

use crate::family::{TextFamily, TrainingDefaults};
use crate::limits::{MAX_CONTEXT, MAX_DEPTH, MAX_SYMBOLS, MAX_WIDTH, check_sizes};
use crate::text::{TextBatch, TextSpec};
use crate::train::recipe::{HyperParameter, HyperParameters, Recipe, RecipeError};
use crate::train::{Losses, LrSchedule, Objective, Preview};
use attention::CausalSelfAttention;

/// GPT-2's initial weights: N(0, 0.02²).
const INIT_STD: f64 = 0.02;

/// Hyper-parameters of a [`Gpt`]; stored beside the weights so inference can rebuild it.
#[derive(Config, Debug, PartialEq)]
pub struct GptConfig {
    /// Distinct characters (the [`Vocabulary`](crate::text::Vocabulary)'s size).
    pub vocab_size: usize,
    /// Characters the model reads at once.
    #[config(default = 256)]
    pub context: usize,
    #[config(default = 6)]
    pub layers: usize,
    #[config(default = 6)]
    pub heads: usize,
    /// Width of the residual stream D; a multiple of `heads`.
    #[config(default = 192)]
    pub width: usize,
    /// Dropout on attention weights and residual branches during training. Small: a model of a
    /// few million parameters that sees a text some 20 times barely overfits.
    #[config(default = 0.05)]
    pub dropout: f64,
}

impl GptConfig {
    /// Check the invariants `init` relies on, naming the offending values.
    pub fn validate(&self) -> Result<(), String> {
        check_sizes(&[
            ("vocab_size", self.vocab_size, MAX_SYMBOLS),
            ("context", self.context, MAX_CONTEXT),
            ("layers", self.layers, MAX_DEPTH),
            ("heads", self.heads, MAX_DEPTH),
            ("width", self.width, MAX_WIDTH),
        ])?;
        if !self.width.is_multiple_of(self.heads) {
            return Err(format!(
                "width {} must be a multiple of heads {}",
                self.width, self.heads
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        Ok(())
    }

    /// Build a freshly initialised model.
    ///
    /// # Panics
    /// If the config is invalid (see [`GptConfig::validate`]).
    pub fn init(&self, device: &Device) -> Gpt {
        if let Err(why) = self.validate() {
            panic!("invalid GptConfig: {why}");
        }
        let embedding = |count| {
            EmbeddingConfig::new(count, self.width)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: INIT_STD,
                })
                .init(device)
        };
        Gpt {
            tokens: embedding(self.vocab_size),
            positions: embedding(self.context),
            dropout: DropoutConfig::new(self.dropout).init(),
            blocks: (0..self.layers).map(|_| Block::new(self, device)).collect(),
            norm: LayerNormConfig::new(self.width).init(device),
            head: linear(self.width, self.vocab_size, device),
            context: self.context,
            width: self.width,
        }
    }
}

/// A GPT as stored: its architecture and the characters its tokens stand for.
pub type GptSpec = TextSpec<GptConfig>;

impl TextFamily for GptConfig {
    type Model = Gpt;

    const RECIPE: Recipe = Recipe {
        name: "gpt",
        about: "Character-level Transformer that writes text like the --data text file.",
    };
    const HYPER_PARAMETERS: &'static [HyperParameter] = &[
        HyperParameter {
            name: "context",
            about: "characters the model reads at once [default: 256]",
        },
        HyperParameter {
            name: "layers",
            about: "Transformer blocks [default: 6]",
        },
        HyperParameter {
            name: "heads",
            about: "attention heads per block [default: 6]",
        },
        HyperParameter {
            name: "width",
            about: "width of the residual stream, a multiple of --heads [default: 192]",
        },
        HyperParameter {
            name: "dropout",
            about: "dropout probability while training [default: 0.05]",
        },
    ];

    /// nanoGPT's Shakespeare recipe, scaled to this model: 20 epochs of 250 steps of 16 windows
    /// (20 M characters, Tiny Shakespeare ~20 times), a cosine from twice nanoGPT's 1e-3 (a smaller
    /// model takes a larger step) after 100 steps of warm-up, down to a tenth.
    const TRAINING: TrainingDefaults = TrainingDefaults {
        epochs: 20,
        batch: 16,
        learning_rate: 2e-3,
        schedule: LrSchedule::Cosine {
            warmup_steps: 100,
            final_ratio: 0.1,
        },
        ema: None,
        epoch_steps: Some(250),
    };

    fn configure(given: &HyperParameters, vocab_size: usize) -> Result<Self, RecipeError> {
        let mut gpt = GptConfig::new(vocab_size);
        given.count("context", &mut gpt.context)?;
        given.count("layers", &mut gpt.layers)?;
        given.count("heads", &mut gpt.heads)?;
        given.count("width", &mut gpt.width)?;
        given.number("dropout", &mut gpt.dropout)?;
        Ok(gpt)
    }

    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn context(&self) -> usize {
        self.context
    }

    fn validate(&self) -> Result<(), String> {
        GptConfig::validate(self)
    }

    fn init(&self, device: &Device) -> Gpt {
        GptConfig::init(self, device)
    }
}

/// A linear layer with GPT-2's initial weights.
fn linear(inputs: usize, outputs: usize, device: &Device) -> Linear {
    LinearConfig::new(inputs, outputs)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: INIT_STD,
        })
        .init(device)
}

#[derive(Module, Debug)]
pub struct Gpt {
    tokens: Embedding,
    positions: Embedding,
    dropout: Dropout,
    blocks: Vec<Block>,
    norm: LayerNorm,
    head: Linear,
    context: usize,
    width: usize,
}

/// What a model has read so far in one generation: each layer's keys and values.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<LayerCache>>,
    seen: usize,
}

impl KvCache {
    /// Positions read so far.
    pub fn seen(&self) -> usize {
        self.seen
    }
}

impl Gpt {
    /// Characters the model reads at once.
    pub fn context(&self) -> usize {
        self.context
    }

    /// Next-character logits at every position of `tokens`, read from scratch.
    ///
    /// # Shapes
    /// - tokens: `[B, T]` with T ≤ context; output: `[B, T, V]`
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        self.forward_cached(tokens, &mut KvCache::default())
    }

    /// Logits of `tokens`, which follow the `cache.seen()` positions already in `cache`; the
    /// cache then holds them too.
    ///
    /// # Panics
    /// If the cache and the new tokens together exceed the context.
    ///
    /// # Shapes
    /// - tokens: `[B, T]`; output: `[B, T, V]`
    pub fn forward_cached(&self, tokens: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<3> {
        let [batch, new] = tokens.dims();
        let start = cache.seen;
        assert!(
            start + new <= self.context,
            "{start} cached + {new} new positions exceed the context of {}",
            self.context
        );
        let device = tokens.device();
        let positions =
            Tensor::<1, Int>::arange(start as i64..(start + new) as i64, &device).reshape([1, new]);
        let mut x = self.tokens.forward(tokens)
            + self
                .positions
                .forward(positions)
                .expand([batch, new, self.width]);
        x = self.dropout.forward(x);
        cache.layers.resize(self.blocks.len(), None);
        for (block, layer_cache) in self.blocks.iter().zip(&mut cache.layers) {
            x = block.forward(x, layer_cache);
        }
        cache.seen += new;
        self.head.forward(self.norm.forward(x))
    }

    /// Mean cross-entropy (nats per character) of predicting each next character.
    ///
    /// # Shapes
    /// - inputs, targets: `[B, T]` (targets are the inputs shifted by one); output: `[1]`
    pub fn loss(&self, inputs: Tensor<2, Int>, targets: Tensor<2, Int>) -> Tensor<1> {
        let [batch, length] = inputs.dims();
        let logits = self.forward(inputs);
        let vocab = logits.dims()[2];
        let log_probs = log_softmax(logits.reshape([batch * length, vocab]), 1);
        log_probs
            .gather(1, targets.reshape([batch * length, 1]))
            .mean()
            .neg()
            .reshape([1])
    }
}

/// Pre-norm transformer block.
#[derive(Module, Debug)]
struct Block {
    attention_norm: LayerNorm,
    attention: CausalSelfAttention,
    mlp_norm: LayerNorm,
    expand: Linear,
    contract: Linear,
    dropout: Dropout,
}

impl Block {
    fn new(config: &GptConfig, device: &Device) -> Self {
        let width = config.width;
        Self {
            attention_norm: LayerNormConfig::new(width).init(device),
            attention: CausalSelfAttention::new(width, config.heads, config.dropout, device),
            mlp_norm: LayerNormConfig::new(width).init(device),
            expand: linear(width, 4 * width, device),
            contract: linear(4 * width, width, device),
            dropout: DropoutConfig::new(config.dropout).init(),
        }
    }

    /// # Shapes
    /// - x: `[B, T, D]`; output: `[B, T, D]`
    fn forward(&self, x: Tensor<3>, cache: &mut Option<LayerCache>) -> Tensor<3> {
        let x = x.clone()
            + self
                .attention
                .forward(self.attention_norm.forward(x), cache);
        let hidden = gelu(self.expand.forward(self.mlp_norm.forward(x.clone())));
        x + self.dropout.forward(self.contract.forward(hidden))
    }
}

impl Objective for Gpt {
    type Batch = TextBatch;

    fn losses(&self, batch: &TextBatch, _seed: u64) -> Losses {
        Losses::per_character(self.loss(batch.inputs.clone(), batch.targets.clone()))
    }

    /// nanoGPT's settings: β₂ = 0.99 (few tokens per step make the second moment noisy) and the
    /// gradient norm clipped at 1, which keeps the early steps of a Transformer stable.
    fn adam() -> AdamConfig {
        AdamConfig::new()
            .with_beta_2(0.99)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
    }

    fn preview(&self, device: &Device) -> Option<Preview> {
        Some(Preview::text(self, device))
    }
}

#[cfg(test)]
mod tests;
