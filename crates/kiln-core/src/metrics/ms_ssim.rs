//! Multi-scale structural similarity (MS-SSIM; Wang, Simoncelli & Bovik 2003) and the measure of
//! sample diversity Odena et al. (2017, AC-GAN) built on it: the mean MS-SSIM between pairs of
//! images of one class, averaged over the classes. Identical pairs score 1; the lower, the more
//! diverse a model's images of a class are.
//!
//! Five scales with the original's weights, each one a 2×2 average of the one before. The
//! original's 11×11 Gaussian window (σ = 1.5) would need images of 176 pixels for five scales;
//! on small images the window shrinks to the side of each scale narrower than it (σ in
//! proportion), down to a single pixel, where only the luminance term compares anything. For
//! 28×28 digits the scales are 28, 14, 7, 3 and 1 pixels. Channels are compared one by one and
//! averaged. Negative contrast-structure terms (anti-correlated images) count as 0, as in
//! common implementations, so that their fractional powers stay real.

use crate::data::dataset::ImageShape;

/// The weights of the five scales, finest first (Wang et al. 2003).
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
/// Images of each class the diversity measure compares: all 190 pairs among 20. AC-GAN drew 100
/// random pairs per class.
pub const DIVERSITY_IMAGES_PER_CLASS: usize = 20;

/// Side of the Gaussian window at full size, and its σ.
const WINDOW: usize = 11;
const SIGMA: f64 = 1.5;
/// The stabilising constants for intensities in [0, 1]: (0.01 L)² and (0.03 L)² with L = 1.
const C1: f64 = 1e-4;
const C2: f64 = 9e-4;

/// MS-SSIM of two images of `shape` (channels first, intensities in [0, 1]).
///
/// # Panics
/// If either image does not have `shape`'s number of values.
pub fn ms_ssim(a: &[f32], b: &[f32], shape: ImageShape) -> f64 {
    assert_eq!(a.len(), shape.values(), "image a has the wrong size");
    assert_eq!(b.len(), shape.values(), "image b has the wrong size");
    let plane = shape.side * shape.side;
    let per_channel: f64 = (0..shape.channels)
        .map(|c| {
            let channel = |image: &[f32]| -> Vec<f64> {
                image[c * plane..(c + 1) * plane]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect()
            };
            ms_ssim_plane(channel(a), channel(b), shape.side)
        })
        .sum();
    per_channel / shape.channels as f64
}

fn ms_ssim_plane(mut a: Vec<f64>, mut b: Vec<f64>, mut side: usize) -> f64 {
    let mut similarity = 1.0;
    for (scale, &weight) in MS_SSIM_WEIGHTS.iter().enumerate() {
        let (ssim, contrast_structure) = ssim_terms(&a, &b, side);
        let last = scale + 1 == MS_SSIM_WEIGHTS.len();
        let term = if last { ssim } else { contrast_structure };
        similarity *= term.max(0.0).powf(weight);
        if !last && side > 1 {
            a = halve(&a, side);
            b = halve(&b, side);
            side /= 2;
        }
    }
    similarity
}

/// The mean over the window's positions of SSIM (luminance × contrast-structure) and of the
/// contrast-structure term alone.
fn ssim_terms(a: &[f64], b: &[f64], side: usize) -> (f64, f64) {
    let window = gaussian_window(WINDOW.min(side));
    let size = window.len();
    let positions = side - size + 1;
    let (mut ssim, mut contrast_structure) = (0.0, 0.0);
    for y in 0..positions {
        for x in 0..positions {
            let [mut ma, mut mb, mut aa, mut bb, mut ab] = [0.0; 5];
            for (wy, &gy) in window.iter().enumerate() {
                for (wx, &gx) in window.iter().enumerate() {
                    let index = (y + wy) * side + x + wx;
                    let (pa, pb, g) = (a[index], b[index], gy * gx);
                    ma += g * pa;
                    mb += g * pb;
                    aa += g * pa * pa;
                    bb += g * pb * pb;
                    ab += g * pa * pb;
                }
            }
            let (va, vb, cov) = (aa - ma * ma, bb - mb * mb, ab - ma * mb);
            let luminance = (2.0 * ma * mb + C1) / (ma * ma + mb * mb + C1);
            let cs = (2.0 * cov + C2) / (va + vb + C2);
            ssim += luminance * cs;
            contrast_structure += cs;
        }
    }
    let count = (positions * positions) as f64;
    (ssim / count, contrast_structure / count)
}

