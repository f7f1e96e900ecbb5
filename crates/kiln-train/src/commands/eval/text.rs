//! A text model's figures: cross-entropy on the held-out last tenth of its text, in nats and
//! bits per character, and a sample to read.

use anyhow::{Context, Result, bail};
use kiln_core::gpt::{Corpus, TokenChoice};
use kiln_core::model::Model;
use kiln_core::request::TextRequest;

use super::{Figures, measured, record_as};
use crate::batches::{TextData, TrainingData};
use crate::cli::EvalArgs;
use crate::data;
use crate::resolve::Resolved;
use crate::trainer::{self, OBJECTIVE};

/// Characters of the sample printed with the figures.
const SAMPLE_CHARS: usize = 300;

pub fn judge_text(args: &EvalArgs, name: &str, resolved: Resolved) -> Result<()> {
    let device = args.device.device()?;
    let model = resolved
        .spec
        .load(&resolved.weights, &device)
        .with_context(|| format!("loading {name}"))?;
    let Model::Gpt { gpt, vocabulary } = &model else {
        bail!("{name} is not a text model");
    };
    let text = data::read_text(&args.data)?;
    let corpus = Corpus::new(&text, vocabulary.clone(), gpt.context())
        .with_context(|| format!("reading {} with {name}'s vocabulary", args.data.display()))?;
    let data = TextData {
        corpus,
        context: gpt.context(),
        epoch_steps: 0,
    };
    let losses = trainer::evaluate(gpt.as_ref(), &data, &device, args.seed);
    let nats = losses[OBJECTIVE];
    let characters: usize = data.validation().iter().map(Vec::len).sum::<usize>() * data.context;
    let evaluation = measured(
        args,
        characters,
        &format!(
            "the last tenth of {} (held out in training), read {} characters at a time",
            args.data.display(),
            data.context
        ),
        Figures::from([
            ("validation_nats_per_char".to_owned(), nats),
            ("bits_per_char".into(), nats / std::f64::consts::LN_2),
        ]),
    );
    let request = TextRequest::new("\n".into(), SAMPLE_CHARS, TokenChoice::default(), args.seed)?;
    let mut writing = model.writing(&request)?;
    let mut sample = String::new();
    while let Some(c) = writing.next_char(&device)? {
        sample.push(c);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        println!(
            "{name}: {characters} held-out characters: {nats:.4} nats, {:.4} bits per character",
            nats / std::f64::consts::LN_2
        );
        println!(
            "{SAMPLE_CHARS} characters at temperature 0.8, seed {}:\n{sample}",
            args.seed
        );
    }
    if args.record {
        record_as(args, name, evaluation)?;
    }
    Ok(())
}
