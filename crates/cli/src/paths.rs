//! System paths resolved under `--root`, so tests and rescue systems can point the whole tool at
//! another tree. Paths the user gives on the command line are taken as they are.

/// `path` (absolute, as on a running system) inside `root`; the setup crate's, so both resolve
/// paths the same way.
pub use setup::root::under_root;

pub const PSTORE_DIR: &str = "/sys/fs/pstore";
pub const SYSTEMD_ARCHIVE: &str = "/var/lib/systemd/pstore";
pub const REPORTS_DIR: &str = "/var/lib/lastgasp/reports";
/// Configuration directories, lowest priority first (systemd's standard-conf order).
pub const CONFIG_DIRS: [&str; 3] = ["/usr/lib/lastgasp", "/run/lastgasp", "/etc/lastgasp"];
pub const CONFIG_FILE: &str = "lastgasp.toml";
pub const DROPIN_DIR: &str = "lastgasp.toml.d";

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn system_paths_move_under_the_root() {
        let root = Path::new("/tmp/fake");
        assert_eq!(
            under_root(root, Path::new(PSTORE_DIR)),
            Path::new("/tmp/fake/sys/fs/pstore")
        );
        assert_eq!(
            under_root(Path::new("/"), Path::new(REPORTS_DIR)),
            Path::new(REPORTS_DIR)
        );
    }
}
