//! The `[setup]` section: what `lastgasp setup` arms and how (mode, backend, ramoops region,
//! crashkernel size) and the panic settings of its sysctl drop-in. Kept apart because only
//! setup reads it; the trade-offs of each key are in dist/lastgasp.toml and docs/setup.md.
//! Bad values are deserialization errors, so they name the file, line and column.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use setup::decide::PlacementWish;
use setup::model::{Backend, Mode};
use setup::sysctl;

use crate::size::ByteSize;

pub const DEFAULT_PANIC_PRINT: &str = "kdumpst";
pub const DEFAULT_PANIC_TIMEOUT: i64 = 10;
pub const DEFAULT_RAMOOPS_SIZE: u64 = 1 << 20;
pub const DEFAULT_RECORD_SIZE: u64 = 128 << 10;

/// The effective `[setup]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupConfig {
    /// `None`: auto.
    pub mode: Option<Mode>,
    /// `None`: auto.
    pub backend: Option<Backend>,
    pub placement: Placement,
    pub panic_print: u32,
    /// The preset `panic_print` names, if it names one.
    pub panic_print_preset: Option<String>,
    pub panic_on_oops: bool,
    pub panic_timeout: i64,
    pub softlockup_panic: bool,
    pub hardlockup_panic: bool,
    pub hung_task_panic: bool,
    pub rcu_stall_panic: bool,
    pub ramoops_size: u64,
    pub ramoops_record_size: u64,
    /// `None`: auto (`lastgasp estimate`).
    pub crashkernel: Option<String>,
    pub blk_device: Option<String>,
}

impl Default for SetupConfig {
    fn default() -> Self {
        Self {
            mode: None,
            backend: None,
            placement: Placement(PlacementWish::Auto),
            panic_print: sysctl::preset(DEFAULT_PANIC_PRINT).unwrap_or_default(),
            panic_print_preset: Some(DEFAULT_PANIC_PRINT.into()),
            panic_on_oops: true,
            panic_timeout: DEFAULT_PANIC_TIMEOUT,
            softlockup_panic: false,
            hardlockup_panic: true,
            hung_task_panic: false,
            rcu_stall_panic: false,
            ramoops_size: DEFAULT_RAMOOPS_SIZE,
            ramoops_record_size: DEFAULT_RECORD_SIZE,
            crashkernel: None,
            blk_device: None,
        }
    }
}

/// A name parsed with `FromStr` where "auto" means `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Auto<T>(Option<T>);

impl<'de, T: FromStr<Err = String>> Deserialize<'de> for Auto<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<T: FromStr<Err = String>> Visitor<'_> for V<T> {
            type Value = Auto<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name, or \"auto\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Auto<T>, E> {
                if v == "auto" {
                    return Ok(Auto(None));
                }
                v.parse()
                    .map(|t| Auto(Some(t)))
                    .map_err(|e: String| E::custom(format!("{e} or auto")))
            }
        }
        deserializer.deserialize_str(V(PhantomData))
    }
}

/// Where the ramoops region goes: auto, memmap or reserve_mem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement(pub PlacementWish);

impl<'de> Deserialize<'de> for Placement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "auto" => Ok(Self(PlacementWish::Auto)),
            "memmap" => Ok(Self(PlacementWish::Memmap)),
            "reserve_mem" => Ok(Self(PlacementWish::ReserveMem)),
            other => Err(de::Error::custom(format!(
                "unknown placement {other:?}: expected auto, memmap or reserve_mem"
            ))),
        }
    }
}

/// `panic_print`: a preset's name or a bit mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PanicPrint {
    value: u32,
    preset: Option<String>,
}

impl<'de> Deserialize<'de> for PanicPrint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PanicPrint;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a preset name or a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PanicPrint, E> {
                u32::try_from(v)
                    .map(|value| PanicPrint {
                        value,
                        preset: None,
                    })
                    .map_err(|_| E::custom(format!("panic_print must be a bit mask >= 0, not {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PanicPrint, E> {
                let names: Vec<&str> = sysctl::PRESETS.iter().map(|(n, ..)| *n).collect();
                sysctl::preset(v)
                    .map(|value| PanicPrint {
                        value,
                        preset: Some(v.to_string()),
                    })
                    .ok_or_else(|| {
                        E::custom(format!(
                            "unknown panic_print preset {v:?}: expected {} or a number",
                            names.join(", ")
                        ))
                    })
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `crashkernel`: "auto" or a value as the kernel parameter takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Crashkernel(Option<String>);

impl<'de> Deserialize<'de> for Crashkernel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "auto" {
            return Ok(Self(None));
        }
        let valid = !text.is_empty()
            && text.starts_with(|c: char| c.is_ascii_digit())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ',' | ':' | '@' | '-'));
        if valid {
            Ok(Self(Some(text)))
        } else {
            Err(de::Error::custom(format!(
                "crashkernel {text:?} is not \"auto\" nor a crashkernel= value such as \"256M\" or \"1G-4G:192M,4G-:256M\""
            )))
        }
    }
}

