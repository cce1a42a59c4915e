//! Arming a machine for crash collection, as `lastgasp setup` does it and `lastgasp unsetup`
//! undoes it. Parsing (`/proc/iomem`, bootloader files, the kernel command line) is kept apart
//! from the I/O, and every system path is resolved under a root directory so tests run on fake
//! trees. No clap and no printing here: the CLI owns the presentation.

pub mod atomic;
pub mod error;
pub mod model;
pub mod record;
pub mod root;

pub use error::{Error, Result};
