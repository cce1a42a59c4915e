//! What setup did to each file, as it is kept in setup.json so that unsetup can undo exactly
//! that: a file it created is removed, a file it edited gets its own lines taken out again (the
//! backup holds the original byte for byte).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileAction {
    /// The file did not exist; unsetup removes it.
    Created,
    /// The file existed; setup added its marked lines or parameters and kept the original.
    Edited,
}

/// One file setup wrote. Paths are as on the running system (absolute, not under a root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: PathBuf,
    pub action: FileAction,
    /// The original content, kept under /var/lib/lastgasp/setup-backup/; `None` for a created file.
    pub backup: Option<PathBuf>,
    /// SHA-256 (hex) of what setup wrote: unsetup restores the backup byte for byte only while
    /// the file still has it, and otherwise takes out only setup's own part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}
