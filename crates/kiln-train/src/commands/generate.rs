//! `kiln generate`: write text character by character to stdout.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use kiln_core::request::TextRequest;
use kiln_core::text::TokenChoice;

use crate::cli::GenerateArgs;
use crate::resolve;

pub fn run(args: GenerateArgs) -> Result<()> {
    let choice = TokenChoice {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
    };
    let request = TextRequest::new(args.prompt, args.tokens, choice, args.seed)?;
    let (model, device) = resolve::load(&args.model)?;
    let mut writing = model.writing(&request)?;
    let mut out = std::io::stdout().lock();
    out.write_all(request.prompt.as_bytes())?;
    let started = Instant::now();
    let mut written = 0;
    while let Some(c) = writing.next_char(&device)? {
        write!(out, "{c}")
            .and_then(|()| out.flush())
            .context("writing to stdout")?;
        written += 1;
    }
    writeln!(out)?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "wrote {written} characters in {seconds:.2} s ({:.0} characters/s)",
        written as f64 / seconds
    );
    Ok(())
}
