//! Who this process runs as, for telling "not root" apart from the kernel's other reasons for
//! EPERM.

/// The effective uid is 0.
pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    #[test]
    fn agrees_with_proc_self_status() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let effective = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .unwrap();
        assert_eq!(super::running_as_root(), effective == "0");
    }
}
