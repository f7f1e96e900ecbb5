//! Small random changes to an image that keep it the same thing drawn the same way, so that a
//! handful of a visitor's examples teach a style rather than a few exact images: a shift, a
//! rotation, a change of size, and a stroke one pixel thicker or thinner. Done on the host, so
//! a seed means the same training batches on every backend.

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;

use crate::data::dataset::ImageShape;

/// The side the shifts are given at: MNIST's.
const REFERENCE_SIDE: f32 = 28.0;

/// The ranges each change is drawn from (uniformly, in both directions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augmentation {
    /// Pixels of a 28×28 image, horizontally and vertically (scaled with the side).
    pub max_shift: f32,
    /// Degrees.
    pub max_rotation: f32,
    /// Relative change of size.
    pub max_scale: f32,
    /// Chance that the stroke is thickened, and the same chance that it is thinned.
    pub stroke_change: f32,
}

impl Default for Augmentation {
    /// Within what MNIST itself varies by after its normalisation.
    fn default() -> Self {
        Self {
            max_shift: 2.0,
            max_rotation: 12.0,
            max_scale: 0.1,
            stroke_change: 0.2,
        }
    }
}

impl Augmentation {
    /// A changed copy of `image` (of `shape`, intensities in `[0, 1]`, channel by channel and
    /// row by row): every channel moves alike.
    pub fn apply(
        &self,
        image: &[f32],
        shape: ImageShape,
        rng: &mut Xoshiro256PlusPlus,
    ) -> Vec<f32> {
        let mut symmetric = |max: f32| rng.random_range(-1.0f32..=1.0) * max;
        let angle = symmetric(self.max_rotation).to_radians();
        let scale = 1.0 + symmetric(self.max_scale);
        let max_shift = self.max_shift * shape.side as f32 / REFERENCE_SIDE;
        let shift = [symmetric(max_shift), symmetric(max_shift)];
        let stroke: f32 = rng.random_range(0.0..1.0);
        let side = shape.side;
        image
            .chunks(side * side)
            .flat_map(|channel| {
                let moved = affine(channel, side, angle, scale, shift);
                if stroke < self.stroke_change {
                    morph(&moved, side, f32::max)
                } else if stroke < 2.0 * self.stroke_change {
                    morph(&moved, side, f32::min)
                } else {
                    moved
                }
            })
            .collect()
    }
}

