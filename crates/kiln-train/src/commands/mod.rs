//! One module per `kiln` subcommand.

pub mod export;
pub mod sample;
pub mod train;
