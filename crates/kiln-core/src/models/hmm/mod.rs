//! A hidden Markov model of characters (Rabiner 1989): a chain of N hidden states, each step
//! moving from state i to state j with probability A\[i, j\] and writing character c with
//! probability B\[j, c\]. It remembers the past only through a distribution over N states, which
//! makes it the classic baseline below a Transformer that reads its whole context.
//!
//! Notation: B batch, T positions, N states, V vocabulary size (the characters of a
//! [`Vocabulary`](crate::text::Vocabulary)). The parameters are stored as
//! the logarithms of expected counts (the statistics Baum–Welch accumulates),
//! and normalised into probabilities where they are used, so a stored file needs no
//! renormalising however it was rounded.

mod baum_welch;
mod reader;

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Distribution, Int, Tensor};

use crate::family::{TextFamily, TrainingDefaults};
use crate::limits::{MAX_CONTEXT, MAX_SYMBOLS, check_sizes};
use crate::text::TextSpec;
use crate::train::LrSchedule;
use crate::train::recipe::{HyperParameter, HyperParameters, Recipe, RecipeError};

/// The least probability a parameter takes. Without a floor, products of near-impossible
/// moves reach subnormal floats, which CPUs compute a hundred times slower; a floor far below
/// anything a text of millions of characters can measure changes no figure.
pub const MIN_PROBABILITY: f32 = 1e-12;

/// Most hidden states: the transition matrix alone is N² numbers (64 MB at this size).
pub const MAX_STATES: usize = 4096;

/// Hyper-parameters of an [`Hmm`]; stored beside the weights so inference can rebuild it.
#[derive(Config, Debug, PartialEq)]
pub struct HmmConfig {
    /// Distinct characters (the [`Vocabulary`](crate::text::Vocabulary)'s size).
    pub vocab_size: usize,
    /// Hidden states N.
    #[config(default = 256)]
    pub states: usize,
    /// Characters per window in training and evaluation; each window starts from the initial
    /// distribution, as the GPT reads its windows from nothing.
    #[config(default = 256)]
    pub context: usize,
}

impl HmmConfig {
    /// Check the invariants `init` relies on, naming the offending values.
    pub fn validate(&self) -> Result<(), String> {
        check_sizes(&[
            ("vocab_size", self.vocab_size, MAX_SYMBOLS),
            ("states", self.states, MAX_STATES),
            ("context", self.context, MAX_CONTEXT),
        ])
    }

    /// A model with random counts (uniform in [0.5, 1.5) before normalising), drawn from the
    /// device's seed: Baum–Welch needs the states to differ to tell them apart.
    ///
    /// # Panics
    /// If the config is invalid (see [`HmmConfig::validate`]).
    pub fn init(&self, device: &Device) -> Hmm {
        if let Err(why) = self.validate() {
            panic!("invalid HmmConfig: {why}");
        }
        let counts = |shape: [usize; 2]| {
            Param::from_tensor(Tensor::random(shape, Distribution::Uniform(0.5, 1.5), device).log())
        };
        Hmm {
            initial: counts([1, self.states]),
            transitions: counts([self.states, self.states]),
            emissions: counts([self.states, self.vocab_size]),
            context: self.context,
        }
    }
}

/// An HMM as stored: its architecture and the characters its tokens stand for.
pub type HmmSpec = TextSpec<HmmConfig>;

impl TextFamily for HmmConfig {
    type Model = Hmm;

    const RECIPE: Recipe = Recipe {
        name: "hmm",
        about: "Character-level hidden Markov model (Baum–Welch), the classic baseline below gpt.",
    };
    const HYPER_PARAMETERS: &'static [HyperParameter] = &[
        HyperParameter {
            name: "states",
            about: "hidden states [default: 256]",
        },
        HyperParameter {
            name: "context",
            about: "characters per window it trains on, each read from the initial state \
                    [default: 256]",
        },
    ];

    /// 10 epochs of 50 Baum–Welch steps of 64 windows (8 M characters, Tiny Shakespeare ~8 times).
    /// The rate is stepwise EM's η: half of the counts replaced at first, falling on a cosine to a
    /// tenth of that, without warm-up (a random HMM has nothing to protect).
    const TRAINING: TrainingDefaults = TrainingDefaults {
        epochs: 10,
        batch: 64,
        learning_rate: 0.5,
        schedule: LrSchedule::Cosine {
            warmup_steps: 0,
            final_ratio: 0.1,
        },
        ema: None,
        epoch_steps: Some(50),
    };

    fn configure(given: &HyperParameters, vocab_size: usize) -> Result<Self, RecipeError> {
        let mut hmm = HmmConfig::new(vocab_size);
        given.count("states", &mut hmm.states)?;
        given.count("context", &mut hmm.context)?;
        Ok(hmm)
    }

    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn context(&self) -> usize {
        self.context
    }

    fn validate(&self) -> Result<(), String> {
        HmmConfig::validate(self)
    }

    fn init(&self, device: &Device) -> Hmm {
        HmmConfig::init(self, device)
    }
}

#[derive(Module, Debug)]
pub struct Hmm {
    /// Log-counts of the first state, shape `[1, N]`.
    initial: Param<Tensor<2>>,
    /// Log-counts of moving from state i (row) to state j (column), shape `[N, N]`.
    transitions: Param<Tensor<2>>,
    /// Log-counts of state i (row) writing character c (column), shape `[N, V]`.
    emissions: Param<Tensor<2>>,
    context: usize,
}

