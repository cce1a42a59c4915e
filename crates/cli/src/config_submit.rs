//! The `[submit]` section: whether crash reports may leave this machine (off until the admin or
//! a vendor drop-in turns it on), where they go (a lastgasp-server, a Sentry DSN or a
//! directory), with which credentials and trust, within which daily limits, and what more to
//! scrub. Resolved into the settings `lastgasp-submit` runs with.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::Deserialize;
use submit::settings::{DEFAULT_MAX_BYTES_PER_DAY, DEFAULT_MAX_REPORTS_PER_DAY, QUEUE_DIR};
use submit::{Settings, Target};

use crate::config::require_absolute;
use crate::paths::under_root;
use crate::size::ByteSize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Server,
    Sentry,
    Directory,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Sentry => "sentry",
            Self::Directory => "directory",
        }
    }
}

/// The effective `[submit]` settings, paths already under `--root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitConfig {
    pub enabled: bool,
    pub target: TargetKind,
    pub url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub proxy: Option<String>,
    pub dsn: Option<String>,
    pub directory: Option<PathBuf>,
    pub max_reports_per_day: u32,
    pub max_bytes_per_day: u64,
    pub scrub_patterns: Vec<String>,
    /// The queue, <root>/var/lib/lastgasp/submit.
    pub queue_dir: PathBuf,
}

/// The section as one file writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitSection {
    enabled: Option<bool>,
    target: Option<TargetKind>,
    url: Option<String>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    proxy: Option<String>,
    dsn: Option<String>,
    directory: Option<PathBuf>,
    max_reports_per_day: Option<u32>,
    max_bytes_per_day: Option<ByteSize>,
    scrub_patterns: Option<Vec<String>>,
}

/// Every key, for the origin bookkeeping and `lastgasp config`.
pub const KEYS: [&str; 12] = [
    "submit.enabled",
    "submit.target",
    "submit.url",
    "submit.token",
    "submit.token_file",
    "submit.ca_file",
    "submit.proxy",
    "submit.dsn",
    "submit.directory",
    "submit.max_reports_per_day",
    "submit.max_bytes_per_day",
    "submit.scrub_patterns",
];

/// What the files set so far; later files override key by key.
#[derive(Debug, Default)]
pub(crate) struct SubmitLayers {
    section: SubmitSection,
}

impl SubmitSection {
    /// The keys this file sets.
    pub(crate) fn present(&self) -> impl Iterator<Item = &'static str> {
        let set = [
            self.enabled.is_some(),
            self.target.is_some(),
            self.url.is_some(),
            self.token.is_some(),
            self.token_file.is_some(),
            self.ca_file.is_some(),
            self.proxy.is_some(),
            self.dsn.is_some(),
            self.directory.is_some(),
            self.max_reports_per_day.is_some(),
            self.max_bytes_per_day.is_some(),
            self.scrub_patterns.is_some(),
        ];
        KEYS.into_iter()
            .zip(set)
            .filter_map(|(key, present)| present.then_some(key))
    }

    fn check(&self, file: &Path) -> Result<()> {
        for (key, value) in [
            ("token_file", &self.token_file),
            ("ca_file", &self.ca_file),
            ("directory", &self.directory),
        ] {
            require_absolute(file, &format!("[submit] {key}"), value.as_deref())?;
        }
        if let Some(url) = &self.url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!(
                "{}: [submit] url {url:?} is not an https:// or http:// address",
                file.display()
            );
        }
        Ok(())
    }
}

impl SubmitLayers {
    pub(crate) fn apply(&mut self, file: SubmitSection, path: &Path) -> Result<()> {
        file.check(path)?;
        let layer = &mut self.section;
        layer.enabled = file.enabled.or(layer.enabled);
        layer.target = file.target.or(layer.target);
        layer.url = file.url.or(layer.url.take());
        layer.token = file.token.or(layer.token.take());
        layer.token_file = file.token_file.or(layer.token_file.take());
        layer.ca_file = file.ca_file.or(layer.ca_file.take());
        layer.proxy = file.proxy.or(layer.proxy.take());
        layer.dsn = file.dsn.or(layer.dsn.take());
        layer.directory = file.directory.or(layer.directory.take());
        layer.max_reports_per_day = file.max_reports_per_day.or(layer.max_reports_per_day);
        layer.max_bytes_per_day = file.max_bytes_per_day.or(layer.max_bytes_per_day.take());
        layer.scrub_patterns = file.scrub_patterns.or(layer.scrub_patterns.take());
        Ok(())
    }

    pub(crate) fn resolve(self, root: &Path) -> SubmitConfig {
        let s = self.section;
        let path = |p: Option<PathBuf>| p.map(|p| under_root(root, &p));
        SubmitConfig {
            enabled: s.enabled.unwrap_or(false),
            target: s.target.unwrap_or(TargetKind::Server),
            url: s.url,
            token: s.token,
            token_file: path(s.token_file),
            ca_file: path(s.ca_file),
            proxy: s.proxy,
            dsn: s.dsn,
            directory: path(s.directory),
            max_reports_per_day: s.max_reports_per_day.unwrap_or(DEFAULT_MAX_REPORTS_PER_DAY),
            max_bytes_per_day: s
                .max_bytes_per_day
                .map_or(DEFAULT_MAX_BYTES_PER_DAY, |b| b.0),
            scrub_patterns: s.scrub_patterns.unwrap_or_default(),
            queue_dir: under_root(root, Path::new(QUEUE_DIR)),
        }
    }
}

