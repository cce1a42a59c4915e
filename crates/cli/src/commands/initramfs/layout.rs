//! Where things are inside the capture initramfs: shared by the builder and by /init, so the
//! two cannot disagree.

/// The lastgasp binary itself.
pub const INIT: &str = "init";
/// The capture settings, at the standard configuration path so `Config::load` finds them.
pub const CONFIG: &str = "etc/lastgasp/lastgasp.toml";
/// Module files to load, one image path a line, in load order.
pub const MODULE_LIST: &str = "etc/lastgasp/initramfs-modules";
