//! Images decoded from seeded codes: each image's code is drawn for its place in the batch and
//! decoded on its own, so a batch decoded a run of images per thread gives the pixels of one
//! pass.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::per_image::PerImage;

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

/// The classes of `count` generated images: all `class`, or without one image `i` of class
/// `i mod num_classes`, so that a grid shows every class.
///
/// # Panics
/// If `class` is not below `num_classes` (the model layer checks requests first).
///
/// # Shapes
/// - output: `[count]`
pub fn class_labels(
    count: usize,
    class: Option<usize>,
    num_classes: usize,
    device: &Device,
) -> Tensor<1, Int> {
    assert!(class.is_none_or(|c| c < num_classes), "class out of range");
    let labels: Vec<i32> = (0..count)
        .map(|i| class.unwrap_or(i % num_classes) as i32)
        .collect();
    Tensor::from_data(TensorData::new(labels, [count]), device)
}

/// A batch of images still to be decoded from their codes.
pub struct Drawing {
    drawer: Box<dyn DrawsImages>,
    codes: Codes,
}

impl Drawing {
    pub(crate) fn new(drawer: Box<dyn DrawsImages>, codes: Codes) -> Self {
        Self { drawer, codes }
    }
}

impl PerImage for Drawing {
    fn count(&self) -> usize {
        self.codes.latents.dims()[0]
    }

    fn narrow(&self, start: usize, len: usize) -> Self {
        let codes = Codes {
            latents: self.codes.latents.clone().narrow(0, start, len),
            labels: self.codes.labels.clone().map(|l| l.narrow(0, start, len)),
        };
        Drawing::new(self.drawer.to_boxed(), codes)
    }

    fn run(self) -> Tensor<4> {
        self.drawer.decode_codes(self.codes)
    }
}
