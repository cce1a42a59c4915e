//! `cargo xtask man`: writes the man pages the `lastgasp` CLI definition renders to docs/man, and
//! removes pages of commands that no longer exist. A test in crates/cli checks they are current.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

pub fn run() -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(lastgasp::man::MAN_DIR);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let pages = lastgasp::man::pages().context("cannot render the man pages")?;
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let stale = name.ends_with(".1") && !pages.iter().any(|p| p.file_name == name);
        if stale {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            println!("removed {}/{name}", lastgasp::man::MAN_DIR);
        }
    }
    for page in &pages {
        let path = dir.join(&page.file_name);
        if fs::read(&path).ok().as_deref() == Some(page.roff.as_slice()) {
            continue;
        }
        fs::write(&path, &page.roff).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}/{}", lastgasp::man::MAN_DIR, page.file_name);
    }
    Ok(())
}
