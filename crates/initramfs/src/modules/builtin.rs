//! What is built into the kernel and needs no file: `modules.builtin` (one module path a
//! line) and `modules.builtin.modinfo` (NUL-separated `module.key=value` strings, of which the
//! `alias` keys tell which devices and filesystems a built-in module serves).

use super::{Alias, ParseError, module_name, normalize};

pub fn parse_names(text: &str) -> Result<Vec<String>, ParseError> {
    let mut names = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = module_name(line)
            .ok_or_else(|| ParseError::new("modules.builtin", index + 1, "not a .ko path", line))?;
        names.push(name);
    }
    Ok(names)
}

/// The aliases of built-in modules. Other keys (description, license, parm...) are skipped.
pub fn parse_modinfo(bytes: &[u8]) -> Result<Vec<Alias>, ParseError> {
    let mut aliases = Vec::new();
    for (index, record) in bytes.split(|&b| b == 0).enumerate() {
        if record.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(record);
        let error = |what: &str| ParseError::new("modules.builtin.modinfo", index + 1, what, &text);
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| error("no '=' in the string"))?;
        let (module, field) = key
            .split_once('.')
            .ok_or_else(|| error("no '.' between module and key"))?;
        if field == "alias" {
            aliases.push(Alias {
                pattern: value.to_string(),
                module: normalize(module),
            });
        }
    }
    Ok(aliases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_builtin_names_and_aliases() {
        let names =
            parse_names("kernel/fs/ext4/ext4.ko\nkernel/drivers/virtio/virtio_pci.ko\n").unwrap();
        assert_eq!(names, ["ext4", "virtio_pci"]);
        let modinfo = b"ext4.license=GPL\0ext4.alias=fs-ext4\0ext4.alias=ext3\0virtio_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0";
        let aliases = parse_modinfo(modinfo).unwrap();
        assert_eq!(aliases.len(), 3);
        assert_eq!(aliases[0].pattern, "fs-ext4");
        assert_eq!(aliases[2].module, "virtio_pci");
        let error = parse_modinfo(b"ext4.license=GPL\0garbage\0").unwrap_err();
        assert!(
            error.to_string().contains("modules.builtin.modinfo"),
            "{error}"
        );
    }
}
