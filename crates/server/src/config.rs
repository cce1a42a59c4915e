//! The server's TOML configuration (`--config`): upload tokens (what machines send with their
//! reports), admin tokens (what people and Prometheus read with), and the upload limits.
//!
//! ```toml
//! [[upload-tokens]]
//! name = "fleet-a"
//! token = "a long random string"
//! per-minute = 600          # uploads a minute, the burst too
//!
//! [[admin-tokens]]
//! name = "ops"
//! token = "another long random string"
//!
//! [limits]
//! max-upload-bytes = 8388608
//! max-unpacked-bytes = 67108864
//! max-entries = 256
//!
//! [netconsole]              # the UDP receiver; --netconsole ADDR overrides listen
//! listen = "0.0.0.0:6666"
//! max-lines = 4000          # kept per sender, oldest dropped first
//! max-bytes = 262144        # kept per sender
//! max-senders = 1024        # the sender heard from least recently is forgotten first
//! quiet-seconds = 3         # silence after an oops before it is reported
//! max-wait-seconds = 30     # longest wait for a sender that keeps talking
//! ```
//!
//! With no admin token configured, the read API, the dashboard and /metrics are open (for a
//! server on a private network); with one, they need `Authorization: Bearer <admin token>`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::ingest;

/// Shortest token accepted: anything shorter is guessable.
const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    #[serde(default)]
    pub upload_tokens: Vec<Token>,
    #[serde(default)]
    pub admin_tokens: Vec<Token>,
    #[serde(default)]
    pub limits: Limits,
    /// The netconsole receiver (off unless `listen` or `--netconsole` gives an address).
    #[serde(default)]
    pub netconsole: crate::netconsole::Settings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Token {
    /// Shown in logs and stored with each report; never the secret.
    pub name: String,
    pub token: String,
    /// Requests a minute; the bucket holds as many, so a burst that size goes through at once.
    #[serde(default = "default_per_minute")]
    pub per_minute: u32,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Limits {
    pub max_upload_bytes: u64,
    pub max_unpacked_bytes: u64,
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let d = ingest::Limits::default();
        Self {
            max_upload_bytes: d.max_upload,
            max_unpacked_bytes: d.max_unpacked,
            max_entries: d.max_entries,
        }
    }
}

impl From<Limits> for ingest::Limits {
    fn from(l: Limits) -> Self {
        Self {
            max_upload: l.max_upload_bytes,
            max_unpacked: l.max_unpacked_bytes,
            max_entries: l.max_entries,
        }
    }
}

fn default_per_minute() -> u32 {
    600
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {error}")]
    Parse { path: PathBuf, error: String },
    #[error("{path}: {why}")]
    Invalid { path: PathBuf, why: String },
}

/// Which kind of caller a bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Upload { name: String, per_minute: u32 },
    Admin { name: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            error: e.message().to_owned(),
        })?;
        config.check().map_err(|why| ConfigError::Invalid {
            path: path.to_owned(),
            why,
        })?;
        Ok(config)
    }

    /// Tokens long enough, names unique, no token both an upload and an admin token.
    pub fn check(&self) -> Result<(), String> {
        let all = self.upload_tokens.iter().chain(&self.admin_tokens);
        let mut names = std::collections::BTreeSet::new();
        let mut secrets = std::collections::BTreeSet::new();
        for token in all {
            if token.token.len() < MIN_TOKEN_LEN {
                return Err(format!(
                    "token {:?} is shorter than {MIN_TOKEN_LEN} characters",
                    token.name
                ));
            }
            if !names.insert(token.name.as_str()) {
                return Err(format!("token name {:?} is used twice", token.name));
            }
            if !secrets.insert(token.token.as_str()) {
                return Err(format!(
                    "token {:?} repeats another token's secret (upload and admin tokens must differ)",
                    token.name
                ));
            }
            if token.per_minute == 0 {
                return Err(format!(
                    "token {:?}: per-minute must be at least 1",
                    token.name
                ));
            }
        }
        if self.limits.max_upload_bytes == 0 || self.limits.max_unpacked_bytes == 0 {
            return Err("limits must be above 0".into());
        }
        self.netconsole.check()
    }

    /// The role of the caller presenting `secret`. Compares digests so the time taken does not
    /// tell how much of a token was right.
    pub fn role(&self, secret: &str) -> Option<Role> {
        let digest = Sha256::digest(secret.as_bytes());
        let same = |t: &Token| Sha256::digest(t.token.as_bytes()) == digest;
        if let Some(t) = self.upload_tokens.iter().find(|t| same(t)) {
            return Some(Role::Upload {
                name: t.name.clone(),
                per_minute: t.per_minute,
            });
        }
        self.admin_tokens
            .iter()
            .find(|t| same(t))
            .map(|t| Role::Admin {
                name: t.name.clone(),
            })
    }

    /// Reads need no token when no admin token is configured.
    pub fn reads_open(&self) -> bool {
        self.admin_tokens.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str, secret: &str) -> Token {
        Token {
            name: name.into(),
            token: secret.into(),
            per_minute: 5,
        }
    }

    #[test]
    fn roles_are_kept_apart() {
        let config = Config {
            upload_tokens: vec![token("up", "upload-secret-0123456789")],
            admin_tokens: vec![token("adm", "admin-secret-0123456789")],
            ..Config::default()
        };
        assert!(config.check().is_ok());
        assert!(matches!(
            config.role("upload-secret-0123456789"),
            Some(Role::Upload { .. })
        ));
        assert!(matches!(
            config.role("admin-secret-0123456789"),
            Some(Role::Admin { .. })
        ));
        assert_eq!(config.role("upload-secret-012345678"), None);
        assert!(!config.reads_open());
    }

    #[test]
    fn bad_configs_are_refused() {
        let short = Config {
            upload_tokens: vec![token("up", "short")],
            ..Config::default()
        };
        assert!(short.check().unwrap_err().contains("shorter"));
        let shared = Config {
            upload_tokens: vec![token("up", "same-secret-0123456789")],
            admin_tokens: vec![token("adm", "same-secret-0123456789")],
            ..Config::default()
        };
        assert!(shared.check().unwrap_err().contains("must differ"));
    }

    #[test]
    fn toml_is_read_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(
            &path,
            "[[upload-tokens]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\n[limits]\nmax-entries = 9\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.upload_tokens[0].per_minute, 600);
        assert_eq!(config.limits.max_entries, 9);
        assert_eq!(config.limits.max_upload_bytes, 8 << 20);
        std::fs::write(&path, "[[upload-tokens]]\nname = 1\n").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
    }
}
