//! The decoders' upsampling on the CPU: a transposed convolution as one matrix product over the
//! whole batch, where burn-flex's image-by-image form is slow.
//!
//! burn-flex multiplies image by image, `[channels_out · kernel, channels_in]` weights by an
//! image's `[channels_in, pixels]`, packing the weights afresh for each image, then scatters the
//! result checking every index. Where the weights have many more rows than an image has pixels
//! (a decoder's first upsampling: 512 rows, 49 pixels) that is slow: at 16 digits the packing and
//! the scatter took a fifth of the VAE's call. Here every pixel of the batch is one row of a single
//! product with the weights, and kiln-kernels adds each tap's channels where it lands. Everywhere
//! else (WebGPU, autodiff while training, wide images, grouped or dilated layers) the layer runs
//! as burn's.

use burn::nn::conv::ConvTranspose2d;
use burn::tensor::{DType, Device, Tensor, TensorData};
use kiln_kernels::transposed_conv::{TransposedConv, transpose_blocks};

/// The one product pays where the weights have at least this many rows (`channels_out · kernel`)
/// per input pixel. Measured on wasm (BENCHMARKS.md, "One product over the batch"): 512 rows
/// against 49 or 64 pixels 1.10-1.19× as fast as burn's, against 100 pixels 1.08×, against 196
/// 1.01×; 256 rows against 49 pixels 0.95×, 128 against 49 0.40×.
const ROWS_PER_PIXEL: usize = 8;

/// `layer.forward(x)`, as one product over the batch where that is faster (module docs).
///
/// # Shapes
/// - x: `[batch, channels_in, height, width]`
/// - output: `[batch, channels_out, out_height, out_width]`
pub fn forward(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let weight = layer.weight.val();
    let Some(shape) = one_product(layer, &x, &weight) else {
        return layer.forward(x);
    };
    let device = x.device();
    let columns = every_tap(&shape, x, weight);
    let bias = layer.bias.as_ref().map(|bias| bias.val().into_data());
    let output = shape.overlap_add(&columns, bias.as_ref().map(floats));

    let [out_height, out_width] = shape.out_size().expect("checked by one_product");
    let channels = shape.channels_out;
    let output = transpose_blocks(&output, [shape.batch, out_height * out_width, channels]);
    let output = TensorData::new(output, [shape.batch, channels, out_height, out_width]);
    Tensor::from_data(output, &device)
}

/// `[batch · height · width, kernel · channels_out]`: every tap of every input pixel, from one
/// product of the pixels, channels last, with the weights.
fn every_tap(shape: &TransposedConv, x: Tensor<4>, weight: Tensor<4>) -> Vec<f32> {
    let device = x.device();
    let TransposedConv {
        batch,
        channels_in,
        channels_out,
        height,
        width,
        kernel,
        ..
    } = *shape;
    let kernel = kernel[0] * kernel[1];
    let pixels = transpose_blocks(floats(&x.into_data()), [batch, channels_in, height * width]);
    let weights = transpose_blocks(
        floats(&weight.into_data()),
        [channels_in, channels_out, kernel],
    );
    let sizes = [batch * height * width, channels_in, kernel * channels_out];
    multiply(pixels, weights, sizes, &device)
}

/// `lhs · rhs` (row-major, `[rows, depth]` by `[depth, columns]`) on wasm: kiln-kernels'
/// product, 1.2-1.3× as fast as gemm's there from 16 images up, with the same sums.
#[cfg(target_arch = "wasm32")]
fn multiply(lhs: Vec<f32>, rhs: Vec<f32>, sizes: [usize; 3], _device: &Device) -> Vec<f32> {
    kiln_kernels::product::multiply(&lhs, &rhs, sizes)
}

/// `lhs · rhs` natively: burn's, whose gemm has the machine's widest vectors and its threads.
#[cfg(not(target_arch = "wasm32"))]
fn multiply(
    lhs: Vec<f32>,
    rhs: Vec<f32>,
    [rows, depth, columns]: [usize; 3],
    device: &Device,
) -> Vec<f32> {
    let matrix = |values, shape| Tensor::<2>::from_data(TensorData::new(values, shape), device);
    let product = matrix(lhs, [rows, depth]).matmul(matrix(rhs, [depth, columns]));
    product
        .into_data()
        .try_into_vec()
        .expect("a float32 product")
}

/// The layer's sizes on `x`, where the one product applies and pays: float32 input, weights and
/// bias on the flex device without autodiff, no groups or dilation, weights of at least
/// [`ROWS_PER_PIXEL`] rows per pixel.
fn one_product(
    layer: &ConvTranspose2d,
    x: &Tensor<4>,
    weight: &Tensor<4>,
) -> Option<TransposedConv> {
    let plain_cpu = |device: Device| device == Device::flex() && !device.is_autodiff();
    let float32 = |tensor: &Tensor<4>| tensor.dtype() == DType::F32;
    let bias_float32 = layer
        .bias
        .as_ref()
        .is_none_or(|bias| bias.val().dtype() == DType::F32);
    let applies = plain_cpu(x.device())
        && plain_cpu(weight.device())
        && float32(x)
        && float32(weight)
        && bias_float32
        && layer.groups == 1
        && layer.dilation == [1, 1];
    let [batch, channels_in, height, width] = x.dims();
    let [weight_in, channels_out, kernel_h, kernel_w] = weight.dims();
    let shape = TransposedConv {
        batch,
        channels_in,
        channels_out,
        height,
        width,
        kernel: [kernel_h, kernel_w],
        stride: layer.stride,
        padding: layer.padding,
        padding_out: layer.padding_out,
    };
    let pays = channels_out * kernel_h * kernel_w >= ROWS_PER_PIXEL.saturating_mul(height * width);
    (applies
        && pays
        && weight_in == channels_in
        && batch * channels_in > 0
        && shape.out_size().is_some())
    .then_some(shape)
}

