//! One module per `kiln` subcommand.

pub mod denoise;
pub mod export;
pub mod sample;
pub mod train;
