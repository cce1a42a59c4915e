//! System paths inside a root directory, so the same code edits `/` on a real machine and a
//! fake tree in tests.

use std::path::{Path, PathBuf};

/// `path` (absolute, as on a running system) inside `root`.
pub fn under_root(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix("/") {
        Ok(relative) => root.join(relative),
        Err(_) => root.join(path),
    }
}

/// Whether `root` is the running system's own root, where commands may act on the machine.
pub fn is_live(root: &Path) -> bool {
    root.canonicalize().is_ok_and(|p| p == Path::new("/"))
}
