//! An exponential moving average of the weights (Polyak averaging), the copy a diffusion model
//! samples from: each Adam step moves the raw weights around the optimum, and the average sits
//! nearer to it, which shows as cleaner samples at no extra training cost.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// The averaged copy of a model, updated after every training step.
#[derive(Debug, Clone)]
pub struct WeightAverage<M> {
    model: M,
    decay: f64,
}

impl<M: Module> WeightAverage<M> {
    /// Start averaging from `model` (without autodiff: the average is never trained).
    pub fn new(model: M, decay: f64) -> Self {
        Self { model, decay }
    }

    /// The averaged weights.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Move the average towards `current` after training step number `step` (counted from the
    /// start of the run). Early in a run the decay is lowered to (1 + step) / (10 + step), so
    /// the average forgets the random initialisation quickly.
    pub fn update(&mut self, current: &M, step: u64) {
        let step = step as f64;
        let decay = self.decay.min((1.0 + step) / (10.0 + step));
        let mut collector = Collector::default();
        current.visit(&mut collector);
        let mut blender = Blender {
            current: collector.values.into_iter(),
            decay,
        };
        self.model = self.model.clone().map(&mut blender);
        assert!(
            blender.current.next().is_none(),
            "averaged a model of another architecture"
        );
    }
}

/// The float parameters of a model, flattened, in visiting order.
#[derive(Default)]
struct Collector {
    values: Vec<Tensor<1>>,
}

impl ModuleVisitor for Collector {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.values.push(param.base().flatten(0, D - 1));
    }
}

/// average ← decay · average + (1 − decay) · current, parameter by parameter.
struct Blender<I> {
    current: I,
    decay: f64,
}

impl<I: Iterator<Item = Tensor<1>>> ModuleMapper for Blender<I> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let current = self
            .current
            .next()
            .expect("averaged a model of another architecture");
        param.map(|average| {
            let current = current.reshape(average.shape());
            average.mul_scalar(self.decay) + current.mul_scalar(1.0 - self.decay)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, TensorData, Tolerance};

    fn weights(linear: &Linear) -> TensorData {
        linear.weight.val().into_data()
    }

    #[test]
    fn the_average_moves_by_one_minus_decay_towards_the_current_weights() {
        let device = Device::default();
        let start = LinearConfig::new(3, 2).init(&device);
        let current = LinearConfig::new(3, 2).init(&device);
        let mut average = WeightAverage::new(start.clone(), 0.9);
        // Far past the warm-up, so the decay is the configured 0.9.
        average.update(&current, 1_000_000);
        let expected = start.weight.val().mul_scalar(0.9) + current.weight.val().mul_scalar(0.1);
        weights(average.model())
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-6));
        let bias = |l: &Linear| l.bias.as_ref().unwrap().val();
        let expected_bias = bias(&start).mul_scalar(0.9) + bias(&current).mul_scalar(0.1);
        bias(average.model())
            .into_data()
            .assert_approx_eq::<f32>(&expected_bias.into_data(), Tolerance::absolute(1e-6));
    }

    #[test]
    fn warm_up_lowers_the_decay_at_the_start_of_a_run() {
        let device = Device::default();
        let start = LinearConfig::new(3, 2).init(&device);
        let current = LinearConfig::new(3, 2).init(&device);
        let mut average = WeightAverage::new(start.clone(), 0.999);
        // Step 0: decay (1 + 0) / (10 + 0) = 0.1.
        average.update(&current, 0);
        let expected = start.weight.val().mul_scalar(0.1) + current.weight.val().mul_scalar(0.9);
        weights(average.model())
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-6));
    }
}
