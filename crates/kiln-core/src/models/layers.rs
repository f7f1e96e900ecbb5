//! The convolutional encoder and decoder that Kiln's autoencoders share: image → feature vector
//! and feature vector → image logits, two resolution stages each.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::limits::{MAX_IMAGE_SIDE, MAX_WIDTH, check_sizes};
use crate::models::transposed_conv;

/// Two stride-2 stages quarter the image side.
pub const DOWNSAMPLING: usize = 4;

/// Shape of a [`ConvEncoder`] / [`ConvDecoder`] pair.
#[derive(Config, Debug, PartialEq)]
pub struct ConvStackConfig {
    /// Side of the square images; a positive multiple of [`DOWNSAMPLING`].
    pub image_size: usize,
    /// Image channels (1 for grayscale digits).
    pub channels: usize,
    /// Channels of the first conv stage; the second has twice as many.
    pub base_channels: usize,
    /// Width of the dense layer between the conv stages and the code.
    pub hidden: usize,
}

impl ConvStackConfig {
    /// Check the invariants `init_*` rely on, naming the offending values.
    pub fn validate(&self) -> Result<(), String> {
        check_sizes(&[
            ("image_size", self.image_size, MAX_IMAGE_SIDE),
            ("channels", self.channels, MAX_WIDTH),
            ("base_channels", self.base_channels, MAX_WIDTH),
            ("hidden", self.hidden, MAX_WIDTH),
        ])?;
        multiple_of("image_size", self.image_size, DOWNSAMPLING)
    }

    fn feature_side(&self) -> usize {
        self.image_size / DOWNSAMPLING
    }

    fn feature_len(&self) -> usize {
        2 * self.base_channels * self.feature_side().pow(2)
    }

    pub fn init_encoder(&self, device: &Device) -> ConvEncoder {
        let [c, c1, c2] = [self.channels, self.base_channels, 2 * self.base_channels];
        ConvEncoder {
            conv1: halving_conv(c, c1, device),
            conv2: halving_conv(c1, c2, device),
            hidden: LinearConfig::new(self.feature_len(), self.hidden).init(device),
        }
    }

    /// A decoder from codes of `code_dim` values.
    pub fn init_decoder(&self, code_dim: usize, device: &Device) -> ConvDecoder {
        let [c, c1, c2] = [self.channels, self.base_channels, 2 * self.base_channels];
        ConvDecoder {
            hidden: LinearConfig::new(code_dim, self.hidden).init(device),
            features: LinearConfig::new(self.hidden, self.feature_len()).init(device),
            deconv1: doubling_deconv(c2, c1, device),
            deconv2: doubling_deconv(c1, c, device),
            feature_channels: c2,
            feature_side: self.feature_side(),
        }
    }
}

/// `Err` unless `value` (named `name`) is a multiple of `factor`.
pub fn multiple_of(name: &str, value: usize, factor: usize) -> Result<(), String> {
    if value.is_multiple_of(factor) {
        Ok(())
    } else {
        Err(format!("{name} {value} must be a multiple of {factor}"))
    }
}

/// k4 s2 p1: halves the side exactly.
pub fn halving_conv(from: usize, to: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [4, 4])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// The transpose of [`halving_conv`]: doubles the side exactly.
pub fn doubling_deconv(from: usize, to: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([from, to], [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .init(device)
}

/// Image → features: two halving convolutions and a dense layer, ReLU after each.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    conv1: Conv2d,
    conv2: Conv2d,
    hidden: Linear,
}

impl ConvEncoder {
    /// # Shapes
    /// - images: `[batch, channels, side, side]`
    /// - output: `[batch, hidden]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = relu(self.conv1.forward(images)); // (B, c1, side/2, side/2)
        let x = relu(self.conv2.forward(x)); // (B, c2, side/4, side/4)
        relu(self.hidden.forward(x.flatten::<2>(1, 3)))
    }
}

/// Code → image logits: the mirror of [`ConvEncoder`].
#[derive(Module, Debug)]
pub struct ConvDecoder {
    hidden: Linear,
    features: Linear,
    deconv1: ConvTranspose2d,
    deconv2: ConvTranspose2d,
    feature_channels: usize,
    feature_side: usize,
}

impl ConvDecoder {
    /// # Shapes
    /// - codes: `[batch, code_dim]`
    /// - output: `[batch, channels, side, side]` (logits; no final activation)
    pub fn forward(&self, codes: Tensor<2>) -> Tensor<4> {
        let [batch, _] = codes.dims();
        let x = relu(self.hidden.forward(codes)); // (B, hidden)
        let x = relu(self.features.forward(x)); // (B, c2·s·s)
        let s = self.feature_side;
        let x = x.reshape([batch, self.feature_channels, s, s]); // (B, c2, side/4, side/4)
        let x = relu(transposed_conv::forward(&self.deconv1, x)); // (B, c1, side/2, side/2)
        transposed_conv::forward(&self.deconv2, x)
    }
}
