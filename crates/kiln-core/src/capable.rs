//! What a loaded model can be asked to do, asked of the model rather than of its kind: each
//! family's loaded type says which of these it is ([`Capable`]), so the CLI and the browser
//! offer an operation wherever it exists and refuse it with one generic error elsewhere.

use burn::tensor::{Device, Tensor};

use crate::drawing::{Codes, DrawsImages};
use crate::models::autoencoder::DenoisingAutoencoder;
use crate::models::classifier::Classifier;
use crate::models::diffusion::Diffusion;
use crate::models::gan::Generator;
use crate::models::vae::Vae;
use crate::text::{Reader, Reads, TextBatch, TextModel, Vocabulary};
use crate::train::{Losses, Objective};

/// Writes text: what the CLI, the page and `kiln eval` need of any text model.
pub trait WritesText {
    /// The characters its tokens stand for.
    fn vocabulary(&self) -> &Vocabulary;

    /// A fresh reader for a new text.
    fn reader(&self) -> Box<dyn Reader>;

    /// Its loss on `batch` (nats per character).
    fn losses(&self, batch: &TextBatch) -> Losses;
}

/// What a loaded model can be asked to do: each capability it lacks is `None`.
pub trait Capable {
    /// Draws images from noise in one call.
    fn drawer(&self) -> Option<&dyn DrawsImages> {
        None
    }

    /// Draws images by denoising step by step.
    fn diffusion(&self) -> Option<&Diffusion> {
        None
    }

    /// Walks a latent space, and learns from a few labelled digits when conditional.
    fn vae(&self) -> Option<&Vae> {
        None
    }

    /// Restores damaged digits.
    fn restorer(&self) -> Option<&DenoisingAutoencoder> {
        None
    }

    /// Says which digit an image is.
    fn recogniser(&self) -> Option<&Classifier> {
        None
    }

    fn writer(&self) -> Option<&dyn WritesText> {
        None
    }
}

impl DrawsImages for Vae {
    fn num_classes(&self) -> Option<usize> {
        Vae::num_classes(self)
    }

    fn codes(&self, count: usize, seed: u64, class: Option<usize>, device: &Device) -> Codes {
        Vae::codes(self, count, seed, class, device)
    }

    fn decode_codes(&self, codes: Codes) -> Tensor<4> {
        self.decode_images(codes)
    }

    fn to_boxed(&self) -> Box<dyn DrawsImages> {
        Box::new(self.clone())
    }
}

impl DrawsImages for Generator {
    fn num_classes(&self) -> Option<usize> {
        Some(Generator::num_classes(self))
    }

    fn codes(&self, count: usize, seed: u64, class: Option<usize>, device: &Device) -> Codes {
        Generator::codes(self, count, seed, class, device)
    }

    fn decode_codes(&self, codes: Codes) -> Tensor<4> {
        self.decode_images(codes)
    }

    fn to_boxed(&self) -> Box<dyn DrawsImages> {
        Box::new(self.clone())
    }
}

impl<M: Reads + Objective<Batch = TextBatch>> WritesText for TextModel<M> {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reader(&self) -> Box<dyn Reader> {
        self.model.reader()
    }

    fn losses(&self, batch: &TextBatch) -> Losses {
        self.model.losses(batch, 0)
    }
}

impl Capable for Vae {
    fn drawer(&self) -> Option<&dyn DrawsImages> {
        Some(self)
    }

    fn vae(&self) -> Option<&Vae> {
        Some(self)
    }
}

impl Capable for Generator {
    fn drawer(&self) -> Option<&dyn DrawsImages> {
        Some(self)
    }
}

impl Capable for Diffusion {
    fn diffusion(&self) -> Option<&Diffusion> {
        Some(self)
    }
}

impl Capable for DenoisingAutoencoder {
    fn restorer(&self) -> Option<&DenoisingAutoencoder> {
        Some(self)
    }
}

impl Capable for Classifier {
    fn recogniser(&self) -> Option<&Classifier> {
        Some(self)
    }
}

impl<M: Reads + Objective<Batch = TextBatch>> Capable for TextModel<M> {
    fn writer(&self) -> Option<&dyn WritesText> {
        Some(self)
    }
}
