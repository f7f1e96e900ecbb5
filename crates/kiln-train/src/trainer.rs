//! The epoch loop shared by every model that implements [`Objective`]: an epoch's batches, one
//! optimiser step each at the scheduled learning rate (and a moving average of the weights,
//! where the run keeps one), a held-out evaluation, a preview and an atomic checkpoint per
//! epoch.

use std::time::Instant;

use anyhow::{Context, Result};
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use kiln_core::data::image::ImageBatch;
use kiln_core::io::weights;
use kiln_core::train::{Losses, Objective, Preview};

use crate::batches::TrainingData;
use crate::ema::WeightAverage;
use crate::progress;
use crate::run_dir::{
    Checkpoint, EpochLosses, EpochRecord, RunConfig, RunDir, TrainState, checkpoint_name,
};

/// Name of the objective in the loss tables.
pub const OBJECTIVE: &str = "loss";

/// Everything the loop reads but does not change.
pub struct Session<'a, D> {
    pub run: &'a RunDir,
    pub config: &'a RunConfig,
    pub data: &'a D,
    /// The plain device; training runs on its autodiff twin.
    pub device: &'a Device,
}

/// Train `model` from `state` up to the configured number of epochs. With an `average`, the
/// held-out losses and previews are those of the averaged weights, the ones that get shipped.
pub fn train<D: TrainingData, M: Objective<Batch = D::Batch>>(
    session: &Session<D>,
    mut model: M,
    mut optimizer: ModuleOptimizer,
    mut average: Option<WeightAverage<M>>,
    mut state: TrainState,
) -> Result<TrainState> {
    let settings = &session.config.settings;
    let train_device = session.device.clone().autodiff();
    let data = session.data;
    let total_steps = (settings.epochs * data.steps_per_epoch(settings.batch_size)) as u64;
    for epoch in state.epochs_done + 1..=settings.epochs {
        let started = Instant::now();
        // Seeded by epoch, so a resumed run sees the batches it would have seen.
        let batches = data.epoch(mix(settings.seed, epoch as u64), settings.batch_size);
        let bar = progress::bar(
            batches.len() as u64,
            format!("epoch {epoch}/{}", settings.epochs),
        );
        let mut tally = Tally::default();
        for indices in &batches {
            let batch = data.train_batch(indices, &train_device);
            let seed = mix(settings.seed, state.steps);
            let learning_rate =
                settings
                    .lr_schedule
                    .rate(settings.learning_rate, state.steps, total_steps);
            let losses;
            (model, losses) = model.train_step(&batch, seed, &mut optimizer, learning_rate);
            let objective = tally.add(&losses, indices.len());
            if let Some(average) = &mut average {
                average.update(&model.valid(), state.steps);
            }
            state.steps += 1;
            bar.set_message(format!("loss {objective:.3}, lr {learning_rate:.1e}"));
            bar.inc(1);
        }
        bar.finish();
        let shipped = average
            .as_ref()
            .map_or_else(|| model.valid(), |average| average.model().clone());
        let held_out = evaluate(
            |batch, seed| shipped.losses(batch, seed),
            data,
            session.device,
            settings.seed,
        );
        eprintln!(
            "epoch {epoch}: train {} | held out {}",
            format_losses(&tally.means()),
            format_losses(&held_out)
        );
        state.epochs_done = epoch;
        state.train_images = data.train_examples();
        state.wall_time_secs += started.elapsed().as_secs_f64();
        state.checkpoint = Some(checkpoint_name(epoch));
        state.history.push(EpochRecord {
            epoch,
            train: tally.means(),
            test: held_out,
        });
        match shipped.preview(session.device) {
            Some(Preview::Images(images)) => session
                .run
                .save_preview(epoch, &ImageBatch::from_data(images.into_data())?)?,
            Some(Preview::Tokens(tokens)) => {
                let shape = session
                    .config
                    .spec
                    .text_shape()
                    .context("a text preview from a model without a vocabulary")?;
                let text = shape.vocabulary.decode(&tokens)?;
                eprintln!("{text}\n");
                session.run.save_text_preview(epoch, &text)?;
            }
            None => {}
        }
        let checkpoint = Checkpoint {
            model: weights::to_bytes(model.valid())?,
            optimizer: optimizer.into_bytes()?.to_vec(),
            ema: average
                .as_ref()
                .map(|average| weights::to_bytes(average.model().clone()))
                .transpose()?,
        };
        session.run.save(&state, &checkpoint)?;
    }
    Ok(state)
}

/// Mean `losses` (of a batch, with a seed for any noise they draw) over all of the held-out
/// data.
pub fn evaluate<D: TrainingData>(
    losses: impl Fn(&D::Batch, u64) -> Losses,
    data: &D,
    device: &Device,
    seed: u64,
) -> EpochLosses {
    let batches = data.validation();
    let bar = progress::bar(batches.len() as u64, "held out".into());
    let mut tally = Tally::default();
    for (i, indices) in batches.iter().enumerate() {
        let batch = data.validation_batch(indices, device);
        tally.add(&losses(&batch, mix(seed, i as u64)), indices.len());
        bar.inc(1);
    }
    bar.finish_and_clear();
    tally.means()
}

/// A distinct stream of seeds per (run seed, counter).
fn mix(seed: u64, counter: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ counter
}

fn format_losses(losses: &EpochLosses) -> String {
    losses
        .iter()
        .map(|(name, value)| format!("{name} {value:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Example-weighted running means of the loss terms.
#[derive(Default)]
struct Tally {
    sums: EpochLosses,
    examples: usize,
}

impl Tally {
    /// Add one batch; returns the batch's objective.
    fn add(&mut self, losses: &Losses, examples: usize) -> f64 {
        let objective = f64::from(losses.total.clone().into_scalar::<f32>());
        let terms = losses
            .terms
            .iter()
            .map(|(name, value)| (*name, f64::from(value.clone().into_scalar::<f32>())));
        for (name, value) in std::iter::once((OBJECTIVE, objective)).chain(terms) {
            *self.sums.entry(name.to_owned()).or_default() += value * examples as f64;
        }
        self.examples += examples;
        objective
    }

    fn means(&self) -> EpochLosses {
        let n = self.examples.max(1) as f64;
        self.sums.iter().map(|(k, v)| (k.clone(), v / n)).collect()
    }
}
