//! What an epoch is for each kind of data: the shuffled digits once over, or a fixed number of
//! steps on random windows of a text; and the held-out batches every epoch ends with.

use burn::tensor::Device;
use kiln_core::noise;
use kiln_core::text::{Corpus, TextBatch};
use kiln_core::train::DigitBatch;
use rand::RngExt;

use crate::data::Splits;

/// Images per evaluation batch; evaluation keeps no gradients, so this only bounds memory.
const DIGIT_EVAL_BATCH: usize = 500;
/// Windows per evaluation batch of text.
const TEXT_EVAL_BATCH: usize = 32;

/// Data the shared training loop draws batches from. A batch is named by the indices of its
/// examples, so that an epoch's plan is cheap and reproducible from a seed.
pub trait TrainingData {
    type Batch;

    /// Examples one epoch learns from (images, or characters of text), for the run's record.
    fn train_examples(&self) -> usize;

    /// The batches of one epoch, drawn with `seed`.
    fn epoch(&self, seed: u64, batch_size: usize) -> Vec<Vec<usize>>;

    /// Steps in one epoch of `batch_size` examples.
    fn steps_per_epoch(&self, batch_size: usize) -> usize;

    fn train_batch(&self, indices: &[usize], device: &Device) -> Self::Batch;

    /// The held-out examples, all of them, in batches.
    fn validation(&self) -> Vec<Vec<usize>>;

    fn validation_batch(&self, indices: &[usize], device: &Device) -> Self::Batch;
}

impl TrainingData for Splits {
    type Batch = DigitBatch;

    fn train_examples(&self) -> usize {
        self.train.len()
    }

    fn epoch(&self, seed: u64, batch_size: usize) -> Vec<Vec<usize>> {
        noise::permutation(self.train.len(), &mut noise::rng(seed))
            .chunks(batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }

    fn steps_per_epoch(&self, batch_size: usize) -> usize {
        self.train.len().div_ceil(batch_size)
    }

    fn train_batch(&self, indices: &[usize], device: &Device) -> DigitBatch {
        digit_batch(&self.train, indices, device)
    }

    fn validation(&self) -> Vec<Vec<usize>> {
        in_chunks(0..self.test.len(), DIGIT_EVAL_BATCH)
    }

    fn validation_batch(&self, indices: &[usize], device: &Device) -> DigitBatch {
        digit_batch(&self.test, indices, device)
    }
}

fn digit_batch(
    data: &kiln_core::data::dataset::ImageDataset,
    indices: &[usize],
    device: &Device,
) -> DigitBatch {
    DigitBatch {
        images: data.images(indices, device),
        labels: data.label_tensor(indices, device),
    }
}

/// A text read `context` characters at a time. Each example is a window of the text named by
/// its first character; an epoch is `epoch_steps` batches of windows starting anywhere.
pub struct TextData {
    pub corpus: Corpus,
    pub context: usize,
    pub epoch_steps: usize,
}

impl TrainingData for TextData {
    type Batch = TextBatch;

    fn train_examples(&self) -> usize {
        self.corpus.train.len()
    }

    fn epoch(&self, seed: u64, batch_size: usize) -> Vec<Vec<usize>> {
        let mut rng = noise::rng(seed);
        let windows = self.corpus.train.windows(self.context);
        (0..self.epoch_steps)
            .map(|_| {
                (0..batch_size)
                    .map(|_| rng.random_range(0..windows))
                    .collect()
            })
            .collect()
    }

    fn steps_per_epoch(&self, _batch_size: usize) -> usize {
        self.epoch_steps
    }

    fn train_batch(&self, starts: &[usize], device: &Device) -> TextBatch {
        self.corpus.train.batch(starts, self.context, device)
    }

    /// Every whole window of the validation text, end to end.
    fn validation(&self) -> Vec<Vec<usize>> {
        let windows = self.corpus.validation.windows(self.context);
        in_chunks((0..windows).step_by(self.context), TEXT_EVAL_BATCH)
    }

    fn validation_batch(&self, starts: &[usize], device: &Device) -> TextBatch {
        self.corpus.validation.batch(starts, self.context, device)
    }
}

fn in_chunks(indices: impl Iterator<Item = usize>, size: usize) -> Vec<Vec<usize>> {
    let indices: Vec<usize> = indices.collect();
    indices.chunks(size).map(<[usize]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::text::Vocabulary;

    fn text_data() -> TextData {
        let text = "abcdefghij".repeat(100);
        TextData {
            corpus: Corpus::new(&text, Vocabulary::from_text(&text).unwrap(), 8).unwrap(),
            context: 8,
            epoch_steps: 3,
        }
    }

    #[test]
    fn a_text_epoch_is_its_steps_of_windows_that_fit() {
        let data = text_data();
        let epoch = data.epoch(1, 5);
        assert_eq!(epoch.len(), 3);
        assert!(epoch.iter().all(|starts| starts.len() == 5));
        let windows = data.corpus.train.windows(8);
        assert!(epoch.iter().flatten().all(|&start| start < windows));
        assert_eq!(data.epoch(1, 5), epoch, "seeded");
        assert_ne!(data.epoch(2, 5), epoch);
    }

    #[test]
    fn text_validation_covers_the_held_out_part_once() {
        let data = text_data();
        // 92 windows of 8 (+1 target) fit in the 100 held-out characters; every 8th tiles them.
        let starts: Vec<usize> = data.validation().concat();
        assert_eq!(starts, (0..92).step_by(8).collect::<Vec<_>>());
        let batch = data.validation_batch(&starts, &Device::flex());
        assert_eq!(batch.inputs.dims(), [12, 8]);
    }
}
