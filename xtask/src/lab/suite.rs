//! The Debian releases whose kernels the lab boots: bookworm's 6.1 (the host's own release, its
//! package index is the host's) and trixie's 6.12 (fetched through a package index of its own
//! under the lab's cache, so the host is never upgraded).

/// A Debian release, by the kernel series it ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    Bookworm,
    Trixie,
}

impl Suite {
    /// Every suite, oldest first.
    pub const ALL: [Suite; 2] = [Suite::Bookworm, Suite::Trixie];

    /// Debian's code name.
    pub fn codename(self) -> &'static str {
        match self {
            Suite::Bookworm => "bookworm",
            Suite::Trixie => "trixie",
        }
    }

    /// The kernel series, as scenario names and fixture folders show it.
    pub fn kernel(self) -> &'static str {
        match self {
            Suite::Bookworm => "6.1",
            Suite::Trixie => "6.12",
        }
    }

    /// Whether the host's own package index serves it.
    pub fn is_host(self) -> bool {
        self == Suite::Bookworm
    }

    /// Parses `6.1`, `6.12`, `bookworm` or `trixie`.
    pub fn parse(word: &str) -> Option<Suite> {
        Suite::ALL
            .into_iter()
            .find(|suite| word == suite.kernel() || word == suite.codename())
    }

    /// The suffix a scenario name gets on this kernel: none on the host's, `-6.12` otherwise, so
    /// the existing scenario names keep meaning what they meant.
    pub fn name_suffix(self) -> String {
        if self.is_host() {
            String::new()
        } else {
            format!("-{}", self.kernel())
        }
    }
}
