//! Labelled images held in memory, of any square size and 1 or 3 channels, turned into training
//! batches. Pixels stay bytes until a batch is made: a quarter of the memory of floats, so that
//! a folder of 100,000 pictures fits.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The shape of every image in a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// Width and height in pixels.
    pub side: usize,
}

impl ImageShape {
    /// MNIST's and Fashion-MNIST's: 28×28 grayscale.
    pub const MNIST: Self = Self {
        channels: 1,
        side: 28,
    };

    /// Values in one image.
    pub fn values(&self) -> usize {
        self.channels * self.side * self.side
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let colour = if self.channels == 1 {
            "grayscale"
        } else {
            "RGB"
        };
        write!(f, "{}×{} {colour}", self.side, self.side)
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum DatasetError {
    #[error(
        "{images} images but {labels} labels: the image and label files do not belong together"
    )]
    CountMismatch { images: usize, labels: usize },
    #[error("{values} pixel values do not make whole {shape} images")]
    PartialImage { values: usize, shape: ImageShape },
    #[error("label {label} at index {index} is not one of the {classes} classes")]
    BadLabel {
        label: usize,
        index: usize,
        classes: usize,
    },
    #[error("the data set is empty")]
    Empty,
    #[error("{given} class names for {classes} classes")]
    ClassNames { given: usize, classes: usize },
}

/// Images with intensities stored as bytes (255 is 1.0), channels first, and a class each.
#[derive(Debug, Clone)]
pub struct ImageDataset {
    shape: ImageShape,
    classes: Vec<String>,
    /// `len × channels × side × side`, row-major.
    pixels: Vec<u8>,
    labels: Vec<u16>,
}

impl ImageDataset {
    /// Check that `pixels` hold whole images, one per label, and that every label names one
    /// of `classes`.
    pub fn new(
        shape: ImageShape,
        classes: Vec<String>,
        pixels: Vec<u8>,
        labels: Vec<u16>,
    ) -> Result<Self, DatasetError> {
        let values = pixels.len();
        if shape.values() == 0 {
            return Err(DatasetError::Empty);
        }
        if !values.is_multiple_of(shape.values()) {
            return Err(DatasetError::PartialImage { values, shape });
        }
        let images = values / shape.values();
        if images != labels.len() {
            return Err(DatasetError::CountMismatch {
                images,
                labels: labels.len(),
            });
        }
        if images == 0 {
            return Err(DatasetError::Empty);
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, label)| usize::from(**label) >= classes.len())
        {
            return Err(DatasetError::BadLabel {
                label: label.into(),
                index,
                classes: classes.len(),
            });
        }
        Ok(Self {
            shape,
            classes,
            pixels,
            labels,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// The class names, in label order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    pub fn labels(&self) -> &[u16] {
        &self.labels
    }

    /// Image `index` as bytes, channels first.
    pub fn image_bytes(&self, index: usize) -> &[u8] {
        let len = self.shape.values();
        &self.pixels[index * len..(index + 1) * len]
    }

    /// The same images with their classes named `names`, one name per class.
    pub fn with_class_names(mut self, names: &[String]) -> Result<Self, DatasetError> {
        if names.len() != self.classes.len() {
            return Err(DatasetError::ClassNames {
                given: names.len(),
                classes: self.classes.len(),
            });
        }
        self.classes = names.to_vec();
        Ok(self)
    }

    /// Keep only the first `count` examples (for quick runs on a subset).
    pub fn truncate(&mut self, count: usize) {
        self.labels.truncate(count);
        self.pixels.truncate(count * self.shape.values());
    }

    /// The images at `indices` as one batch of intensities in `[0, 1]`.
    ///
    /// # Shapes
    /// - output: `[indices.len(), channels, side, side]`
    pub fn images(&self, indices: &[usize], device: &Device) -> Tensor<4> {
        let mut data = Vec::with_capacity(indices.len() * self.shape.values());
        for &i in indices {
            data.extend(self.image_bytes(i).iter().map(|&p| f32::from(p) / 255.0));
        }
        let ImageShape { channels, side } = self.shape;
        let shape = [indices.len(), channels, side, side];
        Tensor::from_data(TensorData::new(data, shape), device)
    }

    /// The labels at `indices`.
    ///
    /// # Shapes
    /// - output: `[indices.len()]`
    pub fn label_tensor(&self, indices: &[usize], device: &Device) -> Tensor<1, Int> {
        let labels: Vec<i32> = indices.iter().map(|&i| i32::from(self.labels[i])).collect();
        Tensor::from_data(TensorData::new(labels, [indices.len()]), device)
    }
}

/// The training and held-out images of a data set.
pub struct Splits {
    pub train: ImageDataset,
    pub test: ImageDataset,
}

#[cfg(test)]
mod tests {
    use super::*;

    const RGB_4: ImageShape = ImageShape {
        channels: 3,
        side: 4,
    };

    fn names(count: usize) -> Vec<String> {
        (0..count).map(|class| format!("class {class}")).collect()
    }

    #[test]
    fn batches_are_channels_first_in_unit_range() {
        let mut pixels = vec![0u8; 2 * RGB_4.values()];
        pixels[RGB_4.values() + 16] = 255; // image 1, green channel, first pixel
        let data = ImageDataset::new(RGB_4, names(2), pixels, vec![1, 0]).unwrap();
        let batch = data.images(&[1, 0], &Device::flex());
        assert_eq!(batch.dims(), [2, 3, 4, 4]);
        let values = batch.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(values[16], 1.0);
        assert_eq!(values.iter().sum::<f32>(), 1.0);
        let labels = data.label_tensor(&[0, 1], &Device::flex());
        assert_eq!(
            labels.into_data().try_into_vec::<i32>().unwrap(),
            vec![1, 0]
        );
    }

    #[test]
    fn rejects_what_does_not_fit_together() {
        let new = |values: usize, labels: Vec<u16>| {
            ImageDataset::new(RGB_4, names(2), vec![0; values], labels).unwrap_err()
        };
        assert_eq!(
            new(47, vec![0]),
            DatasetError::PartialImage {
                values: 47,
                shape: RGB_4
            }
        );
        assert_eq!(
            new(96, vec![0]),
            DatasetError::CountMismatch {
                images: 2,
                labels: 1
            }
        );
        assert_eq!(
            new(96, vec![0, 2]),
            DatasetError::BadLabel {
                label: 2,
                index: 1,
                classes: 2
            }
        );
        assert_eq!(new(0, vec![]), DatasetError::Empty);
        let data = ImageDataset::new(RGB_4, names(2), vec![0; 48], vec![1]).unwrap();
        let named = data
            .clone()
            .with_class_names(&["cat".into(), "dog".into()])
            .unwrap();
        assert_eq!(named.classes(), ["cat", "dog"]);
        assert_eq!(
            data.with_class_names(&["cat".into()]).unwrap_err(),
            DatasetError::ClassNames {
                given: 1,
                classes: 2
            }
        );
        assert_eq!(RGB_4.to_string(), "4×4 RGB");
    }
}
