//! MNIST-style digit data sets: IDX image and label files paired into an [`ImageDataset`].

use thiserror::Error;

use crate::data::dataset::{DatasetError, ImageDataset, ImageShape};
use crate::data::idx::IdxImages;

/// Side of an MNIST image in pixels (LeCun et al. 1998).
pub const IMAGE_SIDE: usize = 28;
/// Pixels in one MNIST image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Digit classes 0–9.
pub const NUM_CLASSES: usize = 10;

#[derive(Debug, Error)]
pub enum MnistError {
    #[error("images are {rows}×{cols}, but MNIST-style digits are {IMAGE_SIDE}×{IMAGE_SIDE}")]
    WrongImageSize { rows: usize, cols: usize },
    #[error(transparent)]
    Dataset(#[from] DatasetError),
}

/// The class names of MNIST's digits: "0" to "9".
pub fn digit_classes() -> Vec<String> {
    (0..NUM_CLASSES).map(|digit| digit.to_string()).collect()
}

/// Pair an IDX image file with its label file (28×28 images, classes 0–9), checking sizes,
/// counts and labels.
pub fn from_idx(images: IdxImages, labels: Vec<u8>) -> Result<ImageDataset, MnistError> {
    if (images.rows, images.cols) != (IMAGE_SIDE, IMAGE_SIDE) {
        return Err(MnistError::WrongImageSize {
            rows: images.rows,
            cols: images.cols,
        });
    }
    Ok(ImageDataset::new(
        ImageShape::MNIST,
        digit_classes(),
        images.pixels,
        labels.into_iter().map(u16::from).collect(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

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
        let data = from_idx(images(3, IMAGE_SIDE), vec![0, 1, 9]).unwrap();
        let batch = data.images(&[2, 0], &Device::flex());
        assert_eq!(batch.dims(), [2, 1, 28, 28]);
        assert_eq!(batch.max().into_scalar::<f32>(), 1.0);
        assert_eq!(data.classes()[9], "9");
    }

    #[test]
    fn rejects_mismatched_files() {
        assert!(matches!(
            from_idx(images(2, 32), vec![0, 1]),
            Err(MnistError::WrongImageSize { rows: 32, .. })
        ));
        assert!(matches!(
            from_idx(images(2, IMAGE_SIDE), vec![0]),
            Err(MnistError::Dataset(DatasetError::CountMismatch {
                images: 2,
                labels: 1
            }))
        ));
        assert!(matches!(
            from_idx(images(2, IMAGE_SIDE), vec![0, 10]),
            Err(MnistError::Dataset(DatasetError::BadLabel {
                label: 10,
                index: 1,
                classes: 10
            }))
        ));
    }
}
