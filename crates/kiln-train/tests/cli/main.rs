//! The `kiln` binary end to end, one module per flow a user goes through: train → resume →
//! export → sample (or write), and the errors met on the way.

mod bad_data;
mod digits;
mod fixture;
mod image_models;
mod pictures;
mod sound;
mod spoken_digits;
mod text;
