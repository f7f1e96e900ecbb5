//! The model families, one module each; [`crate::model`] lists them.

pub mod autoencoder;
pub mod classifier;
pub mod diffusion;
pub mod gan;
pub mod gpt;
pub mod hmm;
pub mod layers;
pub mod transposed_conv;
pub mod vae;
