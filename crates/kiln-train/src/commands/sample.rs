//! `kiln sample`: draw images and write PNGs; a sound model's images are spectrograms, which are
//! also written as the clips they sound like.

use std::path::Path;

use anyhow::Result;
use kiln_core::audio::griffin_lim::ITERATIONS;
use kiln_core::audio::{Spectrogram, SpectrogramSettings};
use kiln_core::data::image::ImageBatch;
use kiln_core::request::SampleRequest;

use crate::cli::{ImagesOut, SampleArgs};
use crate::{atomic, png, resolve, wav};

pub fn run(args: SampleArgs) -> Result<()> {
    let request = SampleRequest::new(args.count, args.seed)?
        .with_class(args.class)
        .with_diffusion(args.diffusion.request()?);
    let (model, resolved, device) = resolve::load_resolved(&args.model)?;
    let batch = ImageBatch::from_data(model.sample(request, &device)?.into_data())?;
    write_images(&batch, &args.output)?;
    if let Some(settings) = resolved.spectrogram {
        write_clips(&batch, settings, &args.output.out)?;
    }
    Ok(())
}

/// `000000.png…` and `grid.png` in the output directory, and with `--json` the exact
/// intensities in samples.json.
pub fn write_images(batch: &ImageBatch, output: &ImagesOut) -> Result<()> {
    let out = &output.out;
    png::write_batch(batch, out)?;
    if output.json {
        let json = serde_json::json!({
            "count": batch.count,
            "channels": batch.channels,
            "width": batch.width,
            "height": batch.height,
            "data": batch.pixels,
        });
        atomic::write(&out.join("samples.json"), json.to_string().as_bytes())?;
    }
    eprintln!(
        "wrote {} images and grid.png to {}",
        batch.count,
        out.display()
    );
    Ok(())
}

/// `000000.wav…` in `out`: the sound of each spectrogram in `batch`.
fn write_clips(batch: &ImageBatch, settings: SpectrogramSettings, out: &Path) -> Result<()> {
    let spectrogram = Spectrogram::new(settings)?;
    let values = batch.channels * batch.width * batch.height;
    for (index, image) in batch.pixels.chunks(values).enumerate() {
        let clip = spectrogram.sound(image, ITERATIONS)?;
        wav::write(
            &out.join(format!("{index:06}.wav")),
            &clip,
            settings.sample_rate,
        )?;
    }
    eprintln!(
        "wrote {} clips (000000.wav…) at {} Hz to {}",
        batch.count,
        settings.sample_rate,
        out.display()
    );
    Ok(())
}
