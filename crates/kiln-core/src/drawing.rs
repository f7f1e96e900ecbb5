//! Images decoded from seeded codes, whole or in parts: each image's code is drawn for its place
//! in the batch and decoded on its own, so a batch split over several threads gives the same
//! pixels as one pass.

use burn::tensor::{Device, Int, Tensor};

/// Draws images in `[0, 1]` by decoding seeded codes, of a class if it is class-conditional.
pub trait DrawsImages: Send {
    /// The number of classes it draws; `None` if it is not class-conditional.
    fn num_classes(&self) -> Option<usize>;

    /// The codes of the `count` images drawn with `seed`: all of `class`, or without one image
    /// `i` of class `i mod num_classes`.
    fn codes(&self, count: usize, seed: u64, class: Option<usize>, device: &Device) -> Codes;

    /// # Shapes
    /// - output: `[count, channels, side, side]` for codes of `count` images
    fn decode_codes(&self, codes: Codes) -> Tensor<4>;

    /// `count` images drawn with `seed`, decoded in one pass.
    ///
    /// # Shapes
    /// - output: `[count, channels, side, side]`
    fn draw(&self, count: usize, seed: u64, class: Option<usize>, device: &Device) -> Tensor<4> {
        self.decode_codes(self.codes(count, seed, class, device))
    }

    /// This drawer, to decode codes elsewhere (a clone: its weights are shared, not copied).
    fn to_boxed(&self) -> Box<dyn DrawsImages>;
}

/// What a generative model decodes into a batch of images: one latent code per image and, for
/// a class-conditional model, its label.
#[derive(Debug, Clone)]
pub struct Codes {
    /// Shape `[count, latent]`.
    pub latents: Tensor<2>,
    /// Shape `[count]`; `None` for a model that is not class-conditional.
    pub labels: Option<Tensor<1, Int>>,
}

impl Codes {
    pub fn count(&self) -> usize {
        self.latents.dims()[0]
    }

    /// Images `start..start + len`'s codes.
    fn narrow(&self, start: usize, len: usize) -> Codes {
        Codes {
            latents: self.latents.clone().narrow(0, start, len),
            labels: self.labels.clone().map(|l| l.narrow(0, start, len)),
        }
    }
}

/// A batch of images still to be decoded: [`Drawing::draw`] decodes it in one pass, and
/// [`Drawing::split`] hands out consecutive runs of it to decode apart (each on its own thread).
pub struct Drawing {
    drawer: Box<dyn DrawsImages>,
    codes: Codes,
}

impl Drawing {
    pub(crate) fn new(drawer: Box<dyn DrawsImages>, codes: Codes) -> Self {
        Self { drawer, codes }
    }

    pub fn count(&self) -> usize {
        self.codes.count()
    }

    /// The images in up to `parts` runs as even as can be, in order: concatenated, their images
    /// are the whole batch's. Never an empty run, and one run for `parts` ≤ 1.
    pub fn split(self, parts: usize) -> Vec<Drawing> {
        let count = self.count();
        let parts = parts.clamp(1, count.max(1));
        if parts == 1 {
            return vec![self];
        }
        let (base, extra) = (count / parts, count % parts);
        let mut start = 0;
        (0..parts)
            .map(|part| {
                let len = base + usize::from(part < extra);
                let codes = self.codes.narrow(start, len);
                start += len;
                Drawing::new(self.drawer.to_boxed(), codes)
            })
            .collect()
    }

    /// # Shapes
    /// - output: `[count, channels, side, side]`
    pub fn draw(self) -> Tensor<4> {
        self.drawer.decode_codes(self.codes)
    }
}
