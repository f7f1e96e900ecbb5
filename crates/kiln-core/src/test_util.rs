//! Fixtures shared by the model tests.

use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::{Device, Tensor, TensorData};

use crate::train::gradient_step;

/// `count` distinct synthetic "digits": a bright bar whose position and orientation vary.
///
/// # Shapes
/// - output: `[count, 1, 28, 28]`
pub fn toy_digits(count: usize, device: &Device) -> Tensor<4> {
    let mut pixels = vec![0.0f32; count * 28 * 28];
    for n in 0..count {
        let offset = 4 + (n * 5) % 20;
        for i in 2..26 {
            let (row, col) = if n % 2 == 0 { (offset, i) } else { (i, offset) };
            for w in 0..3 {
                pixels[n * 784 + (row + w) * 28 + col] = 1.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(pixels, [count, 1, 28, 28]), device)
}

/// Train `model` for `steps` Adam steps on `loss`, returning the first and last loss values.
pub fn overfits<M: Module + Clone>(
    mut model: M,
    steps: u64,
    loss: impl Fn(&M, u64) -> Tensor<1>,
) -> (f32, f32) {
    let mut optimizer = AdamConfig::new().init();
    let mut values = Vec::new();
    for step in 0..steps {
        let l = loss(&model, step);
        values.push(l.clone().into_scalar::<f32>());
        model = gradient_step(&mut optimizer, 2e-3, model, l);
    }
    (values[0], values[values.len() - 1])
}
