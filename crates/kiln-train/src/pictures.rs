//! A folder of pictures as a labelled image data set, laid out as torchvision's `ImageFolder`
//! reads it: `DIR/<class>/**/*.{png,jpg,jpeg,webp}` with the classes in sorted order, or the
//! pictures directly in `DIR` (one class, for unconditional models). `DIR/test/`, laid out the
//! same way, is the held-out split; without it a seeded tenth is held out.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use image::imageops::FilterType;
use image::{ImageReader, Limits};
use kiln_core::data::dataset::{ImageDataset, ImageShape, Splits};
use kiln_core::limits::{MAX_DATA_BYTES, MAX_IMAGE_SIDE, check_sizes};
use kiln_core::noise;
use serde::{Deserialize, Serialize};

use crate::progress;

/// The extensions read as pictures (any case); other files are left out and counted.
const EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp"];
/// The folder holding the held-out split.
pub const TEST_FOLDER: &str = "test";
/// Width or height above which a picture is refused before it is decoded.
const MAX_PICTURE_SIDE: u32 = 16_384;
/// How far apart (of 255) a pixel's channels may be and still count as gray: JPEG's chroma
/// rounding leaves gray pictures a little off.
const GRAY_TOLERANCE: u8 = 8;

/// How pictures become images of one shape; stored with the run so that a resumed run reads
/// its folder the same way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PictureOptions {
    /// Side the pictures are resized to (the shorter side) and centre-cropped to.
    pub side: usize,
    /// 1 or 3; `None`: 3 if any picture has colour, else 1.
    pub channels: Option<usize>,
    /// Leave out pictures that cannot be read (counted), rather than stopping at the first.
    pub skip_unreadable: bool,
}

impl PictureOptions {
    pub fn validate(&self) -> Result<()> {
        check_sizes(&[("--image-size", self.side, MAX_IMAGE_SIDE)]).map_err(anyhow::Error::msg)?;
        if let Some(channels) = self.channels {
            ensure!(
                channels == 1 || channels == 3,
                "--channels must be 1 (grayscale) or 3 (RGB), got {channels}"
            );
        }
        Ok(())
    }
}

/// Read the pictures under `dir` into train and test splits; `seed` draws the held-out tenth
/// when `dir` has no `test/` folder.
pub fn load(dir: &Path, options: &PictureOptions, seed: u64) -> Result<Splits> {
    options.validate()?;
    let train = list(dir, true)?;
    let test_dir = dir.join(TEST_FOLDER);
    let held_out = if test_dir.is_dir() {
        Some(held_out_files(&test_dir, &train, dir)?)
    } else {
        None
    };
    if train.ignored > 0 {
        eprintln!(
            "left out {} files under {} that are not PNG, JPEG or WebP pictures",
            train.ignored,
            dir.display()
        );
    }
    let Listing { classes, files, .. } = train;
    let (train_files, test_files) = match held_out {
        Some(test_files) => (files, test_files),
        None => hold_out_tenth(files, seed, dir)?,
    };
    let mut reader = Reader::new(options, train_files.len() + test_files.len());
    let train_pictures = reader.read_all(shuffled(train_files, seed))?;
    let test_pictures = reader.read_all(shuffled(test_files, seed))?;
    reader.finish();
    let colour = train_pictures
        .iter()
        .chain(&test_pictures)
        .any(|p| p.colour);
    let shape = ImageShape {
        channels: options.channels.unwrap_or(if colour { 3 } else { 1 }),
        side: options.side,
    };
    let dataset = |pictures: Vec<Picture>, split: &str| {
        let labels = pictures.iter().map(|picture| picture.label).collect();
        let mut pixels = Vec::with_capacity(pictures.len() * shape.values());
        for picture in pictures {
            picture.append_to(&mut pixels, shape.channels);
        }
        ImageDataset::new(shape, classes.clone(), pixels, labels)
            .with_context(|| format!("the {split} pictures of {}", dir.display()))
    };
    Ok(Splits {
        train: dataset(train_pictures, "training")?,
        test: dataset(test_pictures, "held-out")?,
    })
}

/// The pictures of a folder and their classes.
struct Listing {
    classes: Vec<String>,
    files: Vec<(PathBuf, u16)>,
    /// Files that are not pictures.
    ignored: usize,
    /// Whether the pictures lie in the folder itself (one class named after it).
    loose: bool,
}

/// The pictures of `test_dir`, labelled with the classes of `train`, the listing of `dir`.
fn held_out_files(test_dir: &Path, train: &Listing, dir: &Path) -> Result<Vec<(PathBuf, u16)>> {
    let test = list(test_dir, false)?;
    ensure!(
        test.loose == train.loose,
        "{} must be laid out like {}: both with class folders, or both with the pictures \
         directly in them",
        test_dir.display(),
        dir.display()
    );
    if train.loose {
        return Ok(test.files); // one class each
    }
    test.files
        .into_iter()
        .map(|(path, label)| {
            let name = &test.classes[usize::from(label)];
            match train.classes.iter().position(|class| class == name) {
                Some(index) => Ok((path, index as u16)),
                None => bail!(
                    "{} has class {name:?}, which {} does not have",
                    test_dir.display(),
                    dir.display()
                ),
            }
        })
        .collect()
}

