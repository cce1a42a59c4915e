//! The library's one error type: every variant names the file or the target it is about, so the
//! command prints one line that says what went wrong where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {why}", path.display())]
    Invalid { path: PathBuf, why: String },
    #[error("report {id}: {source}")]
    Report {
        id: String,
        #[source]
        source: report::Error,
    },
    #[error("{0}")]
    Setup(#[from] setup::Error),
    #[error("[submit] {key}: {why}")]
    Config { key: &'static str, why: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A mapper for `map_err` that ties an I/O error to its path.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
