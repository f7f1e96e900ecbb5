//! Images in: the IDX files MNIST comes in, digit datasets, batches of images, and the damage a
//! denoising autoencoder learns to undo.

pub mod corruption;
pub mod idx;
pub mod image;
pub mod mnist;
