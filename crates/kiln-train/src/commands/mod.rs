//! One module per `kiln` subcommand.

pub mod bench;
pub mod data;
pub mod denoise;
pub mod eval;
pub mod export;
pub mod generate;
pub mod interpolate;
pub mod sample;
pub mod train;
