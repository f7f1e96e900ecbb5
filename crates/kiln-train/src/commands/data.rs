//! `kiln data`: make a data set to train on.

use anyhow::Result;

use crate::cli::{DataCommand, SpokenDigitsArgs};
use crate::spoken_digits::make_corpus;

pub fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::SpokenDigits(args) => spoken_digits(&args),
    }
}

fn spoken_digits(args: &SpokenDigitsArgs) -> Result<()> {
    let written = make_corpus(args)?;
    eprintln!(
        "spoke {} clips by {} speakers into {} at {} Hz: {} by {} held-out speakers in test/",
        written.train + written.test,
        written.speakers,
        args.out.display(),
        args.rate,
        written.test,
        written.held_out_speakers
    );
    Ok(())
}
