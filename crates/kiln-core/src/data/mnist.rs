//! MNIST-style digit data sets held in memory, turned into training batches.

use burn::tensor::{Device, Int, Tensor, TensorData};
use thiserror::Error;

use crate::data::idx::IdxImages;

/// Side of an MNIST image in pixels (LeCun et al. 1998).
pub const IMAGE_SIDE: usize = 28;
/// Pixels in one MNIST image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Digit classes 0–9.
pub const NUM_CLASSES: usize = 10;

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("images are {rows}×{cols}, but Kiln's models expect {IMAGE_SIDE}×{IMAGE_SIDE} digits")]
    WrongImageSize { rows: usize, cols: usize },
    #[error(
        "{images} images but {labels} labels: the image and label files do not belong together"
    )]
    CountMismatch { images: usize, labels: usize },
    #[error("label {label} at index {index} is not a digit class 0–9")]
    BadLabel { label: u8, index: usize },
    #[error("the data set is empty")]
    Empty,
}

/// Grayscale digits scaled to `[0, 1]` with their class labels.
#[derive(Debug, Clone)]
pub struct DigitDataset {
    /// `len × 28 × 28` intensities in `[0, 1]`, row-major.
    pixels: Vec<f32>,
    labels: Vec<u8>,
}

impl DigitDataset {
    /// Pair an IDX image file with its label file, checking sizes, counts and classes.
    pub fn from_idx(images: &IdxImages, labels: Vec<u8>) -> Result<Self, DatasetError> {
        if (images.rows, images.cols) != (IMAGE_SIDE, IMAGE_SIDE) {
            return Err(DatasetError::WrongImageSize {
                rows: images.rows,
                cols: images.cols,
            });
        }
        if images.count != labels.len() {
            return Err(DatasetError::CountMismatch {
                images: images.count,
                labels: labels.len(),
            });
        }
        if images.count == 0 {
            return Err(DatasetError::Empty);
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, l)| usize::from(**l) >= NUM_CLASSES)
        {
            return Err(DatasetError::BadLabel { label, index });
        }
        let pixels = images
            .pixels
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect();
        Ok(Self { pixels, labels })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Keep only the first `count` examples (for quick runs on a subset).
    pub fn truncate(&mut self, count: usize) {
        self.labels.truncate(count);
        self.pixels.truncate(count * IMAGE_PIXELS);
    }

    /// The images at `indices` as one batch.
    ///
    /// # Shapes
    /// - output: `[indices.len(), 1, 28, 28]`
    pub fn images(&self, indices: &[usize], device: &Device) -> Tensor<4> {
        let mut data = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
        for &i in indices {
            data.extend_from_slice(&self.pixels[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]);
        }
        let shape = [indices.len(), 1, IMAGE_SIDE, IMAGE_SIDE];
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

#[cfg(test)]
mod tests {
    use super::*;

    fn images(count: usize, side: usize) -> IdxImages {
        IdxImages {
            count,
            rows: side,
            cols: side,
            pixels: vec![255; count * side * side],
        }
    }

    #[test]
    fn batches_scale_pixels_to_unit_range() {
        let data = DigitDataset::from_idx(&images(3, IMAGE_SIDE), vec![0, 1, 9]).unwrap();
        let batch = data.images(&[2, 0], &Device::flex());
        assert_eq!(batch.dims(), [2, 1, 28, 28]);
        assert_eq!(batch.max().into_scalar::<f32>(), 1.0);
    }

    #[test]
    fn rejects_mismatched_files() {
        assert!(matches!(
            DigitDataset::from_idx(&images(2, 32), vec![0, 1]),
            Err(DatasetError::WrongImageSize { rows: 32, .. })
        ));
        assert!(matches!(
            DigitDataset::from_idx(&images(2, IMAGE_SIDE), vec![0]),
            Err(DatasetError::CountMismatch {
                images: 2,
                labels: 1
            })
        ));
        assert!(matches!(
            DigitDataset::from_idx(&images(2, IMAGE_SIDE), vec![0, 10]),
            Err(DatasetError::BadLabel {
                label: 10,
                index: 1
            })
        ));
    }
}
