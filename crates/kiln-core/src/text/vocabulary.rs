//! The characters a text model knows: built from its training corpus and stored beside its
//! weights, so a prompt is encoded exactly as the training text was.

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum VocabularyError {
    #[error("the text is empty: a vocabulary needs at least one character")]
    Empty,
    #[error(
        "the prompt has characters the model never saw in training: {}; it knows {known}",
        unknown.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
    )]
    UnknownCharacters { unknown: Vec<char>, known: String },
    #[error("token {token} is outside the vocabulary of {size} characters")]
    UnknownToken { token: u32, size: usize },
    #[error("a stored vocabulary lists distinct characters in order, but {0:?} breaks the order")]
    Malformed(char),
}

/// A sorted list of distinct characters; a token is an index into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Vocabulary {
    chars: Vec<char>,
}

impl Vocabulary {
    /// Every distinct character of `text`, in code-point order.
    pub fn from_text(text: &str) -> Result<Self, VocabularyError> {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        if chars.is_empty() {
            return Err(VocabularyError::Empty);
        }
        Ok(Self { chars })
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The tokens of `text`, or an error naming every character the vocabulary lacks.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, VocabularyError> {
        let mut unknown = Vec::new();
        let tokens = text
            .chars()
            .filter_map(|c| match self.chars.binary_search(&c) {
                Ok(index) => Some(index as u32),
                Err(_) => {
                    if !unknown.contains(&c) {
                        unknown.push(c);
                    }
                    None
                }
            })
            .collect();
        if unknown.is_empty() {
            Ok(tokens)
        } else {
            Err(VocabularyError::UnknownCharacters {
                unknown,
                known: self.describe(),
            })
        }
    }

    /// The character of `token`.
    pub fn char(&self, token: u32) -> Result<char, VocabularyError> {
        self.chars
            .get(token as usize)
            .copied()
            .ok_or(VocabularyError::UnknownToken {
                token,
                size: self.len(),
            })
    }

    /// The text of `tokens`.
    pub fn decode(&self, tokens: &[u32]) -> Result<String, VocabularyError> {
        tokens.iter().map(|&token| self.char(token)).collect()
    }

    /// The known characters, readable in an error message (control characters escaped).
    fn describe(&self) -> String {
        let text: String = self.chars.iter().collect();
        format!("{text:?}")
    }
}

impl TryFrom<String> for Vocabulary {
    type Error = VocabularyError;

    /// A stored vocabulary: its characters in order, each once.
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let chars: Vec<char> = text.chars().collect();
        if chars.is_empty() {
            return Err(VocabularyError::Empty);
        }
        if let Some(pair) = chars.windows(2).find(|pair| pair[0] >= pair[1]) {
            return Err(VocabularyError::Malformed(pair[1]));
        }
        Ok(Self { chars })
    }
}

impl From<Vocabulary> for String {
    fn from(vocabulary: Vocabulary) -> Self {
        vocabulary.chars.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let vocabulary = Vocabulary::from_text("to be, or not to be\n").unwrap();
        assert_eq!(String::from(vocabulary.clone()), "\n ,benort");
        let tokens = vocabulary.encode("not to be").unwrap();
        assert_eq!(vocabulary.decode(&tokens).unwrap(), "not to be");
    }

    #[test]
    fn unknown_characters_are_named_once() {
        let vocabulary = Vocabulary::from_text("abc").unwrap();
        let err = vocabulary.encode("abzzy").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the prompt has characters the model never saw in training: 'z', 'y'; it knows \"abc\""
        );
        assert!(vocabulary.decode(&[3]).is_err());
    }

    #[test]
    fn stored_form_is_checked() {
        let json = serde_json::to_string(&Vocabulary::from_text("ba").unwrap()).unwrap();
        assert_eq!(json, "\"ab\"");
        assert!(serde_json::from_str::<Vocabulary>("\"aab\"").is_err());
        assert!(serde_json::from_str::<Vocabulary>("\"\"").is_err());
        assert_eq!(Vocabulary::from_text(""), Err(VocabularyError::Empty));
    }
}
