//! `lastgasp submit`: checks that submitting is turned on, resolves the `[submit]` settings and
//! hands them to `lastgasp-submit`, which scrubs, queues and sends. The sender is a program of
//! its own so that TLS stays out of this binary, which also runs in the capture kernel.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use submit::settings::Request;

use crate::cli::SubmitArgs;
use crate::commands::Exit;
use crate::config::Config;
use crate::output;

/// Where the packages install the sender.
const INSTALLED: &str = "/usr/lib/lastgasp/lastgasp-submit";

const HOW_TO_ENABLE: &str = "\
Submitting crash reports is off, so nothing was sent. To turn it on, write for example
/etc/lastgasp/lastgasp.toml.d/50-submit.toml:
  [submit]
  url = \"https://crashes.example.org\"
  token_file = \"/etc/lastgasp/submit-token\"
(or target = \"sentry\" with dsn = \"...\", or target = \"directory\" with directory = \"...\"),
check with `lastgasp submit --dry-run` what would leave this machine, then add
  enabled = true
and run `systemctl enable --now lastgasp-submit.timer`.";

pub fn run(config: &Config, root: &Path, args: &SubmitArgs) -> Result<()> {
    let submit = &config.submit;
    // A dry run sends nothing, so it may show what would go before submitting is turned on,
    // once a target is configured.
    let preview = !submit.enabled && args.dry_run;
    let settings = match submit.settings(root, &config.reports_dir) {
        Ok(settings) if submit.enabled || preview => Some(settings),
        Err(e) if submit.enabled => return Err(e),
        _ => None,
    };
    let Some(settings) = settings else {
        if args.json {
            let answer = serde_json::json!({ "enabled": false, "sent": [], "how": HOW_TO_ENABLE });
            output::line(&serde_json::to_string_pretty(&answer)?)?;
        } else {
            output::line(HOW_TO_ENABLE)?;
        }
        return Ok(());
    };
    let request = Request {
        settings,
        dry_run: args.dry_run,
        now: args.now,
        json: args.json,
    };
    let helper = sender()?;
    let mut child = Command::new(&helper)
        .stdin(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", helper.display()))?;
    let mut stdin = child.stdin.take().context("no pipe to lastgasp-submit")?;
    stdin
        .write_all(&serde_json::to_vec(&request)?)
        .with_context(|| format!("cannot pass the request to {}", helper.display()))?;
    drop(stdin);
    let status = child.wait()?;
    match status.code() {
        Some(0) => Ok(()),
        // The sender said why already.
        Some(code) => Err(Exit(u8::try_from(code).unwrap_or(1)).into()),
        None => bail!("{} was killed ({status})", helper.display()),
    }
}

/// The sender: `LASTGASP_SUBMIT` when set, else next to this program (a build tree), else where
/// the packages put it.
fn sender() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("LASTGASP_SUBMIT") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context("cannot find this program's own file")?;
    let sibling = exe.with_file_name("lastgasp-submit");
    if sibling.is_file() {
        return Ok(sibling);
    }
    if Path::new(INSTALLED).is_file() {
        return Ok(PathBuf::from(INSTALLED));
    }
    bail!(
        "lastgasp-submit, which does the sending, is neither next to {} nor at {INSTALLED}",
        exe.display()
    )
}
