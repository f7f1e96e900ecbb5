//! The ε-prediction network: a small UNet (Ronneberger et al. 2015, in the form of Ho et al.
//! 2020) over three scales (28×28 → 14×14 → 7×7 for digits) and back, told the timestep by a
//! sinusoidal embedding and the class by a learned one.

use burn::config::Config;
use burn::module::Module;
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d};
use burn::nn::{
    Embedding, EmbeddingConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::data::dataset::ImageShape;
use crate::limits::{MAX_IMAGE_SIDE, MAX_SYMBOLS, MAX_WIDTH, check_sizes};
use crate::models::layers::{DOWNSAMPLING, doubling_deconv, multiple_of};
use crate::models::transposed_conv;

/// Groups of every group norm; channel counts are multiples of it.
const NORM_GROUPS: usize = 8;
/// Heads of the 7×7 self-attention.
const ATTENTION_HEADS: usize = 4;
/// Longest period of the sinusoidal timestep embedding (Vaswani et al. 2017).
const MAX_PERIOD: f64 = 10_000.0;

/// Shape of the [`Unet`].
#[derive(Config, Debug, PartialEq)]
pub struct UnetConfig {
    /// Channels at full size; half size has twice and quarter size four times as many. A
    /// multiple of 8.
    #[config(default = 16)]
    pub base_channels: usize,
    /// Classes; one more embedding stands for "no class" (classifier-free guidance).
    #[config(default = 10)]
    pub num_classes: usize,
    /// The images it denoises; `None` (specs written before Kiln read picture folders): 28×28
    /// grayscale.
    #[config(default = "None")]
    pub image: Option<ImageShape>,
    /// Self-attention between the 7×7 positions in the middle of the network.
    #[config(default = true)]
    pub attention: bool,
}

impl UnetConfig {
    pub fn validate(&self) -> Result<(), String> {
        check_sizes(&[
            ("base_channels", self.base_channels, MAX_WIDTH),
            ("num_classes", self.num_classes, MAX_SYMBOLS),
            ("image side", self.image_shape().side, MAX_IMAGE_SIDE),
            ("image channels", self.image_shape().channels, MAX_WIDTH),
        ])?;
        multiple_of("base_channels", self.base_channels, NORM_GROUPS)?;
        multiple_of("image side", self.image_shape().side, DOWNSAMPLING)
    }

    pub fn image_shape(&self) -> ImageShape {
        self.image.unwrap_or(ImageShape::MNIST)
    }

    /// Width of the timestep-and-class embedding.
    fn embedding_dim(&self) -> usize {
        4 * self.base_channels
    }

    /// # Panics
    /// If the config is invalid (see [`UnetConfig::validate`]).
    pub fn init(&self, device: &Device) -> Unet {
        if let Err(why) = self.validate() {
            panic!("invalid UnetConfig: {why}");
        }
        let [c0, c1, c2] = [1, 2, 4].map(|m| m * self.base_channels);
        let e = self.embedding_dim();
        let block = |from, to| ResidualBlock::new(from, to, e, device);
        Unet {
            time_hidden: LinearConfig::new(e, e).init(device),
            time_out: LinearConfig::new(e, e).init(device),
            class_embedding: EmbeddingConfig::new(self.num_classes + 1, e).init(device),
            stem: conv3(self.image_shape().channels, c0, 1, device),
            down0: block(c0, c0),
            downsample0: conv3(c0, c0, 2, device),
            down1: block(c0, c1),
            downsample1: conv3(c1, c1, 2, device),
            down2: block(c1, c2),
            middle0: block(c2, c2),
            attention: self.attention.then(|| SelfAttention::new(c2, device)),
            middle1: block(c2, c2),
            up2: block(2 * c2, c2),
            upsample2: doubling_deconv(c2, c1, device),
            up1: block(2 * c1, c1),
            upsample1: doubling_deconv(c1, c0, device),
            up0: block(2 * c0, c0),
            out_norm: GroupNormConfig::new(NORM_GROUPS, c0).init(device),
            out: conv3(c0, self.image_shape().channels, 1, device),
            embedding_dim: e,
            num_classes: self.num_classes,
            image_channels: self.image_shape().channels,
            image_side: self.image_shape().side,
        }
    }
}

/// 3×3 convolution with "same" padding; stride 2 halves the side (28 → 14 → 7).
fn conv3(from: usize, to: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// ε_θ(x_t, t, y).
#[derive(Module, Debug)]
pub struct Unet {
    time_hidden: Linear,
    time_out: Linear,
    class_embedding: Embedding,
    stem: Conv2d,
    down0: ResidualBlock,
    downsample0: Conv2d,
    down1: ResidualBlock,
    downsample1: Conv2d,
    down2: ResidualBlock,
    middle0: ResidualBlock,
    attention: Option<SelfAttention>,
    middle1: ResidualBlock,
    up2: ResidualBlock,
    upsample2: ConvTranspose2d,
    up1: ResidualBlock,
    upsample1: ConvTranspose2d,
    up0: ResidualBlock,
    out_norm: GroupNorm,
    out: Conv2d,
    embedding_dim: usize,
    num_classes: usize,
    image_channels: usize,
    image_side: usize,
}

impl Unet {
    /// The noise predicted in each image, or in each of `copies` readings of each image (under
    /// as many labels: classifier-free guidance reads every image with its label and with "no
    /// class"). The layers before the first embedding see only the image, so they run once per
    /// image however many copies there are.
    ///
    /// # Shapes
    /// - noisy: `[images, channels, side, side]`, scaled like the training data (x₀ in `[-1, 1]`)
    /// - timesteps: `batch = copies · images` values; labels: `[batch]`, [`Unet::null_class`]
    ///   for "no class"; copy k of image i is entry `k · images + i`
    /// - output: `[batch, channels, side, side]`; the comments below give the sides of 28×28
    ///   digits
    ///
    /// # Panics
    /// If there are no images, or `batch` is not a multiple of their number.
    pub fn forward(
        &self,
        noisy: Tensor<4>,
        timesteps: &[usize],
        labels: Tensor<1, Int>,
    ) -> Tensor<4> {
        let [images, ..] = noisy.dims();
        let batch = timesteps.len();
        assert!(
            images > 0 && batch.is_multiple_of(images),
            "{batch} timesteps for {images} images"
        );
        let copies = |x: Tensor<4>| match batch / images {
            1 => x,
            n => Tensor::cat(vec![x; n], 0),
        };
        let device = noisy.device();
        let time = sinusoidal_embedding(timesteps, self.embedding_dim, &device); // (B, e)
        let time = self.time_out.forward(silu(self.time_hidden.forward(time)));
        let class = self
            .class_embedding
            .forward(labels.reshape([batch, 1]))
            .flatten::<2>(1, 2); // (B, e)
        let emb = time + class;

        let stem = self.stem.forward(noisy); // (images, c0, 28, 28)
        let first = self.down0.before_embedding(stem.clone());
        let h0 = self
            .down0
            .after_embedding(copies(stem), copies(first), &emb); // (B, c0, 28, 28)
        let h1 = self
            .down1
            .forward(self.downsample0.forward(h0.clone()), &emb); // (B, c1, 14, 14)
        let h2 = self
            .down2
            .forward(self.downsample1.forward(h1.clone()), &emb); // (B, c2, 7, 7)
        let mut x = self.middle0.forward(h2.clone(), &emb);
        if let Some(attention) = &self.attention {
            x = attention.forward(x);
        }
        let x = self.middle1.forward(x, &emb); // (B, c2, 7, 7)
        let x = self.up2.forward(Tensor::cat(vec![x, h2], 1), &emb); // (B, c2, 7, 7)
        let x = transposed_conv::forward(&self.upsample2, x); // (B, c1, 14, 14)
        let x = self.up1.forward(Tensor::cat(vec![x, h1], 1), &emb); // (B, c1, 14, 14)
        let x = transposed_conv::forward(&self.upsample1, x); // (B, c0, 28, 28)
        let x = self.up0.forward(Tensor::cat(vec![x, h0], 1), &emb); // (B, c0, 28, 28)
        self.out.forward(silu(self.out_norm.forward(x))) // (B, channels, 28, 28)
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    pub fn image_shape(&self) -> ImageShape {
        ImageShape {
            channels: self.image_channels,
            side: self.image_side,
        }
    }

    /// The label that means "no class": the unconditional half of classifier-free guidance.
    pub fn null_class(&self) -> usize {
        self.num_classes
    }
}

/// Transformer-style sin/cos features of each timestep, computed on the CPU (the timesteps are
/// known there) so every backend sees the same numbers.
///
/// # Shapes
/// - output: `[timesteps.len(), dim]`
pub fn sinusoidal_embedding(timesteps: &[usize], dim: usize, device: &Device) -> Tensor<2> {
    let half = dim / 2;
    let mut values = Vec::with_capacity(timesteps.len() * dim);
    for &t in timesteps {
        let angles = (0..half).map(|i| t as f64 * MAX_PERIOD.powf(-(i as f64) / half as f64));
        let angles: Vec<f64> = angles.collect();
        values.extend(angles.iter().map(|a| a.sin() as f32));
        values.extend(angles.iter().map(|a| a.cos() as f32));
        values.extend(std::iter::repeat_n(0.0, dim - 2 * half));
    }
    Tensor::from_data(TensorData::new(values, [timesteps.len(), dim]), device)
}

/// Two normalised 3×3 convolutions with the embedding added between them, and a skip path
/// (a 1×1 convolution where the channel count changes).
#[derive(Module, Debug)]
pub struct ResidualBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    embedding: Linear,
    norm2: GroupNorm,
    conv2: Conv2d,
    skip: Option<Conv2d>,
}

impl ResidualBlock {
    fn new(from: usize, to: usize, embedding_dim: usize, device: &Device) -> Self {
        Self {
            norm1: GroupNormConfig::new(NORM_GROUPS, from).init(device),
            conv1: conv3(from, to, 1, device),
            embedding: LinearConfig::new(embedding_dim, to).init(device),
            norm2: GroupNormConfig::new(NORM_GROUPS, to).init(device),
            conv2: conv3(to, to, 1, device),
            skip: (from != to).then(|| Conv2dConfig::new([from, to], [1, 1]).init(device)),
        }
    }

    /// # Shapes
    /// - x: `[batch, from, h, w]`; emb: `[batch, embedding_dim]`
    /// - output: `[batch, to, h, w]`
    fn forward(&self, x: Tensor<4>, emb: &Tensor<2>) -> Tensor<4> {
        let h = self.before_embedding(x.clone());
        self.after_embedding(x, h, emb)
    }

    /// The first convolution, which depends on `x` alone.
    fn before_embedding(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv1.forward(silu(self.norm1.forward(x)))
    }

    /// The rest, from `h`, the first convolution of `x`.
    fn after_embedding(&self, x: Tensor<4>, h: Tensor<4>, emb: &Tensor<2>) -> Tensor<4> {
        let [batch, channels, ..] = h.dims();
        let shift = self
            .embedding
            .forward(silu(emb.clone()))
            .reshape([batch, channels, 1, 1]);
        let h = self.conv2.forward(silu(self.norm2.forward(h + shift)));
        let skip = match &self.skip {
            Some(conv) => conv.forward(x),
            None => x,
        };
        skip + h
    }
}

/// Multi-head self-attention over the positions of a feature map, with a residual connection.
#[derive(Module, Debug)]
pub struct SelfAttention {
    norm: GroupNorm,
    attention: MultiHeadAttention,
}

impl SelfAttention {
    fn new(channels: usize, device: &Device) -> Self {
        Self {
            norm: GroupNormConfig::new(NORM_GROUPS, channels).init(device),
            attention: MultiHeadAttentionConfig::new(channels, ATTENTION_HEADS)
                .with_dropout(0.0)
                .init(device),
        }
    }

    /// # Shapes
    /// - x, output: `[batch, channels, h, w]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, channels, height, width] = x.dims();
        let tokens = self
            .norm
            .forward(x.clone())
            .reshape([batch, channels, height * width])
            .swap_dims(1, 2); // (B, h·w, c)
        let attended = self.attention.forward(MhaInput::self_attn(tokens)).context;
        let attended = attended
            .swap_dims(1, 2)
            .reshape([batch, channels, height, width]);
        x + attended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestep_embedding_is_pinned() {
        let values = sinusoidal_embedding(&[0, 7], 4, &Device::flex())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        // [sin(t), sin(t / 100), cos(t), cos(t / 100)] for t = 0 and t = 7.
        let expected = [
            0.0,
            0.0,
            1.0,
            1.0,
            0.656_986_6,
            0.069_942_9,
            0.753_902_3,
            0.997_551,
        ];
        for (v, e) in values.iter().zip(expected) {
            assert!((v - e).abs() < 1e-6, "{values:?}");
        }
    }
}
