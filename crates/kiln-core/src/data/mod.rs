//! Images in: labelled image data sets, the IDX files MNIST comes in, batches of images, and the
//! damage a denoising autoencoder learns to undo.

pub mod corruption;
pub mod dataset;
pub mod idx;
pub mod image;
pub mod mnist;