/// The values of a float32 tensor ([`one_product`] checked the type).
fn floats(data: &TensorData) -> &[f32] {
    data.as_slice().expect("a float32 tensor")
}

#[cfg(test)]
mod tests {
    use burn::nn::conv::ConvTranspose2dConfig;
    use burn::tensor::{Distribution, Tolerance};

    use super::*;
    use crate::models::layers::doubling_deconv;

    /// `forward` against burn's layer, where `forward` takes the one product.
    fn assert_matches_burn(layer: &ConvTranspose2d, input: [usize; 4]) {
        let device = Device::flex();
        let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), &device);
        assert!(
            one_product(layer, &x, &layer.weight.val()).is_some(),
            "{input:?}"
        );
        let ours = forward(layer, x.clone());
        let burns = layer.forward(x);
        assert_eq!(ours.dims(), burns.dims());
        ours.into_data()
            .assert_approx_eq::<f32>(&burns.into_data(), Tolerance::absolute(1e-5));
    }

    #[test]
    fn a_decoders_first_upsampling_matches_burn_at_every_batch_size() {
        let device = Device::flex();
        device.seed(7);
        let layer = doubling_deconv(64, 32, &device);
        for batch in [1, 2, 5] {
            assert_matches_burn(&layer, [batch, 64, 7, 7]);
        }
    }

    #[test]
    fn other_kernels_strides_and_paddings_match_burn() {
        let device = Device::flex();
        device.seed(8);
        for (kernel, stride, padding, padding_out) in [
            ([3, 3], [1, 1], [0, 0], [0, 0]),
            ([3, 5], [2, 3], [1, 2], [1, 0]),
            ([2, 2], [2, 2], [0, 0], [0, 0]),
            ([5, 4], [3, 2], [4, 3], [2, 1]),
        ] {
            let layer = ConvTranspose2dConfig::new([3, 12], kernel)
                .with_stride(stride)
                .with_padding(padding)
                .with_padding_out(padding_out)
                .init(&device);
            assert_matches_burn(&layer, [2, 3, 2, 3]);
        }
        let no_bias = ConvTranspose2dConfig::new([3, 8], [4, 4])
            .with_bias(false)
            .init(&device);
        assert_matches_burn(&no_bias, [2, 3, 3, 3]);
    }

    #[test]
    fn each_image_comes_out_as_if_decoded_alone() {
        let device = Device::flex();
        device.seed(9);
        let layer = doubling_deconv(16, 8, &device);
        let x = Tensor::<4>::random([5, 16, 4, 4], Distribution::Normal(0.0, 1.0), &device);
        assert!(one_product(&layer, &x, &layer.weight.val()).is_some());
        let together = forward(&layer, x.clone());
        for image in 0..5 {
            let alone = forward(&layer, x.clone().narrow(0, image, 1));
            assert_eq!(
                together.clone().narrow(0, image, 1).into_data(),
                alone.into_data(),
                "image {image}"
            );
        }
    }

    #[test]
    fn burns_layer_runs_where_one_product_would_not_pay_or_apply() {
        let device = Device::flex();
        // 16 rows of weights against 196 pixels: a decoder's last upsampling.
        let last = doubling_deconv(32, 1, &device);
        let x = Tensor::<4>::zeros([2, 32, 14, 14], &device);
        assert!(one_product(&last, &x, &last.weight.val()).is_none());
        let grouped = ConvTranspose2dConfig::new([4, 8], [4, 4])
            .with_groups(2)
            .init(&device);
        let x = Tensor::<4>::zeros([2, 4, 2, 2], &device);
        assert!(one_product(&grouped, &x, &grouped.weight.val()).is_none());
        // A weight file may hold a half-precision bias: burn's layer reads it, the product not.
        let mut half_bias = doubling_deconv(4, 8, &device);
        half_bias.bias = half_bias
            .bias
            .map(|bias| bias.map(|bias| bias.cast(DType::F16)));
        assert!(one_product(&half_bias, &x, &half_bias.weight.val()).is_none());
        assert_eq!(
            forward(&grouped, x.clone()).into_data(),
            grouped.forward(x).into_data()
        );
    }

    #[test]
    fn autodiff_keeps_burns_layer_and_its_gradients() {
        let device = Device::flex().autodiff();
        let layer = doubling_deconv(2, 16, &device);
        let x = Tensor::<4>::ones([1, 2, 2, 2], &device).require_grad();
        assert!(one_product(&layer, &x, &layer.weight.val()).is_none());
        let grads = forward(&layer, x.clone()).sum().backward();
        assert!(x.grad(&grads).is_some());
        assert!(layer.weight.grad(&grads).is_some());
    }
}