/// A normalised 1-D Gaussian of `size` taps, σ = 1.5 at 11 taps and in proportion below.
fn gaussian_window(size: usize) -> Vec<f64> {
    let sigma = SIGMA * size as f64 / WINDOW as f64;
    let centre = (size as f64 - 1.0) / 2.0;
    let taps: Vec<f64> = (0..size)
        .map(|i| (-(i as f64 - centre).powi(2) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = taps.iter().sum();
    taps.into_iter().map(|tap| tap / total).collect()
}

/// The 2×2 averages of a `side × side` plane (an odd last row and column are dropped).
fn halve(plane: &[f64], side: usize) -> Vec<f64> {
    let half = side / 2;
    let mut out = Vec::with_capacity(half * half);
    for y in 0..half {
        for x in 0..half {
            let at = |dy: usize, dx: usize| plane[(2 * y + dy) * side + 2 * x + dx];
            out.push((at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4.0);
        }
    }
    out
}

/// Up to [`DIVERSITY_IMAGES_PER_CLASS`] images of each class, kept to measure how alike they
/// are.
#[derive(Debug, Clone)]
pub struct ClassSamples {
    shape: ImageShape,
    by_class: Vec<Vec<Vec<f32>>>,
}

impl ClassSamples {
    pub fn new(shape: ImageShape, classes: usize) -> Self {
        Self {
            shape,
            by_class: vec![Vec::new(); classes],
        }
    }

    /// Keep the images of `images` (one after the other, each of the shape's size) whose class
    /// in `classes` still has room.
    ///
    /// # Panics
    /// If the two disagree on the number of images, or a class is out of range.
    pub fn add(&mut self, images: &[f32], classes: &[usize]) {
        let values = self.shape.values();
        assert_eq!(images.len(), classes.len() * values, "one class per image");
        for (image, &class) in images.chunks_exact(values).zip(classes) {
            let kept = &mut self.by_class[class];
            if kept.len() < DIVERSITY_IMAGES_PER_CLASS {
                kept.push(image.to_vec());
            }
        }
    }

    /// The mean over classes of the mean MS-SSIM of all pairs of a class's images, over the
    /// classes with at least two; `None` if none has.
    pub fn mean_intra_class_ms_ssim(&self) -> Option<f64> {
        let per_class: Vec<f64> = self
            .by_class
            .iter()
            .filter(|images| images.len() >= 2)
            .map(|images| {
                let mut total = 0.0;
                let mut pairs = 0;
                for (i, a) in images.iter().enumerate() {
                    for b in &images[i + 1..] {
                        total += ms_ssim(a, b, self.shape);
                        pairs += 1;
                    }
                }
                total / f64::from(pairs)
            })
            .collect();
        (!per_class.is_empty()).then(|| per_class.iter().sum::<f64>() / per_class.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise;

    const DIGIT: ImageShape = ImageShape::MNIST;

    fn uniform(seed: u64, shape: ImageShape) -> Vec<f32> {
        noise::uniform_values(seed, shape.values())
    }

    #[test]
    fn identical_images_score_one() {
        for shape in [
            DIGIT,
            ImageShape {
                channels: 3,
                side: 32,
            },
            ImageShape {
                channels: 1,
                side: 64,
            },
        ] {
            let image = uniform(1, shape);
            assert!(
                (ms_ssim(&image, &image, shape) - 1.0).abs() < 1e-12,
                "{shape}"
            );
        }
    }

    /// Flat images have no contrast or structure: every contrast-structure term is 1, and only
    /// the luminance of the last scale, (2ab + C1) / (a² + b² + C1), weighs in, to its weight.
    #[test]
    fn flat_images_differ_only_in_luminance() {
        let (a, b) = (0.2f32, 0.6f32);
        let flat = |level| vec![level; DIGIT.values()];
        let (a64, b64) = (f64::from(a), f64::from(b));
        let luminance = (2.0 * a64 * b64 + C1) / (a64 * a64 + b64 * b64 + C1);
        let expected = luminance.powf(MS_SSIM_WEIGHTS[4]);
        let measured = ms_ssim(&flat(a), &flat(b), DIGIT);
        assert!(
            (measured - expected).abs() < 1e-6,
            "{measured} vs {expected}"
        );
    }

    #[test]
    fn unrelated_noise_is_far_less_alike_than_a_slightly_noisy_copy() {
        let image = uniform(1, DIGIT);
        let other = uniform(2, DIGIT);
        let nudged: Vec<f32> = image
            .iter()
            .zip(uniform(3, DIGIT))
            .map(|(&p, n)| (p + 0.05 * (n - 0.5)).clamp(0.0, 1.0))
            .collect();
        let unrelated = ms_ssim(&image, &other, DIGIT);
        let close = ms_ssim(&image, &nudged, DIGIT);
        assert!(unrelated < 0.5 && close > 0.95, "{unrelated} {close}");
        assert!(
            (unrelated - ms_ssim(&other, &image, DIGIT)).abs() < 1e-12,
            "symmetric"
        );
    }

    #[test]
    fn diversity_averages_the_classes_with_pairs() {
        let mut samples = ClassSamples::new(DIGIT, 3);
        let same = uniform(4, DIGIT);
        // Class 0: three identical images (1); class 1: unrelated noise; class 2: one image.
        let mut images = [same.clone(), same.clone(), same].concat();
        for seed in 10..13 {
            images.extend(uniform(seed, DIGIT));
        }
        images.extend(uniform(20, DIGIT));
        samples.add(&images, &[0, 0, 0, 1, 1, 1, 2]);
        let noise_pairs = [(10, 11), (10, 12), (11, 12)]
            .map(|(a, b)| ms_ssim(&uniform(a, DIGIT), &uniform(b, DIGIT), DIGIT));
        let expected = (1.0 + noise_pairs.iter().sum::<f64>() / 3.0) / 2.0;
        let measured = samples.mean_intra_class_ms_ssim().unwrap();
        assert!(
            (measured - expected).abs() < 1e-12,
            "{measured} vs {expected}"
        );
        assert_eq!(ClassSamples::new(DIGIT, 2).mean_intra_class_ms_ssim(), None);
    }
}
