//! Consented submission of crash reports (`lastgasp submit`): privacy scrubbing, the offline
//! queue with backoff and daily rate limits, and the targets (a lastgasp-server, a Sentry DSN, a
//! directory). The network half (feature `http`, on by default) lives in the `lastgasp-submit`
//! program, so the static `lastgasp` that runs in a capture kernel carries no TLS; `lastgasp`
//! itself uses this crate without it, for the settings type and the queue's state.

pub mod backoff;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod identifiers;
pub mod limits;
pub mod payload;
pub mod queue;
#[cfg(feature = "http")]
pub mod run;
pub mod scrub;
pub mod settings;
pub mod target;

pub use error::{Error, Result};
pub use settings::{Settings, Target};
