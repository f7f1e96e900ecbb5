//! Judging generated images with a classifier trained on their data: its predictions (class
//! accuracy, coverage, Inception Score) and its penultimate-layer features (Fréchet distance,
//! precision and recall), the standard stand-ins for Inception-v3 on 28×28 digits; how alike a
//! class's images are (MS-SSIM); how well a denoiser restores digits (PSNR); and the character
//! n-gram that text models must beat.

mod classes;
mod frechet;
mod inception;
mod manifold;
mod ms_ssim;
mod ngram;
mod restoration;

pub use classes::ClassTally;
pub use frechet::{FeatureStatistics, frechet_distance};
pub use inception::{INCEPTION_SCORE_SPLITS, InceptionScore, inception_score};
pub use manifold::{MANIFOLD_NEIGHBOURS, PrecisionRecall, precision_recall};
pub use ms_ssim::{ClassSamples, DIVERSITY_IMAGES_PER_CLASS, MS_SSIM_WEIGHTS, ms_ssim};
pub use ngram::NGram;
pub use restoration::psnr;