/// `channel` (`side`×`side`) rotated by `angle` (radians) and scaled by `scale` about the image
/// centre, then shifted by `shift` pixels (x right, y down); bilinear, black outside.
fn affine(channel: &[f32], side: usize, angle: f32, scale: f32, shift: [f32; 2]) -> Vec<f32> {
    let centre = (side as f32 - 1.0) / 2.0;
    let (sin, cos) = angle.sin_cos();
    let pixel = |x: i64, y: i64| -> f32 {
        if (0..side as i64).contains(&x) && (0..side as i64).contains(&y) {
            channel[y as usize * side + x as usize]
        } else {
            0.0
        }
    };
    let mut out = Vec::with_capacity(channel.len());
    for row in 0..side {
        for column in 0..side {
            // Where this output pixel comes from: the inverse of shift ∘ scale ∘ rotation.
            let dx = (column as f32 - centre - shift[0]) / scale;
            let dy = (row as f32 - centre - shift[1]) / scale;
            let x = cos * dx + sin * dy + centre;
            let y = -sin * dx + cos * dy + centre;
            let (x0, y0) = (x.floor(), y.floor());
            let (fx, fy) = (x - x0, y - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let value = pixel(x0, y0) * (1.0 - fx) * (1.0 - fy)
                + pixel(x0 + 1, y0) * fx * (1.0 - fy)
                + pixel(x0, y0 + 1) * (1.0 - fx) * fy
                + pixel(x0 + 1, y0 + 1) * fx * fy;
            out.push(value.clamp(0.0, 1.0));
        }
    }
    out
}

/// Each pixel of `channel` (`side`×`side`) combined with its four neighbours by `pick`: `max`
/// thickens a stroke by a pixel, `min` thins it (outside the image counts as black).
fn morph(channel: &[f32], side: usize, pick: fn(f32, f32) -> f32) -> Vec<f32> {
    let side = side as i64;
    let at = |x: i64, y: i64| {
        if (0..side).contains(&x) && (0..side).contains(&y) {
            channel[(y * side + x) as usize]
        } else {
            0.0
        }
    };
    (0..side)
        .flat_map(|y| (0..side).map(move |x| (x, y)))
        .map(|(x, y)| {
            [(1, 0), (-1, 0), (0, 1), (0, -1)]
                .iter()
                .fold(at(x, y), |value, (dx, dy)| pick(value, at(x + dx, y + dy)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mnist::{IMAGE_PIXELS, IMAGE_SIDE};
    use crate::noise;

    /// A 2-pixel-wide vertical bar through the middle, rows 6–21.
    fn bar() -> Vec<f32> {
        let mut digit = vec![0.0; IMAGE_PIXELS];
        for row in 6..22 {
            digit[row * IMAGE_SIDE + 13] = 1.0;
            digit[row * IMAGE_SIDE + 14] = 1.0;
        }
        digit
    }

    fn ink(digit: &[f32]) -> f32 {
        digit.iter().sum()
    }

    /// Mean column of the ink.
    fn centre_x(digit: &[f32]) -> f32 {
        let weighted: f32 = digit
            .iter()
            .enumerate()
            .map(|(i, v)| v * (i % IMAGE_SIDE) as f32)
            .sum();
        weighted / ink(digit)
    }

    #[test]
    fn no_change_is_the_identity_and_a_shift_moves_the_ink() {
        let digit = bar();
        assert_eq!(affine(&digit, IMAGE_SIDE, 0.0, 1.0, [0.0, 0.0]), digit);
        let moved = affine(&digit, IMAGE_SIDE, 0.0, 1.0, [2.0, 0.0]);
        assert!((centre_x(&moved) - centre_x(&digit) - 2.0).abs() < 1e-4);
        assert!((ink(&moved) - ink(&digit)).abs() < 1e-3);
        // A quarter turn lays the vertical bar down: its ink spreads over columns 6–21.
        let turned = affine(
            &digit,
            IMAGE_SIDE,
            std::f32::consts::FRAC_PI_2,
            1.0,
            [0.0, 0.0],
        );
        let columns: Vec<usize> = (0..IMAGE_PIXELS)
            .filter(|&i| turned[i] > 0.5)
            .map(|i| i % IMAGE_SIDE)
            .collect();
        assert_eq!(columns.iter().min(), Some(&6));
        assert_eq!(columns.iter().max(), Some(&21));
    }

    #[test]
    fn strokes_thicken_and_thin() {
        let digit = bar();
        assert!(ink(&morph(&digit, IMAGE_SIDE, f32::max)) > ink(&digit) * 1.8);
        // Two pixels wide: thinning by a pixel on each side leaves nothing.
        assert_eq!(ink(&morph(&digit, IMAGE_SIDE, f32::min)), 0.0);
    }

    #[test]
    fn augmented_digits_stay_digits_and_follow_the_seed() {
        let digit = bar();
        let augmentation = Augmentation::default();
        let draw = |seed| augmentation.apply(&digit, ImageShape::MNIST, &mut noise::rng(seed));
        for seed in 0..20 {
            let changed = draw(seed);
            assert!(changed.iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(ink(&changed) > 0.0, "seed {seed}");
            assert!(
                (centre_x(&changed) - centre_x(&digit)).abs() <= 2.5,
                "seed {seed}"
            );
        }
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }

    #[test]
    fn every_channel_of_a_colour_image_moves_alike() {
        let shape = ImageShape {
            channels: 3,
            side: 32,
        };
        // The same square in each channel, at three brightnesses.
        let plane: Vec<f32> = (0..32 * 32)
            .map(|i| {
                if (10..22).contains(&(i % 32)) && (10..22).contains(&(i / 32)) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let image: Vec<f32> = [1.0, 0.5, 0.25]
            .iter()
            .flat_map(|level| plane.iter().map(move |v| v * level))
            .collect();
        let augmentation = Augmentation {
            stroke_change: 0.0,
            ..Augmentation::default()
        };
        for seed in 0..5 {
            let changed = augmentation.apply(&image, shape, &mut noise::rng(seed));
            assert_eq!(changed.len(), image.len());
            let [red, green, blue] = [0, 1, 2].map(|c| &changed[c * 1024..(c + 1) * 1024]);
            for i in 0..1024 {
                assert!(
                    (red[i] * 0.5 - green[i]).abs() < 1e-5,
                    "seed {seed}, pixel {i}"
                );
                assert!(
                    (red[i] * 0.25 - blue[i]).abs() < 1e-5,
                    "seed {seed}, pixel {i}"
                );
            }
        }
    }
}