/// An HMM's parameters as probabilities, each row summing to 1.
#[derive(Debug, Clone)]
pub struct Probabilities {
    /// π, shape `[1, N]`.
    pub initial: Tensor<2>,
    /// A, shape `[N, N]`.
    pub transitions: Tensor<2>,
    /// B, shape `[N, V]`.
    pub emissions: Tensor<2>,
}

/// The scaled forward pass over a batch of windows (Rabiner 1989, §V.A).
#[derive(Debug, Clone)]
pub struct Forward {
    /// p(state at t | characters up to t), one `[B, N]` tensor per position.
    pub filtered: Vec<Tensor<2>>,
    /// ln p(character t | characters before t), shape `[B, T]`.
    pub log_scales: Tensor<2>,
}

impl Hmm {
    /// Hidden states N.
    pub fn states(&self) -> usize {
        self.initial.dims()[1]
    }

    /// Characters per window in training and evaluation.
    pub fn context(&self) -> usize {
        self.context
    }

    /// The parameters normalised, detached from any autodiff graph (Baum–Welch needs no
    /// gradients), each at least [`MIN_PROBABILITY`].
    pub fn probabilities(&self) -> Probabilities {
        let normalise = |counts: &Param<Tensor<2>>| {
            softmax(counts.val().detach(), 1).clamp_min(MIN_PROBABILITY)
        };
        Probabilities {
            initial: normalise(&self.initial),
            transitions: normalise(&self.transitions),
            emissions: normalise(&self.emissions),
        }
    }

    /// The forward pass over `tokens`, each row a window read from the initial distribution.
    ///
    /// # Shapes
    /// - tokens: `[B, T]`
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Forward {
        let p = self.probabilities();
        let likelihoods = emission_likelihoods(&p.emissions, tokens);
        p.forward(&likelihoods)
    }

    /// Mean negative log-likelihood (nats per character) of each character of `tokens` given
    /// the ones before it in its window, the first character aside: what the GPT's loss
    /// measures on the same windows.
    ///
    /// # Shapes
    /// - tokens: `[B, T]` with T ≥ 2; output: `[1]`
    pub fn loss(&self, tokens: Tensor<2, Int>) -> Tensor<1> {
        self.forward(tokens).surprise()
    }
}

impl Probabilities {
    /// p(next state | characters so far) of `batch` texts, given p(state | characters so far)
    /// (`None` before the first character).
    ///
    /// # Shapes
    /// - filtered: `[B, N]`; output: `[B, N]`
    fn prior(&self, filtered: Option<&Tensor<2>>, batch: usize) -> Tensor<2> {
        match filtered {
            None => {
                let states = self.initial.dims()[1];
                self.initial.clone().expand([batch, states])
            }
            Some(filtered) => filtered.clone().matmul(self.transitions.clone()),
        }
    }

    /// The scaled forward pass, given each position's [`emission_likelihoods`].
    fn forward(&self, likelihoods: &[Tensor<2>]) -> Forward {
        let mut filtered: Vec<Tensor<2>> = Vec::with_capacity(likelihoods.len());
        let mut log_scales = Vec::with_capacity(likelihoods.len());
        for likelihood in likelihoods {
            let batch = likelihood.dims()[0];
            let prior = self.prior(filtered.last(), batch);
            let (posterior, scale) = condition(prior, likelihood.clone());
            log_scales.push(scale.log());
            filtered.push(posterior);
        }
        Forward {
            filtered,
            log_scales: Tensor::cat(log_scales, 1),
        }
    }
}

/// Bayes' rule for one character: p(state | it and what came before) from the `prior` and how
/// likely each state is to write it, and p(it | what came before), the scale.
///
/// # Shapes
/// - prior, likelihood: `[B, N]`; output: `[B, N]` and `[B, 1]`
fn condition(prior: Tensor<2>, likelihood: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let joint = prior * likelihood;
    let scale = joint.clone().sum_dim(1).clamp_min(f32::MIN_POSITIVE);
    (joint / scale.clone(), scale)
}

impl Forward {
    /// Mean negative log-likelihood (nats) of each character but the first of its window.
    ///
    /// # Shapes
    /// - output: `[1]`
    pub fn surprise(&self) -> Tensor<1> {
        let [batch, length] = self.log_scales.dims();
        self.log_scales
            .clone()
            .slice([0..batch, 1..length])
            .mean()
            .neg()
            .reshape([1])
    }
}

/// B\[:, x\] for every character x of `tokens`: how likely each state is to write it.
///
/// # Shapes
/// - emissions: `[N, V]`; tokens: `[B, T]`; output: T tensors of shape `[B, N]`
fn emission_likelihoods(emissions: &Tensor<2>, tokens: Tensor<2, Int>) -> Vec<Tensor<2>> {
    let [batch, length] = tokens.dims();
    let states = emissions.dims()[0];
    let by_character = emissions.clone().transpose();
    let picked = by_character
        .select(0, tokens.reshape([batch * length]))
        .reshape([batch, length, states]);
    (0..length)
        .map(|t| {
            picked
                .clone()
                .slice([0..batch, t..t + 1, 0..states])
                .reshape([batch, states])
        })
        .collect()
}

#[cfg(test)]
mod tests;
