//! `kiln interpolate`: a walk through a VAE's latent space, written as PNG frames.

use anyhow::Result;
use kiln_core::data::image::ImageBatch;
use kiln_core::request::InterpolateRequest;

use crate::cli::InterpolateArgs;
use crate::commands::sample::write_images;
use crate::resolve;

pub fn run(args: InterpolateArgs) -> Result<()> {
    let request = InterpolateRequest::new(args.from, args.to, args.steps)?.with_class(args.class);
    let (model, device) = resolve::load(&args.model)?;
    let frames = ImageBatch::from_data(model.interpolate(request, &device)?.into_data())?;
    write_images(&frames, &args.output)
}
