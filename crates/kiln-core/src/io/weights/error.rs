//! What can be wrong with a weight file.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum WeightError {
    #[error(
        "weight file checksum mismatch: expected sha256 {expected}, got {found} (the file is corrupt, truncated, or from another export)"
    )]
    Checksum { expected: String, found: String },
    #[error("not a readable burnpack weight file: {0}")]
    Format(String),
    #[error("the weights do not fit this model's architecture (was the config changed?): {0}")]
    Architecture(String),
}
