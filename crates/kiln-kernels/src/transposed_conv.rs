//! A transposed convolution from one matrix product over the whole batch, channels last.
//!
//! With each input pixel's channels as a row of `pixels` (`[batch · height · width, channels_in]`)
//! and the weights as `taps` (`[channels_in, kernel_h · kernel_w · channels_out]`), the product
//! `pixels · taps` holds every tap of every pixel: a run of output channels that
//! [`TransposedConv::overlap_add`] adds to the output pixel the tap lands on.

/// The sizes of one transposed convolution (no groups, no dilation) on one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransposedConv {
    pub batch: usize,
    pub channels_in: usize,
    pub channels_out: usize,
    pub height: usize,
    pub width: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub padding_out: [usize; 2],
}

impl TransposedConv {
    /// The output's `[height, width]`: `(side − 1) · stride + kernel + padding_out − 2 · padding`,
    /// or `None` where that is not positive (or does not fit a `usize`).
    pub fn out_size(&self) -> Option<[usize; 2]> {
        let side = |axis: usize| {
            let input = [self.height, self.width][axis];
            input
                .checked_sub(1)?
                .checked_mul(self.stride[axis])?
                .checked_add(self.kernel[axis])?
                .checked_add(self.padding_out[axis])?
                .checked_sub(self.padding[axis].checked_mul(2)?)
                .filter(|&out| out > 0)
        };
        Some([side(0)?, side(1)?])
    }

    /// Where tap `k` along `axis` sends input position `i`: `i · stride + k − padding`, if that
    /// is inside the output of side `out`.
    fn lands(&self, axis: usize, i: usize, k: usize, out: usize) -> Option<usize> {
        (i * self.stride[axis] + k)
            .checked_sub(self.padding[axis])
            .filter(|&o| o < out)
    }

    /// The output, channels last (`[batch, out_height, out_width, channels_out]`), from the
    /// product `pixels · taps` (module docs): each tap of each input pixel adds its run of output
    /// channels to the output pixel it lands on, after the `bias`.
    ///
    /// # Panics
    /// If `columns` or `bias` do not have the sizes above, or the output would be empty (no
    /// output pixels, or no channels).
    pub fn overlap_add(&self, columns: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let [out_height, out_width] = self.out_size().expect("a non-empty output");
        let [kernel_h, kernel_w] = self.kernel;
        let run = self.channels_out;
        let pixel_taps = kernel_h * kernel_w * run;
        assert_eq!(
            columns.len(),
            self.batch * self.height * self.width * pixel_taps
        );

        let mut output = vec![0.0f32; self.batch * out_height * out_width * run];
        if let Some(bias) = bias {
            for pixel in output.chunks_exact_mut(run) {
                pixel.copy_from_slice(bias);
            }
        }
        let mut pixels = columns.chunks_exact(pixel_taps);
        for image in output.chunks_exact_mut(out_height * out_width * run) {
            for y in 0..self.height {
                for x in 0..self.width {
                    let taps = pixels.next().expect("a row of taps per pixel");
                    for (ky, row) in taps.chunks_exact(kernel_w * run).enumerate() {
                        let Some(out_y) = self.lands(0, y, ky, out_height) else {
                            continue;
                        };
                        for (kx, tap) in row.chunks_exact(run).enumerate() {
                            let Some(out_x) = self.lands(1, x, kx, out_width) else {
                                continue;
                            };
                            let at = (out_y * out_width + out_x) * run;
                            for (sum, value) in image[at..at + run].iter_mut().zip(tap) {
                                *sum += value;
                            }
                        }
                    }
                }
            }
        }
        output
    }
}

