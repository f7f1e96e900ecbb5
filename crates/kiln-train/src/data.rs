//! Reading training data from disk: MNIST-style IDX files, a folder of pictures or of spoken
//! clips, or a text file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use kiln_core::audio::SpectrogramSettings;
use kiln_core::data::dataset::ImageDataset;
use kiln_core::data::idx;
use kiln_core::data::mnist;
use kiln_core::limits::MAX_DATA_BYTES;

use crate::clips;
use crate::pictures::{self, PictureOptions};

pub use kiln_core::data::dataset::Splits;

/// The first of MNIST's files, whose presence says that `dir` holds IDX files.
const MNIST_TRAIN_IMAGES: &str = "train-images-idx3-ubyte";

/// Whether `dir` holds MNIST-style IDX files rather than pictures.
pub fn is_mnist(dir: &Path) -> bool {
    raw_or_gz(dir, MNIST_TRAIN_IMAGES).is_some()
}

/// Whether `dir` is a folder of spoken clips (WAV files) rather than of pictures.
pub fn is_clips(dir: &Path) -> bool {
    !is_mnist(dir) && clips::holds_clips(dir)
}

/// How a folder of clips is read, if `dir` is one: as spoken digits.
pub fn spectrogram_of(dir: &Path) -> Option<SpectrogramSettings> {
    is_clips(dir).then_some(SpectrogramSettings::SPOKEN_DIGITS)
}

/// The images under `dir`: MNIST's IDX files, with their classes named `class_names` if given;
/// (with `spectrogram`) the spectrograms of a folder of clips; or (with `pictures`) a folder of
/// pictures. `seed` draws a folder's held-out share when it has no `test/` folder.
pub fn load_images(
    dir: &Path,
    pictures: Option<&PictureOptions>,
    spectrogram: Option<&SpectrogramSettings>,
    class_names: Option<&[String]>,
    seed: u64,
) -> Result<Splits> {
    if let Some(settings) = spectrogram {
        ensure!(
            class_names.is_none() && pictures.is_none(),
            "--class-names, --image-size and --channels do not apply to a folder of clips: its \
             classes are the digits, its images spectrograms"
        );
        return clips::load(dir, settings, seed);
    }
    let Some(options) = pictures else {
        let splits = load_mnist(dir)?;
        let Some(names) = class_names else {
            return Ok(splits);
        };
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        ensure!(
            distinct.len() == names.len() && !distinct.contains(&String::new()),
            "--class-names must name each class once, without empty names: got {names:?}"
        );
        let name = |data: ImageDataset| data.with_class_names(names).context("--class-names");
        return Ok(Splits {
            train: name(splits.train)?,
            test: name(splits.test)?,
        });
    };
    ensure!(
        class_names.is_none(),
        "--class-names names the classes of MNIST-style IDX files; a folder of pictures names \
         them after its subfolders"
    );
    pictures::load(dir, options, seed)
}

/// Read `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` from `dir`.
fn load_mnist(dir: &Path) -> Result<Splits> {
    if !dir.is_dir() {
        bail!(
            "data directory {} does not exist; point --data at a folder with the four MNIST IDX files \
             (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, \
             t10k-labels-idx1-ubyte; raw or .gz)",
            dir.display()
        );
    }
    Ok(Splits {
        train: load_split(dir, "train")?,
        test: load_split(dir, "t10k")?,
    })
}

fn load_split(dir: &Path, prefix: &str) -> Result<ImageDataset> {
    let (images_name, images_bytes) = read_either(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let (labels_name, labels_bytes) = read_either(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = idx::parse_images(&images_name, &images_bytes)?;
    let labels = idx::parse_labels(&labels_name, &labels_bytes)?;
    mnist::from_idx(images, labels)
        .with_context(|| format!("pairing {images_name} with {labels_name}"))
}

/// Read `name` or `name.gz`, whichever exists.
fn read_either(dir: &Path, name: &str) -> Result<(String, Vec<u8>)> {
    let Some(path) = raw_or_gz(dir, name) else {
        bail!("{} has neither {name} nor {name}.gz", dir.display())
    };
    Ok((path.display().to_string(), read_bounded(&path)?))
}

/// `dir/name` or `dir/name.gz`, whichever is a file.
fn raw_or_gz(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|candidate| candidate.is_file())
}

/// The bytes of a data file, if it is within [`MAX_DATA_BYTES`].
fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let reading = || format!("reading {}", path.display());
    let size = std::fs::metadata(path).with_context(reading)?.len();
    if size > MAX_DATA_BYTES as u64 {
        bail!(
            "{} has {size} bytes, above the limit of {MAX_DATA_BYTES} for a data file",
            path.display()
        );
    }
    std::fs::read(path).with_context(reading)
}

/// The whole of a UTF-8 text file.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = read_bounded(path)?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not UTF-8 text: invalid bytes at offset {} (convert it, e.g. with iconv)",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}
