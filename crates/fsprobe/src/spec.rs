//! How a user names a filesystem, as in fstab: `UUID=...`, `LABEL=...` or a device path.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Uuid(String),
    Label(String),
    /// A device node such as /dev/vda1 or /dev/disk/by-uuid/..., as on the running system.
    Path(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not UUID=..., LABEL=... or an absolute device path")]
pub struct SpecError(pub String);

impl Spec {
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        let text = text.trim();
        let spec = if let Some(uuid) = strip_key(text, "UUID=") {
            Spec::Uuid(uuid.to_string())
        } else if let Some(label) = strip_key(text, "LABEL=") {
            Spec::Label(label.to_string())
        } else if text.starts_with('/') {
            Spec::Path(PathBuf::from(text))
        } else {
            return Err(SpecError(text.to_string()));
        };
        match &spec {
            Spec::Uuid(value) | Spec::Label(value) if value.is_empty() => {
                Err(SpecError(text.to_string()))
            }
            _ => Ok(spec),
        }
    }

    /// Whether a filesystem's UUID or label is the one asked for. UUIDs compare without regard
    /// to case (blkid prints FAT's in upper case); labels exactly.
    pub fn matches(&self, uuid: Option<&str>, label: Option<&str>) -> bool {
        match self {
            Spec::Uuid(wanted) => uuid.is_some_and(|u| u.eq_ignore_ascii_case(wanted)),
            Spec::Label(wanted) => label == Some(wanted.as_str()),
            Spec::Path(_) => false,
        }
    }
}

fn strip_key<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let head = text.get(..key.len())?;
    head.eq_ignore_ascii_case(key)
        .then(|| text.get(key.len()..))
        .flatten()
        .map(|value| value.trim_matches('"'))
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Uuid(uuid) => write!(f, "UUID={uuid}"),
            Spec::Label(label) => write!(f, "LABEL={label}"),
            Spec::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            Spec::parse("UUID=3e6be9de-8139-4a2a-a8f5-7a2e1b0c9d11").unwrap(),
            Spec::Uuid("3e6be9de-8139-4a2a-a8f5-7a2e1b0c9d11".into())
        );
        assert_eq!(
            Spec::parse("LABEL=\"crash dumps\"").unwrap(),
            Spec::Label("crash dumps".into())
        );
        assert_eq!(
            Spec::parse("/dev/vda1").unwrap(),
            Spec::Path("/dev/vda1".into())
        );
        assert_eq!(
            Spec::parse("vda1").unwrap_err().to_string(),
            "\"vda1\" is not UUID=..., LABEL=... or an absolute device path"
        );
        assert!(Spec::parse("UUID=").is_err());
    }

    #[test]
    fn uuids_match_in_any_case_labels_exactly() {
        let fat = Spec::parse("UUID=1a2b-3c4d").unwrap();
        assert!(fat.matches(Some("1A2B-3C4D"), None));
        let label = Spec::parse("LABEL=dumps").unwrap();
        assert!(label.matches(None, Some("dumps")));
        assert!(!label.matches(None, Some("DUMPS")));
        assert_eq!(label.to_string(), "LABEL=dumps");
    }
}
