//! PNGs: sampled images out (grayscale or RGB), images to restore in.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use image::{ExtendedColorType, ImageFormat};
use kiln_core::data::dataset::ImageShape;
use kiln_core::data::image::ImageBatch;

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

/// An image of `shape` as intensities in `[0, 1]`, channels first; colour pictures become
/// grayscale for a grayscale model, and grayscale ones RGB for a colour one.
pub fn read_image(path: &Path, shape: ImageShape) -> Result<Vec<f32>> {
    let image = image::open(path).with_context(|| format!("reading {}", path.display()))?;
    let side = shape.side as u32;
    ensure!(
        (image.width(), image.height()) == (side, side),
        "{} is {}×{} pixels; the model reads {shape} images{}",
        path.display(),
        image.width(),
        image.height(),
        if shape == ImageShape::MNIST {
            " (digits white on black, as in MNIST)"
        } else {
            ""
        }
    );
    let to_unit = |byte: &u8| f32::from(*byte) / 255.0;
    if shape.channels == 1 {
        return Ok(image.into_luma8().as_raw().iter().map(to_unit).collect());
    }
    let rgb = image.into_rgb8();
    Ok((0..3)
        .flat_map(|channel| rgb.as_raw().iter().skip(channel).step_by(3).map(to_unit))
        .collect())
}
