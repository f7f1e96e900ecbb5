//! Each kind of model's figures, typed, under the names the manifest stores them by (and the
//! page reads): one struct per kind where the tables and the JSON take them from.

use serde::{Deserialize, Serialize};

use super::Figures;

/// What the judging classifier makes of a set of images, against the test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleFigures {
    /// Fréchet distance of the classifier's features.
    pub fid: f64,
    pub inception_score: f64,
    pub inception_score_std: f64,
    pub precision: f64,
    pub recall: f64,
    /// Entropy of the predicted classes over log 10: 1 when every digit is as frequent.
    pub class_entropy: f64,
    /// The share recognised as the class asked for (class-conditional models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditional_accuracy: Option<f64>,
    /// The lowest share of any one class asked for (class-conditional models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_class_accuracy: Option<f64>,
    /// Mean MS-SSIM between pairs of images of one class (Odena et al.'s diversity measure;
    /// lower is more diverse): classes as asked for, else as the judge sees them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intra_class_ms_ssim: Option<f64>,
    /// A VAE's bounds on the test digits' likelihood.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub likelihood: Option<Likelihood>,
}

/// Bounds on the negative log-likelihood of the MNIST test digits, in nats per digit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Likelihood {
    pub test_negative_elbo_nats: f64,
    pub test_nll_bound_nats: f64,
    pub importance_samples: f64,
}

/// A text model's cross-entropy on held-out text, beside a character n-gram's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextFigures {
    pub validation_nats_per_char: f64,
    pub bits_per_char: f64,
    /// The n-gram's, counted on the rest of the text: the floor a learnt model should clear.
    pub ngram_bits_per_char: f64,
}

/// How close a denoising autoencoder brings damaged test digits back, beside how far the
/// damage took them (mean squared error per pixel, and the PSNR it makes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestorationFigures {
    /// The σ of the Gaussian noise added.
    pub noise_std: f64,
    pub damaged_mse: f64,
    pub damaged_psnr_db: f64,
    pub restored_mse: f64,
    pub restored_psnr_db: f64,
}

/// The share of the test digits a classifier labels correctly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationFigures {
    pub test_accuracy: f64,
}

/// Figures (any of the structs above) as the manifest stores them: numbers by name.
pub fn to_metrics(figures: &impl Serialize) -> Figures {
    let value = serde_json::to_value(figures).expect("figures serialise");
    serde_json::from_value(value).expect("figures are numbers by name")
}

impl SampleFigures {
    /// The cells of a table row, in the columns of [`COLUMNS`].
    pub fn cells(&self) -> [String; 7] {
        [
            self.conditional_accuracy
                .map_or("–".to_owned(), |a| format!("{:.1} %", 100.0 * a)),
            format!("{:.1}", self.fid),
            format!(
                "{:.2} ± {:.2}",
                self.inception_score, self.inception_score_std
            ),
            format!("{:.3}", self.precision),
            format!("{:.3}", self.recall),
            format!("{:.3}", self.class_entropy),
            self.intra_class_ms_ssim
                .map_or("–".to_owned(), |s| format!("{s:.3}")),
        ]
    }
}

/// The heads of the columns of [`SampleFigures::cells`].
pub const COLUMNS: [&str; 7] = [
    "the class asked for",
    "FID ↓",
    "IS ↑",
    "precision",
    "recall",
    "class entropy",
    "MS-SSIM in a class",
];

impl Likelihood {
    /// The bounds in words.
    pub fn describe(&self) -> String {
        format!(
            "−ELBO {:.1}, importance-weighted bound (k = {}) {:.1}",
            self.test_negative_elbo_nats, self.importance_samples, self.test_nll_bound_nats
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_the_manifest_names() {
        let figures = SampleFigures {
            fid: 30.1,
            inception_score: 9.2,
            inception_score_std: 0.2,
            precision: 0.86,
            recall: 0.7,
            class_entropy: 1.0,
            conditional_accuracy: Some(0.986),
            worst_class_accuracy: Some(0.95),
            intra_class_ms_ssim: Some(0.12),
            likelihood: Some(Likelihood {
                test_negative_elbo_nats: 91.7,
                test_nll_bound_nats: 87.8,
                importance_samples: 100.0,
            }),
        };
        let metrics = to_metrics(&figures);
        assert_eq!(metrics["fid"], 30.1);
        assert_eq!(metrics["conditional_accuracy"], 0.986);
        assert_eq!(metrics["test_nll_bound_nats"], 87.8);
        assert_eq!(metrics["intra_class_ms_ssim"], 0.12);
        assert_eq!(metrics["worst_class_accuracy"], 0.95);
        assert_eq!(metrics.len(), 12);
        let plain = SampleFigures {
            conditional_accuracy: None,
            worst_class_accuracy: None,
            intra_class_ms_ssim: None,
            likelihood: None,
            ..figures
        };
        assert_eq!(
            to_metrics(&plain).len(),
            6,
            "no accuracy or bounds where there are none"
        );
        assert_eq!(plain.cells()[0], "–");
        assert_eq!(plain.cells()[2], "9.20 ± 0.20");
    }

    #[test]
    fn every_kind_of_figures_keeps_its_names() {
        let text = TextFigures {
            validation_nats_per_char: 1.5,
            bits_per_char: 2.2,
            ngram_bits_per_char: 2.4,
        };
        assert_eq!(to_metrics(&text)["ngram_bits_per_char"], 2.4);
        let restoration = RestorationFigures {
            noise_std: 0.4,
            damaged_mse: 0.08,
            damaged_psnr_db: 11.0,
            restored_mse: 0.012,
            restored_psnr_db: 19.2,
        };
        assert_eq!(to_metrics(&restoration)["restored_psnr_db"], 19.2);
        let classification = ClassificationFigures {
            test_accuracy: 0.99,
        };
        assert_eq!(to_metrics(&classification).len(), 1);
    }
}
