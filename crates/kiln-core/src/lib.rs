//! Kiln's portable core: generative models, their samplers and losses, the data readers and the
//! weight format. Everything here compiles for native targets and for `wasm32`, and does no I/O
//! beyond bytes in and bytes out, so the CLI and the browser share one implementation.
//!
//! - [`models`]: one module per family, each declaring itself through [`family`];
//!   [`model`] is the registry that lists them once, and [`capable`] what a loaded one can do.
//! - [`text`]: what the models that write text share.
//! - [`train`]: the objective every model trains by, and fine-tuning in the browser.
//! - [`data`], [`io`]: images and digits in; weight files and the manifest in and out.
//! - [`request`], [`metrics`]: checked requests, and the figures that judge the models.

pub mod audio;
pub mod capable;
pub mod data;
pub mod drawing;
pub mod family;
pub mod interpolation;
pub mod io;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod models;
pub mod noise;
pub mod per_image;
pub mod request;
pub mod text;
pub mod train;

#[cfg(test)]
pub(crate) mod test_util;
