//! The epoch loop shared by every model that implements [`DigitObjective`]: shuffled batches,
//! one Adam step each (and a moving average of the weights, where the run keeps one), a test-set
//! evaluation and an atomic checkpoint per epoch.

use std::time::Instant;

use anyhow::Result;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use kiln_core::image::ImageBatch;
use kiln_core::mnist::DigitDataset;
use kiln_core::noise;
use kiln_core::train::{DigitBatch, DigitObjective, Losses};
use kiln_core::weights;

use crate::data::Splits;
use crate::ema::WeightAverage;
use crate::progress;
use crate::run_dir::{
    Checkpoint, EpochLosses, EpochRecord, RunConfig, RunDir, TrainState, checkpoint_name,
};

/// Images per evaluation batch; evaluation keeps no gradients, so this only bounds memory.
const EVAL_BATCH: usize = 500;
/// Name of the objective in the loss tables.
pub const OBJECTIVE: &str = "loss";

/// Everything the loop reads but does not change.
pub struct Session<'a> {
    pub run: &'a RunDir,
    pub config: &'a RunConfig,
    pub data: &'a Splits,
    /// The plain device; training runs on its autodiff twin.
    pub device: &'a Device,
}

/// Train `model` from `state` up to the configured number of epochs. With an `average`, the
/// test losses and previews are those of the averaged weights, the ones that get shipped.
pub fn train<M: DigitObjective>(
    session: &Session,
    mut model: M,
    mut optimizer: ModuleOptimizer,
    mut average: Option<WeightAverage<M>>,
    mut state: TrainState,
) -> Result<TrainState> {
    let settings = &session.config.settings;
    let train_device = session.device.clone().autodiff();
    let train = &session.data.train;
    for epoch in state.epochs_done + 1..=settings.epochs {
        let started = Instant::now();
        // Seeded by epoch, so a resumed run sees the batches it would have seen.
        let order = noise::permutation(
            train.len(),
            &mut noise::rng(mix(settings.seed, epoch as u64)),
        );
        let batches = order.chunks(settings.batch_size);
        let bar = progress::bar(
            batches.len() as u64,
            format!("epoch {epoch}/{}", settings.epochs),
        );
        let mut tally = Tally::default();
        for indices in batches {
            let batch = digit_batch(train, indices, &train_device);
            let seed = mix(settings.seed, state.steps);
            let losses;
            (model, losses) =
                model.train_step(&batch, seed, &mut optimizer, settings.learning_rate);
            let objective = tally.add(&losses, indices.len());
            if let Some(average) = &mut average {
                average.update(&model.valid(), state.steps);
            }
            state.steps += 1;
            bar.set_message(format!("loss {objective:.2}"));
            bar.inc(1);
        }
        bar.finish();
        let shipped = average
            .as_ref()
            .map_or_else(|| model.valid(), |average| average.model().clone());
        let test = evaluate(&shipped, &session.data.test, session.device, settings.seed);
        eprintln!(
            "epoch {epoch}: train {} | test {}",
            format_losses(&tally.means()),
            format_losses(&test)
        );
        state.epochs_done = epoch;
        state.train_images = train.len();
        state.wall_time_secs += started.elapsed().as_secs_f64();
        state.checkpoint = Some(checkpoint_name(epoch));
        state.history.push(EpochRecord {
            epoch,
            train: tally.means(),
            test,
        });
        if let Some(images) = shipped.preview(session.device) {
            session
                .run
                .save_preview(epoch, &ImageBatch::from_data(images.into_data())?)?;
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

/// Mean losses of `model` over all of `data`, in evaluation mode.
pub fn evaluate<M: DigitObjective>(
    model: &M,
    data: &DigitDataset,
    device: &Device,
    seed: u64,
) -> EpochLosses {
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut tally = Tally::default();
    for (i, chunk) in indices.chunks(EVAL_BATCH).enumerate() {
        let losses = model.losses(&digit_batch(data, chunk, device), mix(seed, i as u64));
        tally.add(&losses, chunk.len());
    }
    tally.means()
}

fn digit_batch(data: &DigitDataset, indices: &[usize], device: &Device) -> DigitBatch {
    DigitBatch {
        images: data.images(indices, device),
        labels: data.label_tensor(indices, device),
    }
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
