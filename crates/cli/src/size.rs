//! Byte sizes in the configuration: a plain integer, or a string with a unit such as "100MiB",
//! "64M" or "512KiB" (binary multiples; K, M, G mean KiB, MiB, GiB as in kernel parameters).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

/// Parses `"<digits>[unit]"` with unit one of B, K, KiB, M, MiB, G, GiB (case-insensitive).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let value: u64 = digits.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return None,
    };
    value.checked_mul(1u64 << shift)
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SizeVisitor)
    }
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = ByteSize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size in bytes, like 104857600 or \"100MiB\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
        Ok(ByteSize(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
        u64::try_from(v)
            .map(ByteSize)
            .map_err(|_| E::custom(format!("size must not be negative, got {v}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
        parse_size(v).map(ByteSize).ok_or_else(|| {
            E::custom(format!(
                "invalid size {v:?}: use bytes or a number with K/KiB, M/MiB or G/GiB"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_and_without_units() {
        assert_eq!(parse_size("100MiB"), Some(100 << 20));
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("512 KiB"), Some(512 << 10));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("42"), Some(42));
        assert_eq!(parse_size("42B"), Some(42));
    }

    #[test]
    fn nonsense_and_overflow_are_rejected() {
        for bad in ["", "MiB", "1.5M", "-1", "10 TB", "99999999999999999999G"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(parse_size("17179869184G"), None);
    }
}
