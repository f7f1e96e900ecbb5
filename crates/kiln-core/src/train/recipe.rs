//! What `kiln train NAME` starts: each family's recipes (the names it trains under) and the
//! hyper-parameters a new run may give it by name. The CLI builds its flags from these, so a
//! family adds a model or a flag in its own module, not in the CLI.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use thiserror::Error;

/// A model `kiln train` can start: a family, or a preset of one (`cvae` is the VAE given the
/// digit classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipe {
    /// Its name on the command line.
    pub name: &'static str,
    /// What it is, in one sentence (its line of `--help`).
    pub about: &'static str,
}

/// A hyper-parameter a family takes when a run starts, given as `--NAME VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HyperParameter {
    pub name: &'static str,
    /// What it sets, and its default.
    pub about: &'static str,
}

#[derive(Debug, Error, PartialEq)]
pub enum RecipeError {
    #[error("--{name} must be {expected}, got {value:?}")]
    Invalid {
        name: String,
        value: String,
        expected: &'static str,
    },
    #[error("a {model} model learns from {wants}, not from {given}")]
    WrongData {
        model: &'static str,
        wants: &'static str,
        given: &'static str,
    },
}

/// The hyper-parameters given for a new run, by name, as written; each family reads the ones
/// it declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HyperParameters(BTreeMap<String, String>);

impl HyperParameters {
    pub fn new(given: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(given.into_iter().collect())
    }

    /// The names given.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Set `field` to `name`'s value, a positive whole number, if it was given.
    pub fn count(&self, name: &str, field: &mut usize) -> Result<(), RecipeError> {
        self.read(name, field, "a positive whole number", |value| {
            value.parse::<NonZeroUsize>().ok().map(NonZeroUsize::get)
        })
    }

    /// Set `field` to `name`'s value, a finite number, if it was given.
    pub fn number(&self, name: &str, field: &mut f64) -> Result<(), RecipeError> {
        self.read(name, field, "a number", |value| {
            value.parse::<f64>().ok().filter(|x| x.is_finite())
        })
    }

    fn read<T>(
        &self,
        name: &str,
        field: &mut T,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<(), RecipeError> {
        let Some(value) = self.0.get(name) else {
            return Ok(());
        };
        *field = parse(value.trim()).ok_or_else(|| RecipeError::Invalid {
            name: name.to_owned(),
            value: value.clone(),
            expected,
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> HyperParameters {
        HyperParameters::new(
            pairs
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string())),
        )
    }

    #[test]
    fn reads_only_what_was_given() {
        let given = given(&[("states", "512"), ("beta", "0.5")]);
        let (mut states, mut beta, mut layers) = (256, 1.0, 6);
        given.count("states", &mut states).unwrap();
        given.number("beta", &mut beta).unwrap();
        given.count("layers", &mut layers).unwrap();
        assert_eq!((states, beta, layers), (512, 0.5, 6));
        assert_eq!(given.names().collect::<Vec<_>>(), ["beta", "states"]);
    }

    #[test]
    fn refuses_values_out_of_kind() {
        for (value, expected) in [
            ("0", "a positive whole number"),
            ("-3", "a positive whole number"),
            ("2.5", "a positive whole number"),
        ] {
            let error = given(&[("states", value)])
                .count("states", &mut 1)
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("--states must be {expected}, got {value:?}")
            );
        }
        for value in ["NaN", "inf", "x"] {
            let error = given(&[("beta", value)])
                .number("beta", &mut 1.0)
                .unwrap_err();
            assert!(error.to_string().contains("must be a number"), "{error}");
        }
    }
}
