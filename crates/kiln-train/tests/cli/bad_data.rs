//! Damaged or missing data files are named.

use crate::fixture::*;

#[test]
fn bad_data_is_named() {
    let env = Env::new();
    let data = env.root.join("data");
    let labels = data.join("t10k-labels-idx1-ubyte");
    let bytes = std::fs::read(&labels).unwrap();
    std::fs::write(&labels, &bytes[..bytes.len() - 10]).unwrap();
    let err = fails(&[
        "train",
        "vae",
        "--data",
        &env.path("data"),
        "--out",
        &env.path("run"),
    ]);
    assert!(err.contains("t10k-labels-idx1-ubyte: truncated"), "{err}");

    std::fs::remove_file(&labels).unwrap();
    let err = fails(&[
        "train",
        "vae",
        "--data",
        &env.path("data"),
        "--out",
        &env.path("run2"),
    ]);
    assert!(
        err.contains("has neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz"),
        "{err}"
    );

    let err = fails(&[
        "train",
        "vae",
        "--data",
        &env.path("missing"),
        "--out",
        &env.path("run3"),
    ]);
    assert!(err.contains("does not exist"), "{err}");
}