/// Each of `blocks` consecutive `rows × columns` matrices, transposed: channels first to
/// channels last (`[batch, channels, pixels]` → `[batch, pixels, channels]`) and back.
///
/// # Panics
/// If `values` does not hold `blocks · rows · columns` values.
pub fn transpose_blocks(values: &[f32], [blocks, rows, columns]: [usize; 3]) -> Vec<f32> {
    let block = rows * columns;
    assert_eq!(values.len(), blocks * block);
    if values.is_empty() {
        return Vec::new();
    }
    let mut transposed = vec![0.0; values.len()];
    for (from, to) in values
        .chunks_exact(block)
        .zip(transposed.chunks_exact_mut(block))
    {
        for (row, values) in from.chunks_exact(columns).enumerate() {
            for (column, &value) in values.iter().enumerate() {
                to[column * rows + row] = value;
            }
        }
    }
    transposed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_each_block() {
        let values: Vec<f32> = (0..12).map(|v| v as f32).collect();
        // Two 2 × 3 blocks.
        let transposed = transpose_blocks(&values, [2, 2, 3]);
        assert_eq!(
            transposed,
            [0., 3., 1., 4., 2., 5., 6., 9., 7., 10., 8., 11.]
        );
        assert_eq!(transpose_blocks(&transposed, [2, 3, 2]), values);
        assert_eq!(transpose_blocks(&[], [2, 0, 3]), Vec::<f32>::new());
    }

    /// One image of `height × width` pixels, one channel in and out.
    fn single(
        height: usize,
        width: usize,
        kernel: [usize; 2],
        stride: usize,
        padding: usize,
    ) -> TransposedConv {
        TransposedConv {
            batch: 1,
            channels_in: 1,
            channels_out: 1,
            height,
            width,
            kernel,
            stride: [stride; 2],
            padding: [padding; 2],
            padding_out: [0, 0],
        }
    }

    #[test]
    fn a_stride_two_kernel_spreads_one_pixel_over_its_taps() {
        // A 3 × 3 kernel, stride 2, padding 1, on one pixel: the output is 1 × 1 and only the
        // centre tap lands on it.
        let layer = single(1, 1, [3, 3], 2, 1);
        assert_eq!(layer.out_size(), Some([1, 1]));
        let taps: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        assert_eq!(layer.overlap_add(&taps, Some(&[0.5])), [5.5]);

        // Without padding: a 3 × 3 output, each tap on its own pixel.
        let unpadded = TransposedConv {
            padding: [0, 0],
            ..layer
        };
        assert_eq!(unpadded.overlap_add(&taps, None), taps);
    }

    #[test]
    fn overlapping_taps_add_up() {
        // Two pixels side by side, a 1 × 3 kernel, stride 1: the middle outputs get two taps.
        let columns = [1., 2., 3., 10., 20., 30.];
        assert_eq!(
            single(1, 2, [1, 3], 1, 0).overlap_add(&columns, None),
            [1., 12., 23., 30.]
        );
    }

    #[test]
    fn each_tap_adds_its_run_of_channels_after_the_bias() {
        // One pixel, a 1 × 2 kernel, two output channels: taps (kx, channel) in that order, the
        // output channels last.
        let layer = TransposedConv {
            channels_out: 2,
            ..single(1, 1, [1, 2], 1, 0)
        };
        let columns = [1., 2., 3., 4.];
        assert_eq!(
            layer.overlap_add(&columns, Some(&[10., 20.])),
            [11., 22., 13., 24.]
        );
        // Two images, one after the other.
        let two = TransposedConv { batch: 2, ..layer };
        let columns = [1., 2., 3., 4., 5., 6., 7., 8.];
        assert_eq!(two.overlap_add(&columns, None), columns);
    }

    #[test]
    fn sizes_that_leave_no_output_are_none() {
        let layer = single(1, 1, [2, 2], 1, 1);
        assert_eq!(layer.out_size(), None);
        assert_eq!(TransposedConv { height: 0, ..layer }.out_size(), None);
        let huge = TransposedConv {
            stride: [usize::MAX, 1],
            ..single(2, 1, [1, 1], 1, 0)
        };
        assert_eq!(huge.out_size(), None);
    }
}
