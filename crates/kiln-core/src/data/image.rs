//! Sampled tensors turned into plain pixel buffers and contact sheets, shared by the PNG writer
//! and the page so both show the same thing.

use burn::tensor::TensorData;
use thiserror::Error;

/// Gap between the cells of a [`grid`], in pixels.
pub const GRID_GAP: usize = 2;

#[derive(Debug, Error)]
#[error("sampled tensor could not be read as f32 images: {0}")]
pub struct ImageError(String);

/// A batch of grayscale or RGB images with intensities in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBatch {
    pub count: usize,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    pub width: usize,
    pub height: usize,
    /// `count × channels × height × width`, row-major (channels first, as in the tensor).
    pub pixels: Vec<f32>,
}

impl ImageBatch {
    /// Read a `[count, channels, height, width]` tensor's data (1 or 3 channels), clamping to
    /// `[0, 1]`.
    pub fn from_data(data: TensorData) -> Result<Self, ImageError> {
        let dims = data.shape().to_vec();
        let [count, channels @ (1 | 3), height, width] = dims[..] else {
            return Err(ImageError(format!(
                "expected [count, 1 or 3 channels, h, w], got {dims:?}"
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
            channels,
            width,
            height,
            pixels,
        })
    }

    /// Image `index` as 8-bit grayscale or RGB, the channels of each pixel together (as image
    /// files and canvases store them).
    pub fn to_u8(&self, index: usize) -> Vec<u8> {
        let plane = self.width * self.height;
        let image =
            &self.pixels[index * self.channels * plane..(index + 1) * self.channels * plane];
        (0..plane)
            .flat_map(|pixel| (0..self.channels).map(move |c| to_byte(image[c * plane + pixel])))
            .collect()
    }

    /// All images tiled into a near-square grid on a black background.
    pub fn grid(&self) -> Grid {
        let columns = (self.count as f64).sqrt().ceil().max(1.0) as usize;
        let rows = self.count.div_ceil(columns);
        let width = columns * self.width + (columns - 1) * GRID_GAP;
        let height = rows * self.height + rows.saturating_sub(1) * GRID_GAP;
        let row_len = self.width * self.channels;
        let mut pixels = vec![0u8; width * height * self.channels];
        for index in 0..self.count {
            let (x0, y0) = (
                (index % columns) * (self.width + GRID_GAP),
                (index / columns) * (self.height + GRID_GAP),
            );
            for (y, row) in self.to_u8(index).chunks(row_len).enumerate() {
                let start = ((y0 + y) * width + x0) * self.channels;
                pixels[start..start + row_len].copy_from_slice(row);
            }
        }
        Grid {
            channels: self.channels,
            width,
            height,
            pixels,
        }
    }
}

/// An 8-bit grayscale or RGB picture, the channels of each pixel together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    pub channels: usize,
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
    fn colour_images_keep_each_pixels_channels_together() {
        // Two 1×2 RGB images: image 1 is red then blue.
        let mut values = vec![0.0f32; 12];
        values[6] = 1.0; // image 1, red, first pixel
        values[11] = 1.0; // image 1, blue, second pixel
        let batch = ImageBatch::from_data(TensorData::new(values, [2, 3, 1, 2])).unwrap();
        assert_eq!(batch.to_u8(1), vec![255, 0, 0, 0, 0, 255]);
        let grid = batch.grid();
        // 2 columns × 1 row of 2-pixel cells with a 2-pixel gap: 6 pixels of 3 bytes.
        assert_eq!((grid.channels, grid.width, grid.height), (3, 6, 1));
        assert_eq!(&grid.pixels[12..], &[255, 0, 0, 0, 0, 255]);
    }

    #[test]
    fn rejects_wrong_rank() {
        let data = TensorData::new(vec![0.0f32; 4], [2, 2]);
        assert!(ImageBatch::from_data(data).is_err());
        let two_channels = TensorData::new(vec![0.0f32; 4], [1, 2, 1, 2]);
        assert!(ImageBatch::from_data(two_channels).is_err());
    }
}