/// A ramoops record size: ramoops rounds it down to a power of two, so only those are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordSize(u64);

impl<'de> Deserialize<'de> for RecordSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ByteSize(bytes) = ByteSize::deserialize(deserializer)?;
        if bytes.is_power_of_two() && bytes >= 4096 {
            Ok(Self(bytes))
        } else {
            Err(de::Error::custom(format!(
                "ramoops_record_size must be a power of two of at least 4KiB (ramoops rounds it down), not {bytes}"
            )))
        }
    }
}

/// The section as one file writes it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetupSection {
    mode: Option<Auto<Mode>>,
    backend: Option<Auto<Backend>>,
    placement: Option<Placement>,
    panic_print: Option<PanicPrint>,
    panic_on_oops: Option<bool>,
    panic_timeout: Option<i64>,
    softlockup_panic: Option<bool>,
    hardlockup_panic: Option<bool>,
    hung_task_panic: Option<bool>,
    rcu_stall_panic: Option<bool>,
    ramoops_size: Option<ByteSize>,
    ramoops_record_size: Option<RecordSize>,
    crashkernel: Option<Crashkernel>,
    blk_device: Option<String>,
}

/// Every key, for the origin bookkeeping and `lastgasp config`.
pub const KEYS: [&str; 14] = [
    "setup.mode",
    "setup.backend",
    "setup.placement",
    "setup.panic_print",
    "setup.panic_on_oops",
    "setup.panic_timeout",
    "setup.softlockup_panic",
    "setup.hardlockup_panic",
    "setup.hung_task_panic",
    "setup.rcu_stall_panic",
    "setup.ramoops_size",
    "setup.ramoops_record_size",
    "setup.crashkernel",
    "setup.blk_device",
];

impl SetupSection {
    /// The keys this file sets.
    pub(crate) fn present(&self) -> impl Iterator<Item = &'static str> {
        let set = [
            self.mode.is_some(),
            self.backend.is_some(),
            self.placement.is_some(),
            self.panic_print.is_some(),
            self.panic_on_oops.is_some(),
            self.panic_timeout.is_some(),
            self.softlockup_panic.is_some(),
            self.hardlockup_panic.is_some(),
            self.hung_task_panic.is_some(),
            self.rcu_stall_panic.is_some(),
            self.ramoops_size.is_some(),
            self.ramoops_record_size.is_some(),
            self.crashkernel.is_some(),
            self.blk_device.is_some(),
        ];
        KEYS.into_iter()
            .zip(set)
            .filter_map(|(key, present)| present.then_some(key))
    }
}

/// What the files set so far; later files override key by key.
#[derive(Debug, Default)]
pub(crate) struct SetupLayers {
    section: SetupSection,
}

impl SetupLayers {
    pub(crate) fn apply(
        &mut self,
        file: SetupSection,
        path: &std::path::Path,
    ) -> anyhow::Result<()> {
        if let Some(device) = &file.blk_device
            && !device.starts_with('/')
        {
            anyhow::bail!(
                "{}: [setup] blk_device must be a device path such as /dev/vdb1, not {device:?}",
                path.display()
            );
        }
        let layer = &mut self.section;
        macro_rules! over {
            ($($key:ident),+) => { $(if file.$key.is_some() { layer.$key = file.$key; })+ };
        }
        over!(
            mode,
            backend,
            placement,
            panic_print,
            panic_on_oops,
            panic_timeout,
            softlockup_panic,
            hardlockup_panic,
            hung_task_panic,
            rcu_stall_panic,
            ramoops_size,
            ramoops_record_size,
            crashkernel,
            blk_device
        );
        Ok(())
    }

    pub(crate) fn resolve(self) -> SetupConfig {
        let d = SetupConfig::default();
        let s = self.section;
        let (panic_print, panic_print_preset) = match s.panic_print {
            Some(p) => (p.value, p.preset),
            None => (d.panic_print, d.panic_print_preset),
        };
        SetupConfig {
            mode: s.mode.map_or(d.mode, |m| m.0),
            backend: s.backend.map_or(d.backend, |b| b.0),
            placement: s.placement.unwrap_or(d.placement),
            panic_print,
            panic_print_preset,
            panic_on_oops: s.panic_on_oops.unwrap_or(d.panic_on_oops),
            panic_timeout: s.panic_timeout.unwrap_or(d.panic_timeout),
            softlockup_panic: s.softlockup_panic.unwrap_or(d.softlockup_panic),
            hardlockup_panic: s.hardlockup_panic.unwrap_or(d.hardlockup_panic),
            hung_task_panic: s.hung_task_panic.unwrap_or(d.hung_task_panic),
            rcu_stall_panic: s.rcu_stall_panic.unwrap_or(d.rcu_stall_panic),
            ramoops_size: s.ramoops_size.map_or(d.ramoops_size, |b| b.0),
            ramoops_record_size: s.ramoops_record_size.map_or(d.ramoops_record_size, |r| r.0),
            crashkernel: s.crashkernel.map_or(d.crashkernel, |c| c.0),
            blk_device: s.blk_device.or(d.blk_device),
        }
    }
}

