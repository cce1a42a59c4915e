//! `lastgasp config`: the merged settings and where each value came from, so "why does it keep
//! 50 reports?" has an answer without reading every drop-in.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use crate::cli::ConfigArgs;
use crate::config::Config;
use crate::output;

pub fn run(config: &Config, args: &ConfigArgs) -> Result<()> {
    if args.json {
        output::line(&serde_json::to_string_pretty(&as_json(config))?)?;
    } else {
        output::emit(&as_toml(config))?;
    }
    Ok(())
}

fn origin(config: &Config, key: &str) -> String {
    config
        .origins
        .get(key)
        .cloned()
        .unwrap_or_else(|| "default".to_string())
}

/// TOML a reader can paste into a drop-in; strings quoted the JSON way, which TOML accepts.
fn as_toml(config: &Config) -> String {
    let quote = |p: &Path| serde_json::Value::from(p.display().to_string()).to_string();
    let mut out = String::from("[reports]\n");
    entry(&mut out, config, "reports.dir", quote(&config.reports_dir));
    entry(
        &mut out,
        config,
        "reports.max_reports",
        config.max_reports.to_string(),
    );
    entry(
        &mut out,
        config,
        "reports.max_bytes",
        config.max_bytes.to_string(),
    );
    out.push_str("\n[pstore]\n");
    entry(&mut out, config, "pstore.dir", quote(&config.pstore_dir));
    entry(
        &mut out,
        config,
        "pstore.systemd_archive",
        quote(&config.systemd_archive),
    );
    entry(&mut out, config, "pstore.keep", config.keep.to_string());
    entry(
        &mut out,
        config,
        "pstore.max_record_bytes",
        config.max_record_bytes.to_string(),
    );
    kdump_toml(&mut out, config);
    collect_toml(&mut out, config);
    setup_toml(&mut out, config);
    out.push_str("\n[submit]\n");
    for (key, value) in config.submit.toml_values() {
        entry(&mut out, config, key, value);
    }
    if !config.sources.is_empty() {
        out.push_str("\n# Files read, in order:\n");
        for file in &config.sources {
            let _ = writeln!(out, "#   {}", file.display());
        }
    }
    out
}

fn kdump_toml(out: &mut String, config: &Config) {
    let kdump = &config.kdump;
    let text = |t: &str| serde_json::Value::from(t).to_string();
    let path = |p: &Path| text(&p.display().to_string());
    out.push_str("\n[kdump]\n");
    // Keys whose default is "decided at run time" are shown commented out, so the output stays
    // valid TOML that a drop-in can take as it is.
    let optional = |out: &mut String, key: &str, value: Option<String>| match value {
        Some(value) => entry(out, config, key, value),
        None => {
            let name = key.rsplit('.').next().unwrap_or(key);
            let _ = writeln!(out, "#{name} =  # default: decided at run time");
        }
    };
    optional(out, "kdump.kernel", kdump.kernel.as_deref().map(path));
    optional(out, "kdump.initrd", kdump.initrd.as_deref().map(path));
    entry(
        out,
        config,
        "kdump.cmdline_append",
        text(&kdump.cmdline_append),
    );
    optional(out, "kdump.target", kdump.target.as_deref().map(text));
    entry(out, config, "kdump.dir", path(&kdump.dir));
    entry(out, config, "kdump.dump", kdump.dump.to_string());
    entry(
        out,
        config,
        "kdump.dump_level",
        kdump.dump_level.to_string(),
    );
    entry(
        out,
        config,
        "kdump.compression",
        text(kdump.compression.name()),
    );
}

fn setup_toml(out: &mut String, config: &Config) {
    out.push_str("\n[setup]\n");
    for (key, value) in config.setup.toml_values() {
        entry(out, config, key, value);
    }
}

fn collect_toml(out: &mut String, config: &Config) {
    let collect = &config.collect;
    out.push_str("\n[collect]\n");
    let values = [
        collect.journal_tail.to_string(),
        collect.os_release.to_string(),
        collect.kernel_package.to_string(),
        collect.dmi.to_string(),
        collect.firmware.to_string(),
    ];
    for (key, value) in crate::config_collect::KEYS.into_iter().zip(values) {
        entry(out, config, key, value);
    }
}

/// `name = value  # origin` for the key `section.name`.
fn entry(out: &mut String, config: &Config, key: &str, value: String) {
    let name = key.rsplit('.').next().unwrap_or(key);
    let _ = writeln!(out, "{name} = {value}  # {}", origin(config, key));
}

fn as_json(config: &Config) -> serde_json::Value {
    let keys = [
        "reports.dir",
        "reports.max_reports",
        "reports.max_bytes",
        "pstore.dir",
        "pstore.systemd_archive",
        "pstore.keep",
        "pstore.max_record_bytes",
    ];
    let origins: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .chain(&crate::config_kdump::KEYS)
        .chain(&crate::config_collect::KEYS)
        .chain(&crate::config_setup::KEYS)
        .chain(&crate::config_submit::KEYS)
        .map(|k| (k.to_string(), origin(config, k).into()))
        .collect();
    json!({
        "reports": {
            "dir": config.reports_dir,
            "max_reports": config.max_reports,
            "max_bytes": config.max_bytes,
        },
        "pstore": {
            "dir": config.pstore_dir,
            "systemd_archive": config.systemd_archive,
            "keep": config.keep,
            "max_record_bytes": config.max_record_bytes,
        },
        "kdump": {
            "kernel": config.kdump.kernel,
            "initrd": config.kdump.initrd,
            "cmdline_append": config.kdump.cmdline_append,
            "target": config.kdump.target,
            "dir": config.kdump.dir,
            "dump": config.kdump.dump,
            "dump_level": config.kdump.dump_level,
            "compression": config.kdump.compression,
        },
        "setup": toml_values_json(config.setup.toml_values(), "setup."),
        "collect": {
            "journal_tail": config.collect.journal_tail,
            "os_release": config.collect.os_release,
            "kernel_package": config.collect.kernel_package,
            "dmi": config.collect.dmi,
            "firmware": config.collect.firmware,
        },
        "submit": toml_values_json(config.submit.toml_values(), "submit."),
        "origins": origins,
        "files": config.sources,
    })
}

/// `(section.key, TOML value)` pairs as a JSON object of the keys without their section.
fn toml_values_json(
    values: Vec<(&'static str, String)>,
    section: &str,
) -> serde_json::Map<String, serde_json::Value> {
    values
        .into_iter()
        .map(|(key, value)| {
            let name = key.trim_start_matches(section).to_string();
            let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|t| serde_json::to_value(&t["v"]).ok())
                .unwrap_or(serde_json::Value::String(value));
            (name, value)
        })
        .collect()
}
