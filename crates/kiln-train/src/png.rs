//! PNGs: sampled images out (grayscale or RGB), digits to restore in.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use image::{ExtendedColorType, ImageFormat};
use kiln_core::data::image::ImageBatch;
use kiln_core::data::mnist::IMAGE_SIDE;

/// Write `000000.png…` and `grid.png` into `dir`.
pub fn write_batch(batch: &ImageBatch, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for index in 0..batch.count {
        let path = dir.join(format!("{index:06}.png"));
        save(
            &path,
            &batch.to_u8(index),
            batch.channels,
            batch.width,
            batch.height,
        )?;
    }
    write_grid(batch, &dir.join("grid.png"))
}

/// All of `batch` tiled into one picture at `path`.
pub fn write_grid(batch: &ImageBatch, path: &Path) -> Result<()> {
    let grid = batch.grid();
    save(path, &grid.pixels, grid.channels, grid.width, grid.height)
}

fn save(path: &Path, pixels: &[u8], channels: usize, width: usize, height: usize) -> Result<()> {
    let colour = if channels == 3 {
        ExtendedColorType::Rgb8
    } else {
        ExtendedColorType::L8
    };
    image::save_buffer_with_format(
        path,
        pixels,
        width as u32,
        height as u32,
        colour,
        ImageFormat::Png,
    )
    .with_context(|| format!("writing {}", path.display()))
}

/// A 28×28 digit as intensities in `[0, 1]`; colour images are converted to grayscale.
pub fn read_digit(path: &Path) -> Result<Vec<f32>> {
    let image = image::open(path)
        .with_context(|| format!("reading {}", path.display()))?
        .into_luma8();
    let side = IMAGE_SIDE as u32;
    ensure!(
        image.dimensions() == (side, side),
        "{} is {}×{} pixels; digits must be {side}×{side} (white on black, as in MNIST)",
        path.display(),
        image.width(),
        image.height()
    );
    Ok(image.pixels().map(|p| f32::from(p.0[0]) / 255.0).collect())
}
