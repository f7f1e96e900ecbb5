//! `kiln data`: make a data set to train on.

use anyhow::Result;

use crate::cli::{DataCommand, SpokenDigitsArgs};
use crate::spoken_digits::{CorpusOptions, make_corpus};

pub fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::SpokenDigits(args) => spoken_digits(args),
    }
}

fn spoken_digits(args: SpokenDigitsArgs) -> Result<()> {
    let options = CorpusOptions {
        out: args.out,
        rate: args.rate,
        takes: args.takes,
        speakers: args.speakers,
        test_share: args.test_share,
        noise: args.noise,
        seed: args.seed,
    };
    let written = make_corpus(&options)?;
    eprintln!(
        "spoke {} clips by {} speakers into {} at {} Hz: {} by {} held-out speakers in test/",
        written.train + written.test,
        written.speakers,
        options.out.display(),
        options.rate,
        written.test,
        written.held_out_speakers
    );
    Ok(())
}
