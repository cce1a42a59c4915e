//! APT for one (architecture, Debian release) pair. The host's own pair uses the host's APT as it
//! is; any other gets its own package lists, cache and, for another release, its own one-line
//! sources file, all under the lab's cache, so the host's APT state is left alone.

use super::arch::Arch;
use super::suite::Suite;
use crate::shell;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Apt {
    options: Vec<String>,
    lists: Option<PathBuf>,
}

/// The Debian mirror the host's APT uses (its first `URIs:` or `deb` line naming a `/debian`
/// archive), so a foreign release comes from the same place.
pub(crate) fn host_mirror() -> String {
    host_archive("/debian").unwrap_or_else(|| "http://deb.debian.org/debian".to_owned())
}

/// The first archive of the host's APT sources whose URI ends in `suffix` (`/debian`,
/// `/debian-security`), without a trailing slash.
pub(crate) fn host_archive(suffix: &str) -> Option<String> {
    let mut texts = Vec::new();
    for dir in ["/etc/apt/sources.list.d", "/etc/apt"] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = path.to_string_lossy();
            if name.ends_with(".sources") || name.ends_with(".list") {
                texts.push(std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    texts
        .iter()
        .flat_map(|text| text.lines())
        .filter_map(|line| {
            let line = line.trim();
            if let Some(uris) = line.strip_prefix("URIs:") {
                return uris.split_whitespace().next();
            }
            let rest = line.strip_prefix("deb ")?;
            rest.split_whitespace().find(|word| word.contains("://"))
        })
        .map(|uri| uri.trim_end_matches('/'))
        .find(|uri| uri.ends_with(suffix))
        .map(str::to_owned)
}

impl Apt {
    pub fn new(cache: &Path, arch: Arch, suite: Suite) -> Result<Apt> {
        if arch.native() && suite.is_host() {
            return Ok(Apt {
                options: Vec::new(),
                lists: None,
            });
        }
        let root = cache.join(format!("apt-{}-{}", suite.codename(), arch.debian()));
        let lists = root.join("lists");
        for dir in [lists.join("partial"), root.join("cache/archives/partial")] {
            std::fs::create_dir_all(&dir)?;
        }
        let mut options = vec![
            format!("-oAPT::Architecture={}", arch.debian()),
            format!("-oAPT::Architectures={}", arch.debian()),
            format!("-oDir::State::Lists={}", lists.display()),
            format!("-oDir::Cache={}", root.join("cache").display()),
        ];
        if !suite.is_host() {
            let sources = root.join("sources.list");
            std::fs::write(
                &sources,
                format!(
                    "deb [trusted=yes] {} {} main\n",
                    host_mirror(),
                    suite.codename()
                ),
            )?;
            options.push(format!("-oDir::Etc::sourcelist={}", sources.display()));
            options.push("-oDir::Etc::sourceparts=-".to_owned());
        }
        Ok(Apt {
            options,
            lists: Some(lists),
        })
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(&self.options);
        cmd
    }

    pub fn update(&self) -> Result<()> {
        shell::run(self.command("apt-get").args(["update", "-q"]))?;
        Ok(())
    }

    /// The package a metapackage depends on, e.g. `linux-image-6.1.0-56-amd64`.
    pub fn dependency(&self, meta: &str, prefix: &str) -> Result<Option<String>> {
        if let Some(lists) = &self.lists
            && std::fs::read_dir(lists)?.filter_map(Result::ok).count() <= 1
        {
            self.update()?;
        }
        let depends = shell::stdout(self.command("apt-cache").args(["depends", meta]))?;
        Ok(depends
            .lines()
            .find_map(|line| line.trim().strip_prefix("Depends: "))
            .filter(|name| name.starts_with(prefix))
            .map(str::to_owned))
    }

    /// Downloads `package` and unpacks it into `dest` (no installation).
    pub fn unpack(&self, package: &str, cache: &Path, dest: &Path) -> Result<()> {
        let deb = self.download(package, &cache.join("downloads"))?;
        shell::run(Command::new("dpkg").arg("-x").arg(&deb).arg(dest))?;
        std::fs::remove_file(&deb)?;
        Ok(())
    }

    /// Downloads `package`'s .deb into `dir` and returns its path.
    pub fn download(&self, package: &str, dir: &Path) -> Result<PathBuf> {
        eprintln!("lab: downloading {package}");
        std::fs::create_dir_all(dir)?;
        shell::run(
            self.command("apt-get")
                .args(["download", "-q", package])
                .current_dir(dir),
        )?;
        std::fs::read_dir(dir)?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .find(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| {
                        name.starts_with(&format!("{package}_")) && name.ends_with(".deb")
                    })
            })
            .with_context(|| {
                format!(
                    "apt-get download left no {package} .deb in {}",
                    dir.display()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_mirror_is_a_debian_archive() {
        let mirror = super::host_mirror();
        assert!(mirror.contains("://"), "{mirror}");
        assert!(mirror.ends_with("/debian"), "{mirror}");
    }
}
