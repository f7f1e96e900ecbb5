//! `cargo run -p kiln-fuzz --bin fuzz-seeds -- fuzz/corpus`: write each target's seed inputs
//! (valid files and requests) into `DIR/TARGET/`, libFuzzer's corpus layout.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    for (target, _) in kiln_fuzz::TARGETS {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        for (i, seed) in kiln_fuzz::smoke::seeds(target).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed)?;
        }
    }
    Ok(())
}
