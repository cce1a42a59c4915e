//! Crash reports on disk: the manifest model (`report.json`, format version 1), a durable writer
//! that only ever exposes complete reports, the reader behind `list`/`show`, retention and export.
//!
//! The layout is documented in `docs/report-format.md`; `docs/report.schema.json` is the JSON
//! Schema every manifest written here validates against.

mod attach;
mod context;
mod durable;
mod error;
mod export;
mod held;
mod id;
mod integrity;
mod manifest;
mod new_report;
mod retention;
mod store;
mod tombstones;

pub use context::{CONTEXT_DIR, ContextItem, ContextKind, Describes};
pub use error::Error;
pub use export::{ArchiveFormat, ExportOutcome};
pub use id::{is_valid_id, report_id};
pub use manifest::{
    DumpEntry, FORMAT_VERSION, FileEntry, KdumpDump, KdumpEntry, Manifest, RecordDecoding,
    RecordEntry, RecordOrigin,
};
pub use new_report::{AttachedFile, NewReport, ReportFile};
pub use retention::{Pruned, Retention};
pub use store::{Listed, Loaded, Store, WriteOutcome};
