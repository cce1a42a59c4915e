//! Arming a machine for crash collection, as `lastgasp setup` does it and `lastgasp unsetup`
//! undoes it. Parsing (`/proc/iomem`, bootloader files, the kernel command line) is kept apart
//! from the I/O, and every system path is resolved under a root directory so tests run on fake
//! trees. No clap and no printing here: the CLI owns the presentation.
//!
//! The flow: [`probe`] reads the machine's facts, [`decide`] chooses mode, backend and ramoops
//! placement and the kernel parameters, [`bootloader`] turns them into file edits and commands
//! for the boot set-up in use, [`sysctl`] writes the panic settings, and [`files`] carries the
//! edits out as one transaction with backups, or undoes them.

pub mod atomic;
pub mod bls;
pub mod bootloader;
pub mod decide;
pub mod diff;
pub mod error;
pub mod files;
pub mod grub;
pub mod iomem;
pub mod kernel;
pub mod model;
pub mod params;
pub mod probe;
pub mod record;
pub mod root;
pub mod sysctl;

pub use error::{Error, Result};
