//! What every flow shares: running `kiln`, and the data it trains on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kiln_core::data::idx;

/// MNIST as this workspace's checkout sees it (`../shared/data/mnist`); `KILN_MNIST_DIR` overrides.
pub fn mnist_dir() -> PathBuf {
    std::env::var_os("KILN_MNIST_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist"),
        PathBuf::from,
    )
}

pub fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .output()
        .expect("kiln runs")
}

pub fn ok(args: &[&str]) -> String {
    let out = kiln(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "kiln {args:?} failed:\n{stderr}");
    stderr
}

pub fn stdout_of(args: &[&str]) -> String {
    let out = kiln(args);
    assert!(
        out.status.success(),
        "kiln {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn fails(args: &[&str]) -> String {
    let out = kiln(args);
    assert!(!out.status.success(), "kiln {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Raw (uncompressed) IDX copies of the first `count` images and labels of an MNIST split.
pub fn write_subset(dir: &Path, prefix: &str, count: usize) {
    let mnist = mnist_dir();
    let read = |kind: &str| {
        let path = mnist.join(format!("{prefix}-{kind}-ubyte.gz"));
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (set KILN_MNIST_DIR to a folder with MNIST)",
                path.display()
            )
        })
    };
    let images = idx::parse_images("images", &read("images-idx3")).unwrap();
    let labels = idx::parse_labels("labels", &read("labels-idx1")).unwrap();
    let mut out = vec![0, 0, 8, 3];
    for d in [count, 28, 28] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(&images.pixels[..count * 784]);
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), out).unwrap();
    let mut out = vec![0, 0, 8, 1];
    out.extend_from_slice(&(count as u32).to_be_bytes());
    out.extend_from_slice(&labels[..count]);
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), out).unwrap();
}

pub struct Env {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
}

impl Env {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        std::fs::create_dir(root.join("data")).unwrap();
        write_subset(&root.join("data"), "train", 256);
        write_subset(&root.join("data"), "t10k", 64);
        Self { _tmp: tmp, root }
    }

    pub fn path(&self, name: &str) -> String {
        self.root.join(name).display().to_string()
    }

    pub fn state(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.root.join("run/state.json")).unwrap())
            .unwrap()
    }
}

/// The image models besides the VAE, as `kiln train` names them, each with its flags (one
/// epoch of 64 digits at a time) and the name it is exported under, in the manifest's order.
pub const TINY_MODELS: [(&str, &str, &[&str]); 5] = [
    ("ae", "tiny-ae", &[]),
    ("classifier", "tiny-classifier", &[]),
    ("cvae", "tiny-cvae", &[]),
    ("gan", "tiny-gan", &[]),
    (
        "ddpm",
        "tiny-ddpm",
        &["--base-channels", "8", "--limit", "64"],
    ),
];

/// The folder the tiny models are exported to, trained once per test run.
static TRAINED: OnceLock<PathBuf> = OnceLock::new();

/// A fresh folder with the fixture digits and [`TINY_MODELS`] exported into its `pretrained/`.
pub struct TinyModels {
    pub env: Env,
    /// The digits' folder.
    pub data: String,
    /// The path of the manifest.
    pub manifest: String,
}

/// [`TINY_MODELS`], trained once per test run and copied into each test's own folder, so that
/// tests recording figures in their manifest do not race.
pub fn tiny_models() -> TinyModels {
    let env = Env::new();
    let trained = TRAINED.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tiny-image-models");
        if root.exists() {
            std::fs::remove_dir_all(&root).unwrap();
        }
        let (data, pretrained) = (env.path("data"), root.join("pretrained"));
        for (kind, name, flags) in TINY_MODELS {
            let run = root.join(name).display().to_string();
            let mut args = vec![
                "train", kind, "--data", &data, "--out", &run, "--epochs", "1", "--batch", "64",
            ];
            args.extend(flags);
            ok(&args);
            let to = pretrained.display().to_string();
            ok(&["export", "--run", &run, "--to", &to, "--name", name]);
        }
        pretrained
    });
    let copy = env.root.join("pretrained");
    std::fs::create_dir(&copy).unwrap();
    for file in std::fs::read_dir(trained).unwrap() {
        let file = file.unwrap();
        std::fs::copy(file.path(), copy.join(file.file_name())).unwrap();
    }
    TinyModels {
        data: env.path("data"),
        manifest: env.path("pretrained/manifest.json"),
        env,
    }
}

/// The JSON file at `path`, parsed.
pub fn read_json(path: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
