//! A text model's figures: cross-entropy on the held-out last tenth of its text, in nats and
//! bits per character, beside a character n-gram's on the same text (the floor a learnt model
//! should clear), and a sample to read.

use anyhow::{Context, Result, bail};
use kiln_core::metrics::NGram;
use kiln_core::request::TextRequest;
use kiln_core::text::{Corpus, TokenChoice};

use super::figures::TextFigures;
use super::{measured, record_as};
use crate::batches::{TextData, TrainingData};
use crate::cli::EvalArgs;
use crate::data;
use crate::resolve::Resolved;
use crate::trainer::{self, OBJECTIVE};

/// Characters of the sample printed with the figures.
const SAMPLE_CHARS: usize = 300;

/// The n-gram floor reads up to this many characters back (with contexts of 4 characters,
/// interpolated absolute discounting does best on Tiny Shakespeare's held-out tenth).
const NGRAM_ORDER: usize = 5;

pub fn judge_text(args: &EvalArgs, name: &str, resolved: Resolved) -> Result<()> {
    let device = args.device.device()?;
    let model = resolved
        .spec
        .load(&resolved.weights, &device)
        .with_context(|| format!("loading {name}"))?;
    let Some(shape) = resolved.spec.text_shape() else {
        bail!("{name} is not a text model");
    };
    let text = data::read_text(&args.data)?;
    let corpus = Corpus::new(&text, shape.vocabulary.clone(), shape.context)
        .with_context(|| format!("reading {} with {name}'s vocabulary", args.data.display()))?;
    let data = TextData {
        corpus,
        context: shape.context,
        epoch_steps: 0,
    };
    let Some(writer) = model.capable().writer() else {
        bail!("{name} is not a text model");
    };
    let losses = trainer::evaluate(|batch, _| writer.losses(batch), &data, &device, args.seed);
    let nats = losses[OBJECTIVE];
    let characters: usize = data.validation().iter().map(Vec::len).sum::<usize>() * data.context;
    let counted = NGram::count(
        data.corpus.train.tokens(),
        NGRAM_ORDER,
        data.corpus.vocabulary.len(),
    );
    let ngram_bits = counted.bits_per_char(data.corpus.validation.tokens());
    let evaluation = measured(
        args,
        characters,
        &format!(
            "the last tenth of {} (held out in training), read {} characters at a time",
            args.data.display(),
            data.context
        ),
        &TextFigures {
            validation_nats_per_char: nats,
            bits_per_char: nats / std::f64::consts::LN_2,
            ngram_bits_per_char: ngram_bits,
        },
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
            "{name}: {characters} held-out characters: {nats:.4} nats, {:.4} bits per character \
             (a {NGRAM_ORDER}-gram counted on the rest: {ngram_bits:.4} bits)",
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
