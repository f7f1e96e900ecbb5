//! Which digits the classifier recognises: whether a conditional model drew the digit it was
//! asked for, and whether a model covers all classes.

/// Running counts of predicted (and, for conditional models, requested) classes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassTally {
    /// How often each class was predicted.
    predicted: Vec<usize>,
    /// Images whose requested class was predicted, by that class.
    correct: Vec<usize>,
    /// Images that had a requested class, by that class.
    requested: Vec<usize>,
}

impl ClassTally {
    pub fn new(num_classes: usize) -> Self {
        Self {
            predicted: vec![0; num_classes],
            correct: vec![0; num_classes],
            requested: vec![0; num_classes],
        }
    }

    /// The classes it counts.
    pub fn classes(&self) -> usize {
        self.predicted.len()
    }

    /// Count one batch of predictions, with the classes asked for when the model is conditional.
    ///
    /// # Panics
    /// If a class is out of range or the two slices differ in length.
    pub fn add(&mut self, predicted: &[usize], requested: Option<&[usize]>) {
        for &class in predicted {
            self.predicted[class] += 1;
        }
        if let Some(requested) = requested {
            assert_eq!(predicted.len(), requested.len(), "one request per image");
            for (&predicted, &requested) in predicted.iter().zip(requested) {
                self.requested[requested] += 1;
                self.correct[requested] += usize::from(predicted == requested);
            }
        }
    }

    pub fn total(&self) -> usize {
        self.predicted.iter().sum()
    }

    /// Fraction of images recognised as the class they were drawn for; `None` if none was asked.
    pub fn conditional_accuracy(&self) -> Option<f64> {
        let (correct, requested): (usize, usize) =
            (self.correct.iter().sum(), self.requested.iter().sum());
        (requested > 0).then(|| correct as f64 / requested as f64)
    }

    /// [`ClassTally::conditional_accuracy`] of the images asked to be each class (`None` for a
    /// class never asked for).
    pub fn accuracy_by_class(&self) -> Vec<Option<f64>> {
        self.correct
            .iter()
            .zip(&self.requested)
            .map(|(&correct, &requested)| {
                (requested > 0).then(|| correct as f64 / requested as f64)
            })
            .collect()
    }

    /// The lowest of [`ClassTally::accuracy_by_class`]: the class the model draws worst.
    pub fn worst_class_accuracy(&self) -> Option<f64> {
        self.accuracy_by_class()
            .into_iter()
            .flatten()
            .reduce(f64::min)
    }

    /// Share of the images recognised as each class.
    pub fn histogram(&self) -> Vec<f64> {
        let total = self.total().max(1) as f64;
        self.predicted.iter().map(|&n| n as f64 / total).collect()
    }

    /// Entropy of the predicted-class histogram divided by its maximum, log(num_classes): 1 when
    /// every class is equally common, 0 when one class is all there is (mode collapse).
    pub fn normalized_entropy(&self) -> f64 {
        let entropy: f64 = self
            .histogram()
            .iter()
            .filter(|&&p| p > 0.0)
            .map(|&p| -p * p.ln())
            .sum();
        entropy / (self.predicted.len() as f64).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_predictions_have_full_entropy() {
        let mut tally = ClassTally::new(10);
        tally.add(&(0..100).map(|i| i % 10).collect::<Vec<_>>(), None);
        assert!((tally.normalized_entropy() - 1.0).abs() < 1e-12);
        assert_eq!(tally.conditional_accuracy(), None);
        assert_eq!(tally.histogram()[3], 0.1);
    }

    #[test]
    fn one_class_has_zero_entropy() {
        let mut tally = ClassTally::new(10);
        tally.add(&[4; 50], None);
        assert_eq!(tally.normalized_entropy(), 0.0);
    }

    #[test]
    fn conditional_accuracy_counts_matches() {
        let mut tally = ClassTally::new(10);
        tally.add(&[1, 2, 3, 9], Some(&[1, 2, 3, 4]));
        tally.add(&[5], Some(&[5]));
        assert_eq!(tally.conditional_accuracy(), Some(0.8));
        assert_eq!(tally.total(), 5);
        let by_class = tally.accuracy_by_class();
        assert_eq!(
            (by_class[4], by_class[5], by_class[0]),
            (Some(0.0), Some(1.0), None)
        );
        assert_eq!(tally.worst_class_accuracy(), Some(0.0));
    }
}
