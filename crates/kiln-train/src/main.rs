//! `kiln`: train, sample and export Kiln's generative models natively.

mod atomic;
mod batches;
mod cli;
mod clips;
mod command_line;
mod commands;
mod data;
mod device;
mod ema;
mod pictures;
mod png;
mod progress;
mod resolve;
mod run_dir;
mod spoken_digits;
mod trainer;
mod wav;

use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::Cli::parse_all();
    match cli.command {
        cli::Command::Train(args) => commands::train::run(args)?,
        cli::Command::Sample(args) => commands::sample::run(args)?,
        cli::Command::Generate(args) => commands::generate::run(args)?,
        cli::Command::Interpolate(args) => commands::interpolate::run(args)?,
        cli::Command::Denoise(args) => commands::denoise::run(args)?,
        cli::Command::Export(args) => commands::export::run(args)?,
        cli::Command::Eval(args) => commands::eval::run(args)?,
        cli::Command::Bench(args) => commands::bench::run(args)?,
        cli::Command::Data(command) => commands::data::run(command)?,
    }
    Ok(ExitCode::SUCCESS)
}