/// The classes under `dir` (its folders, sorted; `test/` left out at the top) and their
/// pictures, or its own pictures as one class named after it.
fn list(dir: &Path, top: bool) -> Result<Listing> {
    ensure!(
        dir.is_dir(),
        "data directory {} does not exist; point --data at a folder of pictures \
         (DIR/<class>/*.png, or the pictures in DIR) or at one with MNIST's four IDX files \
         (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, \
         t10k-labels-idx1-ubyte; raw or .gz)",
        dir.display()
    );
    let mut folders = Vec::new();
    let mut loose = Vec::new();
    let mut ignored = 0;
    for path in sorted_entries(dir)? {
        if is_folder(&path) {
            if !(top && path.file_name() == Some(OsStr::new(TEST_FOLDER))) {
                folders.push(path);
            }
        } else if is_picture(&path) {
            loose.push(path);
        } else {
            ignored += 1;
        }
    }
    match (folders.is_empty(), loose.is_empty()) {
        (true, true) => bail!(
            "{} holds no pictures ({}) and no class folders of them",
            dir.display(),
            EXTENSIONS.join(", ")
        ),
        (false, false) => bail!(
            "{} holds both class folders ({}) and pictures ({}): put every picture in a class \
             folder, or move the folders out for an unconditional data set",
            dir.display(),
            name(&folders[0]),
            name(&loose[0])
        ),
        (true, false) => {
            let class = dir.file_name().map_or_else(|| "pictures".into(), name_of);
            let files = loose.into_iter().map(|path| (path, 0)).collect();
            return Ok(Listing {
                classes: vec![class],
                files,
                ignored,
                loose: true,
            });
        }
        (false, true) => {}
    }
    ensure!(
        folders.len() <= usize::from(u16::MAX),
        "{} has {} class folders, above the limit of {}",
        dir.display(),
        folders.len(),
        u16::MAX
    );
    let mut listing = Listing {
        classes: Vec::new(),
        files: Vec::new(),
        ignored,
        loose: false,
    };
    for (label, folder) in folders.iter().enumerate() {
        let before = listing.files.len();
        walk(folder, label as u16, &mut listing)?;
        ensure!(
            listing.files.len() > before,
            "class folder {} holds no pictures ({})",
            folder.display(),
            EXTENSIONS.join(", ")
        );
        let class = folder.file_name().and_then(OsStr::to_str);
        let class = class
            .with_context(|| format!("class folder {} is not named in UTF-8", folder.display()))?;
        listing.classes.push(class.to_owned());
    }
    Ok(listing)
}

/// Whether `path` is a folder to read into: linked folders are not followed, since a link back
/// up the tree would never end.
pub fn is_folder(path: &Path) -> bool {
    path.is_dir() && !path.is_symlink()
}

/// Add the pictures under `folder`, at any depth, with `label`.
fn walk(folder: &Path, label: u16, listing: &mut Listing) -> Result<()> {
    for path in sorted_entries(folder)? {
        if is_folder(&path) {
            walk(&path, label, listing)?;
        } else if is_picture(&path) {
            listing.files.push((path, label));
        } else {
            listing.ignored += 1;
        }
    }
    Ok(())
}

/// The entries of `dir` in name order (so a listing does not depend on the file system),
/// without hidden ones (`.DS_Store`, `.git`).
pub fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if !is_hidden(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|name| name.starts_with('.'))
}

fn is_picture(path: &Path) -> bool {
    path.is_file()
        && path.extension().and_then(OsStr::to_str).is_some_and(|ext| {
            EXTENSIONS
                .iter()
                .any(|known| ext.eq_ignore_ascii_case(known))
        })
}

fn name(path: &Path) -> String {
    path.file_name().map_or_else(String::new, name_of)
}

fn name_of(name: &OsStr) -> String {
    name.to_string_lossy().into_owned()
}

/// Training and held-out pictures, with their labels.
type FileSplit = (Vec<(PathBuf, u16)>, Vec<(PathBuf, u16)>);

