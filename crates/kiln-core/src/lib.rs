//! Kiln's portable core: generative models, their samplers and losses, the data readers and the
//! weight format. Everything here compiles for native targets and for `wasm32`, and does no I/O
//! beyond bytes in and bytes out, so the CLI and the browser share one implementation.

pub mod autoencoder;
pub mod classifier;
pub mod corruption;
pub mod diffusion;
pub mod family;
pub mod finetune;
pub mod gan;
pub mod gpt;
pub mod hmm;
pub mod idx;
pub mod image;
pub mod interpolation;
pub mod layers;
pub mod manifest;
pub mod metrics;
pub mod mnist;
pub mod model;
pub mod noise;
pub mod request;
pub mod text;
pub mod train;
pub mod vae;
pub mod weights;

#[cfg(test)]
pub(crate) mod test_util;
