//! Writing the capture initramfs: /init (this very binary, static), the capture settings, the
//! module files and their load order, and the few directories and nodes the kernel and /init
//! need before devtmpfs is mounted.

use anyhow::Result;
use initramfs::Archive;
use initramfs::kernel_tree::ModuleFile;

use super::layout;

pub struct Contents<'a> {
    pub init: &'a [u8],
    pub config: &'a str,
    pub modules: &'a [ModuleFile],
}

/// The archive's bytes, uncompressed.
pub fn build(contents: &Contents<'_>) -> Result<Vec<u8>> {
    let mut archive = Archive::default();
    for dir in ["dev", "proc", "sys", "run", "tmp"] {
        archive.dir(dir);
    }
    // The kernel opens /dev/console for /init's standard streams before anything is mounted.
    archive.char_device("dev/console", 5, 1);
    archive.file(layout::INIT, 0o755, contents.init)?;
    archive.file(layout::CONFIG, 0o644, contents.config.as_bytes())?;
    let mut list = String::new();
    for module in contents.modules {
        archive.file(&module.image_path, 0o644, &module.data)?;
        list.push('/');
        list.push_str(&module.image_path);
        list.push('\n');
    }
    archive.file(layout::MODULE_LIST, 0o644, list.as_bytes())?;
    Ok(archive.finish())
}