impl SetupConfig {
    /// The sysctl drop-in's settings.
    pub fn sysctls(&self) -> sysctl::Sysctls {
        sysctl::Sysctls {
            panic_on_oops: self.panic_on_oops,
            panic_timeout: self.panic_timeout,
            panic_print: self.panic_print,
            panic_print_preset: self.panic_print_preset.clone(),
            softlockup_panic: self.softlockup_panic,
            hardlockup_panic: self.hardlockup_panic,
            hung_task_panic: self.hung_task_panic,
            rcu_stall_panic: self.rcu_stall_panic,
        }
    }

    /// Each key's value as `lastgasp config` prints it (TOML).
    pub fn toml_values(&self) -> Vec<(&'static str, String)> {
        let name = |n: Option<&str>| format!("{:?}", n.unwrap_or("auto"));
        let placement = match self.placement.0 {
            PlacementWish::Auto => "auto",
            PlacementWish::Memmap => "memmap",
            PlacementWish::ReserveMem => "reserve_mem",
        };
        let panic_print = match &self.panic_print_preset {
            Some(preset) => format!("{preset:?}"),
            None => self.panic_print.to_string(),
        };
        let mut values = vec![
            ("setup.mode", name(self.mode.map(Mode::name))),
            ("setup.backend", name(self.backend.map(Backend::name))),
            ("setup.placement", format!("{placement:?}")),
            ("setup.panic_print", panic_print),
            ("setup.panic_on_oops", self.panic_on_oops.to_string()),
            ("setup.panic_timeout", self.panic_timeout.to_string()),
            ("setup.softlockup_panic", self.softlockup_panic.to_string()),
            ("setup.hardlockup_panic", self.hardlockup_panic.to_string()),
            ("setup.hung_task_panic", self.hung_task_panic.to_string()),
            ("setup.rcu_stall_panic", self.rcu_stall_panic.to_string()),
            ("setup.ramoops_size", self.ramoops_size.to_string()),
            (
                "setup.ramoops_record_size",
                self.ramoops_record_size.to_string(),
            ),
            ("setup.crashkernel", name(self.crashkernel.as_deref())),
        ];
        if let Some(device) = &self.blk_device {
            values.push(("setup.blk_device", format!("{device:?}")));
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(texts: &[&str]) -> anyhow::Result<SetupConfig> {
        let mut layers = SetupLayers::default();
        for text in texts {
            let section: SetupSection = toml::from_str(text)?;
            layers.apply(section, std::path::Path::new("x.toml"))?;
        }
        Ok(layers.resolve())
    }

    #[test]
    fn defaults_are_auto_and_kdumpst() {
        let c = resolve(&[]).unwrap();
        assert_eq!(c, SetupConfig::default());
        assert_eq!((c.mode, c.backend, c.crashkernel), (None, None, None));
        assert_eq!(c.panic_print, 66);
    }

    #[test]
    fn values_parse_and_layer() {
        let c = resolve(&[
            "mode = \"both\"\npanic_print = \"steamos\"\ncrashkernel = \"256M\"\n",
            "backend = \"ramoops\"\npanic_print = 3\nplacement = \"reserve_mem\"\nramoops_size = \"2MiB\"\n",
        ])
        .unwrap();
        assert_eq!(c.mode, Some(Mode::Both));
        assert_eq!(c.backend, Some(Backend::Ramoops));
        assert_eq!((c.panic_print, c.panic_print_preset), (3, None));
        assert_eq!(c.crashkernel.as_deref(), Some("256M"));
        assert_eq!(c.placement, Placement(PlacementWish::ReserveMem));
        assert_eq!(c.ramoops_size, 2 << 20);
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        for (text, expected) in [
            (
                "mode = \"always\"",
                "unknown mode \"always\": expected pstore, kdump, both or auto",
            ),
            (
                "panic_print = \"loud\"",
                "unknown panic_print preset \"loud\"",
            ),
            ("panic_print = -1", "bit mask >= 0"),
            (
                "crashkernel = \"lots\"",
                "not \"auto\" nor a crashkernel= value",
            ),
            ("ramoops_record_size = \"100KiB\"", "power of two"),
            (
                "placement = \"top\"",
                "expected auto, memmap or reserve_mem",
            ),
        ] {
            let error = resolve(&[text]).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
        let error = resolve(&["blk_device = \"vdb1\""]).unwrap_err().to_string();
        assert!(error.contains("x.toml: [setup] blk_device"), "{error}");
    }
}
