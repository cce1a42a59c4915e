//! Building the crash-test module against a newer Debian release's kernel headers on this host
//! (trixie's 6.12 on bookworm) without installing anything of that release:
//! - the headers, their `-common` part and that release's linux-kbuild are unpacked side by side
//!   (the headers' Makefile names the `-common` part by absolute path: it is pointed at the copy);
//! - kbuild's programs that need that release's newer C library (objtool, modpost) run through
//!   that release's dynamic loader and libraries, unpacked into a runtime folder;
//! - the host's GCC stands in for that release's, minus the options it does not know, and the
//!   module's BTF (which needs pahole) is skipped; neither changes the code the crashes run.

use super::apt::Apt;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Libraries kbuild's programs link against, with that release's C library.
const RUNTIME_PACKAGES: &[&str] = &["libc6", "libelf1t64", "zlib1g", "libzstd1"];

/// Debian ships kbuild's architecture-specific programs as `<name>.real-<variant>` behind a
/// small dispatcher; those are the ones built against the newer C library.
const REAL_MARKER: &str = ".real-";

/// The suffix the original program keeps once a loader script takes its place.
const ORIGINAL_SUFFIX: &str = ".newer-libc";

/// Unpacks the headers of `release` and what they refer to into `root`.
pub fn unpack(apt: &Apt, cache: &Path, root: &Path, release: &str) -> Result<()> {
    let version = release
        .strip_suffix("-amd64")
        .with_context(|| format!("unexpected kernel release {release}"))?;
    for package in [
        format!("linux-headers-{release}"),
        format!("linux-headers-{version}-common"),
        format!("linux-kbuild-{version}"),
    ] {
        apt.unpack(&package, cache, root)?;
    }
    let makefile = root.join(format!("usr/src/linux-headers-{release}/Makefile"));
    let text = std::fs::read_to_string(&makefile)
        .with_context(|| format!("reading {}", makefile.display()))?;
    let src = root.join("usr/src");
    let patched = text.replace("include /usr/src/", &format!("include {}/", src.display()));
    std::fs::write(&makefile, patched)?;
    Ok(())
}

/// Makes the unpacked headers under `root` usable with the host's tools; returns the `make`
/// variables a module build needs.
pub fn prepare(apt: &Apt, cache: &Path, root: &Path) -> Result<Vec<String>> {
    let runtime = cache.join("newer-libc-runtime");
    let libs = runtime.join("usr/lib/x86_64-linux-gnu");
    let loader = libs.join("ld-linux-x86-64.so.2");
    if !loader.exists() {
        for package in RUNTIME_PACKAGES {
            apt.unpack(package, cache, &runtime)?;
        }
    }
    for program in real_programs(&root.join("usr/lib"))? {
        let original = PathBuf::from(format!("{}{ORIGINAL_SUFFIX}", program.display()));
        if original.exists() {
            continue;
        }
        std::fs::rename(&program, &original)?;
        let script = format!(
            "#!/bin/sh\n# A program of a newer Debian release, run with its own C library.\n\
             exec {} --library-path {} {} \"$@\"\n",
            loader.display(),
            libs.display(),
            original.display()
        );
        std::fs::write(&program, script)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(vec![
        "CC=gcc".to_owned(),
        // GCC 14's -fmin-function-alignment; the host's GCC aligns with -falign-functions instead.
        "CONFIG_CC_HAS_MIN_FUNCTION_ALIGNMENT=".to_owned(),
        "CONFIG_DEBUG_INFO_BTF_MODULES=".to_owned(),
    ])
}

/// The `*.real-*` programs under `dir`, not yet wrapped.
fn real_programs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file()
                && name.contains(REAL_MARKER)
                && !name.ends_with(ORIGINAL_SUFFIX)
            {
                found.push(path);
            }
        }
    }
    Ok(found)
}
