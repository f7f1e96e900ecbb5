//! Sampled tensors turned into plain pixel buffers and contact sheets, shared by the PNG writer
//! and the page so both show the same thing.

use burn::tensor::TensorData;
use thiserror::Error;

/// Gap between the cells of a [`grid`], in pixels.
pub const GRID_GAP: usize = 2;

#[derive(Debug, Error)]
#[error("sampled tensor could not be read as f32 images: {0}")]
pub struct ImageError(String);

/// A batch of grayscale images with intensities in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBatch {
    pub count: usize,
    pub width: usize,
    pub height: usize,
    /// `count × height × width`, row-major.
    pub pixels: Vec<f32>,
}

impl ImageBatch {
    /// Read a `[count, 1, height, width]` tensor's data, clamping to `[0, 1]`.
    pub fn from_data(data: TensorData) -> Result<Self, ImageError> {
        let dims = data.shape().to_vec();
        let [count, 1, height, width] = dims[..] else {
            return Err(ImageError(format!(
                "expected [count, 1, h, w], got {dims:?}"
            )));
        };
        let pixels = data
            .try_into_vec::<f32>()
            .map_err(|e| ImageError(format!("{e:?}")))?
            .into_iter()
            .map(|p| p.clamp(0.0, 1.0))
            .collect();
        Ok(Self {
            count,
            width,
            height,
            pixels,
        })
    }

    /// Image `index` as 8-bit grayscale.
    pub fn to_u8(&self, index: usize) -> Vec<u8> {
        let len = self.width * self.height;
        self.pixels[index * len..(index + 1) * len]
            .iter()
            .map(|&p| to_byte(p))
            .collect()
    }

    /// All images tiled into a near-square grid on a black background.
    pub fn grid(&self) -> Grid {
        let columns = (self.count as f64).sqrt().ceil().max(1.0) as usize;
        let rows = self.count.div_ceil(columns);
        let width = columns * self.width + (columns - 1) * GRID_GAP;
        let height = rows * self.height + rows.saturating_sub(1) * GRID_GAP;
        let mut pixels = vec![0u8; width * height];
        for index in 0..self.count {
            let (x0, y0) = (
                (index % columns) * (self.width + GRID_GAP),
                (index / columns) * (self.height + GRID_GAP),
            );
            for (y, row) in self.to_u8(index).chunks(self.width).enumerate() {
                let start = (y0 + y) * width + x0;
                pixels[start..start + self.width].copy_from_slice(row);
            }
        }
        Grid {
            width,
            height,
            pixels,
        }
    }
}

/// An 8-bit grayscale picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

fn to_byte(p: f32) -> u8 {
    (p.clamp(0.0, 1.0) * 255.0).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_clamps_and_tiles() {
        let data = TensorData::new(
            vec![
                2.0f32, -1.0, 0.5, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0,
            ],
            [3, 1, 2, 2],
        );
        let batch = ImageBatch::from_data(data).unwrap();
        assert_eq!(batch.to_u8(0), vec![255, 0, 128, 0]);
        let grid = batch.grid();
        // 3 images → 2 columns × 2 rows of 2×2 cells with a 2-pixel gap.
        assert_eq!((grid.width, grid.height), (6, 6));
        assert_eq!(&grid.pixels[0..6], &[255, 0, 0, 0, 255, 255]);
        assert_eq!(&grid.pixels[4 * 6..4 * 6 + 2], &[0, 0]);
    }

    #[test]
    fn rejects_wrong_rank() {
        let data = TensorData::new(vec![0.0f32; 4], [2, 2]);
        assert!(ImageBatch::from_data(data).is_err());
    }
}