impl SubmitConfig {
    /// The settings `lastgasp-submit` runs with; a target without its address is an error
    /// saying which key to set.
    pub fn settings(&self, root: &Path, reports_dir: &Path) -> Result<Settings> {
        let missing = |key: &str| {
            anyhow::anyhow!(
                "[submit] target = \"{}\" needs {key} to be set",
                self.target.name()
            )
        };
        let target = match self.target {
            TargetKind::Server => Target::Server {
                url: self.url.clone().ok_or_else(|| missing("url"))?,
            },
            TargetKind::Sentry => Target::Sentry {
                dsn: self.dsn.clone().ok_or_else(|| missing("dsn"))?,
            },
            TargetKind::Directory => Target::Directory {
                path: self.directory.clone().ok_or_else(|| missing("directory"))?,
            },
        };
        let settings = Settings {
            target,
            token: self.token.clone(),
            token_file: self.token_file.clone(),
            ca_file: self.ca_file.clone(),
            proxy: self.proxy.clone(),
            max_reports_per_day: self.max_reports_per_day,
            max_bytes_per_day: self.max_bytes_per_day,
            scrub_patterns: self.scrub_patterns.clone(),
            root: root.to_path_buf(),
            reports_dir: reports_dir.to_path_buf(),
            queue_dir: self.queue_dir.clone(),
        };
        settings.check()?;
        Ok(settings)
    }

    /// Key and TOML value of every key with a value (the token shown as set, never itself).
    pub fn toml_values(&self) -> Vec<(&'static str, String)> {
        let quote = |text: &str| serde_json::Value::from(text).to_string();
        let path = |p: &Path| quote(&p.display().to_string());
        let mut values = vec![
            ("submit.enabled", self.enabled.to_string()),
            ("submit.target", quote(self.target.name())),
        ];
        let optional = [
            ("submit.url", self.url.as_deref().map(quote)),
            ("submit.token", self.token.as_ref().map(|_| quote("(set)"))),
            ("submit.token_file", self.token_file.as_deref().map(path)),
            ("submit.ca_file", self.ca_file.as_deref().map(path)),
            ("submit.proxy", self.proxy.as_deref().map(quote)),
            ("submit.dsn", self.dsn.as_deref().map(quote)),
            ("submit.directory", self.directory.as_deref().map(path)),
        ];
        values.extend(
            optional
                .into_iter()
                .filter_map(|(key, value)| value.map(|v| (key, v))),
        );
        values.push((
            "submit.max_reports_per_day",
            self.max_reports_per_day.to_string(),
        ));
        values.push((
            "submit.max_bytes_per_day",
            self.max_bytes_per_day.to_string(),
        ));
        values.push((
            "submit.scrub_patterns",
            serde_json::Value::from(self.scrub_patterns.clone()).to_string(),
        ));
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(texts: &[&str]) -> Result<SubmitConfig> {
        let mut layers = SubmitLayers::default();
        for text in texts {
            let section: SubmitSection = toml::from_str(text)?;
            layers.apply(section, Path::new("/etc/lastgasp/lastgasp.toml"))?;
        }
        Ok(layers.resolve(Path::new("/r")))
    }

    #[test]
    fn off_by_default_and_a_drop_in_turns_it_on() {
        let c = layers(&[]).unwrap();
        assert!(!c.enabled);
        assert_eq!(c.target, TargetKind::Server);
        assert_eq!(c.max_reports_per_day, 32);
        assert_eq!(c.queue_dir, Path::new("/r/var/lib/lastgasp/submit"));
        let c = layers(&[
            "url = \"https://crashes.example.org\"\ntoken_file = \"/etc/lastgasp/token\"\n",
            "enabled = true\nmax_bytes_per_day = \"1MiB\"\nscrub_patterns = [\"acme-\\\\w+\"]\n",
        ])
        .unwrap();
        assert!(c.enabled);
        assert_eq!(c.max_bytes_per_day, 1 << 20);
        assert_eq!(c.scrub_patterns, [r"acme-\w+"]);
        let settings = c
            .settings(Path::new("/r"), Path::new("/r/reports"))
            .unwrap();
        assert_eq!(
            settings.target,
            Target::Server {
                url: "https://crashes.example.org".into()
            }
        );
        assert_eq!(
            settings.token_file.as_deref(),
            Some(Path::new("/r/etc/lastgasp/token"))
        );
    }

    #[test]
    fn a_target_without_its_address_says_which_key() {
        let c = layers(&["enabled = true\ntarget = \"sentry\"\n"]).unwrap();
        let err = c.settings(Path::new("/"), Path::new("/x")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "[submit] target = \"sentry\" needs dsn to be set"
        );
        let c = layers(&["target = \"sentry\"\ndsn = \"not a dsn\"\n"]).unwrap();
        let err = c.settings(Path::new("/"), Path::new("/x")).unwrap_err();
        assert!(err.to_string().starts_with("[submit] dsn:"), "{err}");
        let err = layers(&["url = \"crashes.example.org\"\n"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("not an https:// or http:// address"),
            "{err}"
        );
        let err = layers(&["directory = \"drop\"\n"]).unwrap_err();
        assert!(
            err.to_string().contains("must be an absolute path"),
            "{err}"
        );
    }
}