/// Split `files` into all but a tenth (rounded up) and that tenth, drawn with `seed`.
fn hold_out_tenth(files: Vec<(PathBuf, u16)>, seed: u64, dir: &Path) -> Result<FileSplit> {
    ensure!(
        files.len() >= 2,
        "{} holds {} picture: at least 2 are needed, one of them to hold out",
        dir.display(),
        files.len()
    );
    let held_out = files.len().div_ceil(10);
    let order = noise::permutation(files.len(), &mut noise::rng(seed));
    let mut is_held_out = vec![false; files.len()];
    for &index in &order[..held_out] {
        is_held_out[index] = true;
    }
    let (test, train): (Vec<_>, Vec<_>) = files
        .into_iter()
        .zip(is_held_out)
        .partition(|(_, held)| *held);
    let strip = |pairs: Vec<((PathBuf, u16), bool)>| pairs.into_iter().map(|(file, _)| file);
    Ok((strip(train).collect(), strip(test).collect()))
}

/// `files` in an order drawn with `seed`, so that the first images of a split (what `kiln eval`
/// compares with) are a sample of every class rather than the first class folder.
fn shuffled(files: Vec<(PathBuf, u16)>, seed: u64) -> Vec<(PathBuf, u16)> {
    let order = noise::permutation(files.len(), &mut noise::rng(seed));
    let mut files: Vec<Option<(PathBuf, u16)>> = files.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|index| files[index].take())
        .collect()
}

/// One picture at the data set's side, as 8-bit RGB.
struct Picture {
    /// `side × side × 3`, row-major.
    rgb: Vec<u8>,
    colour: bool,
    label: u16,
}

impl Picture {
    /// Append its channels, channels first: RGB, or one gray channel (Rec. 709 luma, as the
    /// `image` crate computes it).
    fn append_to(self, pixels: &mut Vec<u8>, channels: usize) {
        if channels == 1 {
            pixels.extend(self.rgb.chunks_exact(3).map(|rgb| {
                let [r, g, b] = [rgb[0], rgb[1], rgb[2]].map(f32::from);
                (0.2126 * r + 0.7152 * g + 0.0722 * b).round() as u8
            }));
        } else {
            for channel in 0..3 {
                pixels.extend(self.rgb.iter().skip(channel).step_by(3));
            }
        }
    }
}

/// Decodes pictures with a progress bar, counting those it leaves out.
struct Reader<'a> {
    options: &'a PictureOptions,
    bar: indicatif::ProgressBar,
    skipped: usize,
    first_skipped: Option<String>,
}

impl<'a> Reader<'a> {
    fn new(options: &'a PictureOptions, total: usize) -> Self {
        Self {
            options,
            bar: progress::bar(total as u64, "pictures".into()),
            skipped: 0,
            first_skipped: None,
        }
    }

    fn read_all(&mut self, files: Vec<(PathBuf, u16)>) -> Result<Vec<Picture>> {
        let mut pictures = Vec::with_capacity(files.len());
        for (path, label) in files {
            self.bar.inc(1);
            match read_picture(&path, self.options.side) {
                Ok((rgb, colour)) => pictures.push(Picture { rgb, colour, label }),
                Err(error) if self.options.skip_unreadable => {
                    self.skipped += 1;
                    self.first_skipped
                        .get_or_insert_with(|| format!("{}: {error:#}", path.display()));
                }
                Err(error) => {
                    self.bar.abandon();
                    return Err(error.context(format!(
                        "reading {} (pass --skip-unreadable to leave such files out)",
                        path.display()
                    )));
                }
            }
        }
        Ok(pictures)
    }

    fn finish(self) {
        self.bar.finish_and_clear();
        if let Some(first) = self.first_skipped {
            eprintln!(
                "left out {} unreadable pictures; the first: {first}",
                self.skipped
            );
        }
    }
}

/// The picture at `path` resized (its shorter side to `side`, with a triangle filter: bilinear
/// with antialiasing) and centre-cropped to `side × side`, transparent parts on black, as RGB;
/// and whether it has colour.
fn read_picture(path: &Path, side: usize) -> Result<(Vec<u8>, bool)> {
    let size = std::fs::metadata(path)?.len();
    ensure!(
        size <= MAX_DATA_BYTES as u64,
        "{size} bytes, above the limit of {MAX_DATA_BYTES} for a data file"
    );
    let mut reader = ImageReader::open(path)?.with_guessed_format()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PICTURE_SIDE);
    limits.max_image_height = Some(MAX_PICTURE_SIDE);
    reader.limits(limits);
    let picture = reader.decode()?;
    let gray_source = !picture.color().has_color();
    let side = side as u32;
    let rgba = picture
        .resize_to_fill(side, side, FilterType::Triangle)
        .into_rgba8();
    let rgb: Vec<u8> = rgba
        .pixels()
        .flat_map(|pixel| {
            let [r, g, b, a] = pixel.0;
            [r, g, b].map(|c| (u16::from(c) * u16::from(a) / 255) as u8)
        })
        .collect();
    let colour = !gray_source
        && rgb
            .chunks_exact(3)
            .any(|p| p[0].abs_diff(p[1]) > GRAY_TOLERANCE || p[1].abs_diff(p[2]) > GRAY_TOLERANCE);
    Ok((rgb, colour))
}

#[cfg(test)]
mod tests;
