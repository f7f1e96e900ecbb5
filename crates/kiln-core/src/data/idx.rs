//! Reader for the IDX format that MNIST and Fashion-MNIST ship in, raw or gzip-compressed.
//!
//! An IDX file is a 4-byte magic number — two zero bytes, a type code (`0x08` for unsigned
//! bytes) and the number of dimensions — followed by one big-endian `u32` per dimension and
//! then the data. Images are 3-D (`count × rows × cols`), labels 1-D (`count`).

use std::borrow::Cow;
use std::io::Read;

use thiserror::Error;

use crate::limits::{MAX_DATA_BYTES, MAX_IMAGE_SIDE, check_sizes};

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// IDX type code for unsigned bytes, the only type MNIST-style data sets use.
const TYPE_U8: u8 = 0x08;
const HEADER_PREFIX_LEN: usize = 4;

/// Why an IDX file could not be read. Every variant names the file.
#[derive(Debug, Error)]
pub enum IdxError {
    #[error("{file}: not a valid gzip stream ({source})")]
    Gzip {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{file}: bad IDX magic {found:02x?}; expected 00 00 08 {expected_dims:02x} (unsigned bytes, {expected_dims} dimensions) — is this the right file?"
    )]
    BadMagic {
        file: String,
        found: Vec<u8>,
        expected_dims: u8,
    },
    #[error(
        "{file}: truncated: the header and dimensions need {expected} bytes of data but the file has {found}"
    )]
    Truncated {
        file: String,
        expected: usize,
        found: usize,
    },
    #[error("{file}: {extra} unexpected bytes after the {expected} the header describes")]
    TrailingBytes {
        file: String,
        expected: usize,
        extra: usize,
    },
    #[error("{file}: {what}")]
    Invalid { file: String, what: String },
    #[error("{file}: decompresses to more than the limit of {limit} bytes")]
    TooLarge { file: String, limit: usize },
}

/// A stack of 8-bit grayscale images, row-major, `count × rows × cols` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// The pixels of image `index`, `rows × cols` bytes.
    pub fn image(&self, index: usize) -> &[u8] {
        let len = self.rows * self.cols;
        &self.pixels[index * len..(index + 1) * len]
    }
}

/// Parse an IDX image file (`magic 0x00000803`), gzip-compressed or raw.
pub fn parse_images(file: &str, bytes: &[u8]) -> Result<IdxImages, IdxError> {
    let bytes = decompress(file, bytes)?;
    let (dims, data) = parse(file, &bytes, 3)?;
    let [count, rows, cols] = [dims[0], dims[1], dims[2]];
    check_sizes(&[
        ("rows", rows, MAX_IMAGE_SIDE),
        ("cols", cols, MAX_IMAGE_SIDE),
    ])
    .map_err(|why| IdxError::Invalid {
        file: file.into(),
        what: format!("images of {rows}×{cols} pixels: {why}"),
    })?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: data.to_vec(),
    })
}

/// Parse an IDX label file (`magic 0x00000801`), gzip-compressed or raw.
pub fn parse_labels(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let bytes = decompress(file, bytes)?;
    let (_, data) = parse(file, &bytes, 1)?;
    Ok(data.to_vec())
}

fn decompress<'a>(file: &str, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, IdxError> {
    decompress_within(file, bytes, MAX_DATA_BYTES)
}

/// `bytes` gunzipped if they are gzip, refused once they pass `limit` bytes (a small gzip file
/// can hold gigabytes of zeros).
fn decompress_within<'a>(
    file: &str,
    bytes: &'a [u8],
    limit: usize,
) -> Result<Cow<'a, [u8]>, IdxError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|source| IdxError::Gzip {
            file: file.into(),
            source,
        })?;
    if out.len() > limit {
        return Err(IdxError::TooLarge {
            file: file.into(),
            limit,
        });
    }
    Ok(Cow::Owned(out))
}

