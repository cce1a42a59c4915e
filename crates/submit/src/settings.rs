//! The effective `[submit]` settings, as `lastgasp` resolves them from its configuration files
//! and hands them to `lastgasp-submit` (JSON on its standard input), paths already under
//! `--root`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where reports go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Target {
    /// A lastgasp-server: `POST <url>/api/v1/reports`.
    Server { url: String },
    /// A Sentry project, by its DSN: one envelope per report.
    Sentry { dsn: String },
    /// A directory: one `<id>.tar.zst` per report, written atomically.
    Directory { path: PathBuf },
}

impl Target {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Server { .. } => "server",
            Self::Sentry { .. } => "sentry",
            Self::Directory { .. } => "directory",
        }
    }

    /// Where it points, for messages (a DSN without its key).
    pub fn describe(&self) -> String {
        match self {
            Self::Server { url } => url.clone(),
            Self::Sentry { dsn } => match dsn.split_once("://") {
                Some((scheme, rest)) => {
                    format!("{scheme}://{}", rest.rsplit('@').next().unwrap_or(rest))
                }
                None => dsn.clone(),
            },
            Self::Directory { path } => path.display().to_string(),
        }
    }
}

/// Like ChromeOS' crash_sender: at most 32 reports a day.
pub const DEFAULT_MAX_REPORTS_PER_DAY: u32 = 32;
pub const DEFAULT_MAX_BYTES_PER_DAY: u64 = 50 << 20;
pub const QUEUE_DIR: &str = "/var/lib/lastgasp/submit";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub target: Target,
    /// The upload token for a server target.
    pub token: Option<String>,
    /// A file holding the token (first line), read at send time.
    pub token_file: Option<PathBuf>,
    /// PEM certificates trusted besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// `http://host:port` (or `socks5://`); unset: the `HTTPS_PROXY`/`ALL_PROXY` environment.
    pub proxy: Option<String>,
    pub max_reports_per_day: u32,
    pub max_bytes_per_day: u64,
    /// Extra regular expressions to scrub.
    pub scrub_patterns: Vec<String>,
    /// The machine whose identifiers are scrubbed (`--root`).
    pub root: PathBuf,
    /// The reports to submit.
    pub reports_dir: PathBuf,
    /// The queue: one state file per report, and the archive waiting to go.
    pub queue_dir: PathBuf,
}

impl Settings {
    /// Checks what the configuration files cannot: a target address that can work.
    pub fn check(&self) -> Result<()> {
        match &self.target {
            Target::Server { url } => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(Error::Config {
                        key: "url",
                        why: format!("{url:?} is not an http:// or https:// address"),
                    });
                }
                if self.token.is_none() && self.token_file.is_none() {
                    return Err(Error::Config {
                        key: "token",
                        why: "a server target needs token or token_file".into(),
                    });
                }
            }
            Target::Sentry { dsn } => {
                crate::target::sentry::Dsn::parse(dsn)?;
            }
            Target::Directory { path } => {
                if !path.is_absolute() {
                    return Err(Error::Config {
                        key: "directory",
                        why: format!("{} is not an absolute path", path.display()),
                    });
                }
            }
        }
        Ok(())
    }

    /// The upload token: `token`, else the first line of `token_file`.
    pub fn token(&self) -> Result<Option<String>> {
        if let Some(token) = &self.token {
            return Ok(Some(token.clone()));
        }
        let Some(file) = &self.token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(file).map_err(Error::io(file))?;
        match text.lines().next().map(str::trim).filter(|t| !t.is_empty()) {
            Some(token) => Ok(Some(token.to_string())),
            None => Err(Error::Invalid {
                path: file.clone(),
                why: "the token file is empty".into(),
            }),
        }
    }
}

/// What `lastgasp submit` hands `lastgasp-submit` on its standard input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub settings: Settings,
    pub dry_run: bool,
    /// Send queued reports now instead of waiting out their backoff (Retry-After still holds).
    pub now: bool,
    pub json: bool,
}
