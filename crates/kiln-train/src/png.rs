//! Writing sampled images as grayscale PNGs.

use std::path::Path;

use anyhow::{Context, Result};
use image::{ExtendedColorType, ImageFormat};
use kiln_core::image::ImageBatch;

/// Write `000000.png…` and `grid.png` into `dir`.
pub fn write_batch(batch: &ImageBatch, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for index in 0..batch.count {
        let path = dir.join(format!("{index:06}.png"));
        save(&path, &batch.to_u8(index), batch.width, batch.height)?;
    }
    let grid = batch.grid();
    save(&dir.join("grid.png"), &grid.pixels, grid.width, grid.height)
}

fn save(path: &Path, pixels: &[u8], width: usize, height: usize) -> Result<()> {
    image::save_buffer_with_format(
        path,
        pixels,
        width as u32,
        height as u32,
        ExtendedColorType::L8,
        ImageFormat::Png,
    )
    .with_context(|| format!("writing {}", path.display()))
}