/// Check the header for `expected_dims` byte dimensions and return them with the data.
fn parse<'a>(
    file: &str,
    bytes: &'a [u8],
    expected_dims: u8,
) -> Result<(Vec<usize>, &'a [u8]), IdxError> {
    let magic = &bytes[..bytes.len().min(HEADER_PREFIX_LEN)];
    if magic != [0, 0, TYPE_U8, expected_dims] {
        return Err(IdxError::BadMagic {
            file: file.into(),
            found: magic.to_vec(),
            expected_dims,
        });
    }
    let header_len = HEADER_PREFIX_LEN + 4 * usize::from(expected_dims);
    let truncated = |expected| IdxError::Truncated {
        file: file.into(),
        expected,
        found: bytes.len(),
    };
    let dims: Vec<usize> = bytes
        .get(HEADER_PREFIX_LEN..header_len)
        .ok_or_else(|| truncated(header_len))?
        .chunks_exact(4)
        .map(|be| u32::from_be_bytes([be[0], be[1], be[2], be[3]]) as usize)
        .collect();
    let data_len = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| IdxError::Invalid {
            file: file.into(),
            what: format!("dimensions {dims:?} overflow"),
        })?;
    let expected = header_len + data_len;
    match bytes.len() {
        len if len < expected => Err(truncated(expected)),
        len if len > expected => Err(IdxError::TrailingBytes {
            file: file.into(),
            expected,
            extra: len - expected,
        }),
        _ => Ok((dims, &bytes[header_len..])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, TYPE_U8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn parses_raw_and_gzip_images() {
        let pixels: Vec<u8> = (0..2 * 3 * 2).collect();
        let raw = idx(&[2, 3, 2], &pixels);
        for bytes in [raw.clone(), gzip(&raw)] {
            let images = parse_images("imgs", &bytes).unwrap();
            assert_eq!((images.count, images.rows, images.cols), (2, 3, 2));
            assert_eq!(images.image(1), &pixels[6..12]);
        }
    }

    #[test]
    fn parses_labels() {
        assert_eq!(
            parse_labels("l", &idx(&[3], &[7, 1, 9])).unwrap(),
            vec![7, 1, 9]
        );
    }

    #[test]
    fn rejects_labels_given_as_images() {
        let err = parse_images("t10k-labels", &idx(&[3], &[7, 1, 9])).unwrap_err();
        assert!(matches!(err, IdxError::BadMagic { .. }), "{err}");
        assert!(err.to_string().starts_with("t10k-labels: bad IDX magic"));
    }

    #[test]
    fn rejects_bad_magic_and_short_files() {
        assert!(matches!(
            parse_labels("x", b"PK\x03\x04zip").unwrap_err(),
            IdxError::BadMagic { .. }
        ));
        assert!(matches!(
            parse_labels("x", &[0, 0]).unwrap_err(),
            IdxError::BadMagic { .. }
        ));
    }

    #[test]
    fn rejects_truncated_data_and_header() {
        let mut bytes = idx(&[2, 2, 2], &[0; 8]);
        bytes.truncate(bytes.len() - 3);
        let err = parse_images("imgs", &bytes).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::Truncated {
                    expected: 24,
                    found: 21,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_images("imgs", &[0, 0, 8, 3, 0, 0]).unwrap_err();
        assert!(matches!(err, IdxError::Truncated { .. }), "{err}");
    }

    #[test]
    fn refuses_images_and_decompressed_files_above_their_limits() {
        let err = parse_images("wide", &idx(&[1, 1, 4096], &[0; 4096])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "wide: images of 1×4096 pixels: cols 4096 is above the limit of 1024"
        );
        let err = parse_images("empty", &idx(&[1, 0, 28], &[])).unwrap_err();
        assert!(err.to_string().contains("rows must be positive"), "{err}");
        let zeros = gzip(&[0; 1000]);
        assert_eq!(decompress_within("z", &zeros, 1000).unwrap().len(), 1000);
        let err = decompress_within("z.gz", &zeros, 999).unwrap_err();
        assert_eq!(
            err.to_string(),
            "z.gz: decompresses to more than the limit of 999 bytes"
        );
    }

    #[test]
    fn rejects_trailing_bytes_and_corrupt_gzip() {
        let err = parse_labels("l", &idx(&[1], &[1, 2])).unwrap_err();
        assert!(
            matches!(err, IdxError::TrailingBytes { extra: 1, .. }),
            "{err}"
        );
        let mut gz = gzip(&idx(&[1], &[1]));
        gz.truncate(gz.len() / 2);
        assert!(matches!(
            parse_labels("l.gz", &gz).unwrap_err(),
            IdxError::Gzip { .. }
        ));
    }
}
