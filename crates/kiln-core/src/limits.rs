//! The largest sizes Kiln accepts from a file (a spec in a manifest, a weight file or a run
//! directory; an IDX file) or from a command line, checked before anything of that size is
//! allocated: a damaged or hostile file is a clear error naming the field, its value and the
//! limit, never an aborted process or a dead browser worker. What JavaScript may ask for is in
//! [`crate::request::LIMITS`], which kiln.js reads.

/// Parameters of one model: 400 MB as f32, sixty times the largest shipped model (cvae, 1.7 M),
/// and more than a browser tab can hold twice.
pub const MAX_PARAMETERS: usize = 100_000_000;

/// Any width of a layer: channels, hidden units, code, embedding and residual-stream sizes.
/// Four such dimensions multiply to under 2⁶⁴, so no shape overflows before it is counted.
pub const MAX_WIDTH: usize = 16_384;

/// Blocks of a stack (the GPT's layers) and attention heads.
pub const MAX_DEPTH: usize = 256;

/// Characters a text model reads at once, or per training window.
pub const MAX_CONTEXT: usize = 65_536;

/// Distinct characters of a text model, or classes of a conditional one.
pub const MAX_SYMBOLS: usize = 65_536;

/// Side of a square image, in pixels.
pub const MAX_IMAGE_SIDE: usize = 1_024;

/// Noise levels of a diffusion model's forward process (DDPM uses 1,000).
pub const MAX_TIMESTEPS: usize = 100_000;

/// Bytes of a data file (IDX or text) as read, and of an IDX file once decompressed: twenty
/// times MNIST's training images.
pub const MAX_DATA_BYTES: usize = 1 << 30;

/// Images or windows of text in one training batch, or images judged by `kiln eval`.
pub const MAX_BATCH: usize = 65_536;

/// `Err` naming the first of `sizes` (`(name, value, limit)`) that is zero or above its limit.
pub fn check_sizes(sizes: &[(&str, usize, usize)]) -> Result<(), String> {
    for &(name, value, limit) in sizes {
        if value == 0 {
            return Err(format!("{name} must be positive"));
        }
        if value > limit {
            return Err(format!("{name} {value} is above the limit of {limit}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_is_positive_and_within_its_limit() {
        assert_eq!(check_sizes(&[("hidden", 64, MAX_WIDTH)]), Ok(()));
        assert_eq!(
            check_sizes(&[("hidden", 64, MAX_WIDTH), ("latent_dim", 0, MAX_WIDTH)]),
            Err("latent_dim must be positive".into())
        );
        assert_eq!(
            check_sizes(&[("hidden", 1_000_000_000, MAX_WIDTH)]),
            Err("hidden 1000000000 is above the limit of 16384".into())
        );
        let widest = MAX_WIDTH as u128;
        assert!(widest.pow(4) < u64::MAX as u128);
    }
}
