//! Configuration through the binary: standard-conf precedence, `--config`, and errors that name
//! the file and line. `list` prints the effective reports directory when it is empty, which makes
//! the merged result visible.

mod common;

use common::{FakeRoot, stderr_of, stdout_of};

fn effective_reports_dir(root: &FakeRoot) -> String {
    let out = root.cmd().arg("list").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    let dir = stdout.trim_end().strip_prefix("no reports in ").unwrap();
    dir.strip_prefix(root.path().to_str().unwrap())
        .unwrap()
        .to_string()
}

#[test]
fn later_files_win_and_etc_replaces_same_named_dropins() {
    let root = FakeRoot::new();
    assert_eq!(effective_reports_dir(&root), "/var/lib/lastgasp/reports");

    root.file(
        "usr/lib/lastgasp/lastgasp.toml",
        "[reports]\ndir = \"/vendor\"\n",
    );
    assert_eq!(effective_reports_dir(&root), "/vendor");
    root.file(
        "etc/lastgasp/lastgasp.toml",
        "[reports]\ndir = \"/admin\"\n",
    );
    assert_eq!(effective_reports_dir(&root), "/admin");

    root.file(
        "usr/lib/lastgasp/lastgasp.toml.d/50-dir.toml",
        "[reports]\ndir = \"/vendor-dropin\"\n",
    );
    assert_eq!(effective_reports_dir(&root), "/vendor-dropin");
    root.file(
        "run/lastgasp/lastgasp.toml.d/50-dir.toml",
        "[reports]\ndir = \"/run-dropin\"\n",
    );
    assert_eq!(effective_reports_dir(&root), "/run-dropin");
    root.file(
        "etc/lastgasp/lastgasp.toml.d/50-dir.toml",
        "[reports]\ndir = \"/etc-dropin\"\n",
    );
    assert_eq!(effective_reports_dir(&root), "/etc-dropin");

    // Sorted by file name across directories: a later name in /usr/lib beats an earlier one in
    // /etc, and a drop-in that sets another key leaves `dir` alone.
    root.file(
        "usr/lib/lastgasp/lastgasp.toml.d/90-late.toml",
        "[reports]\ndir = \"/late\"\n",
    );
    root.file(
        "etc/lastgasp/lastgasp.toml.d/95-other.toml",
        "[reports]\nmax_reports = 3\n",
    );
    assert_eq!(effective_reports_dir(&root), "/late");

    // An empty file (or a symlink to /dev/null) in /etc masks the vendor drop-in.
    root.file("etc/lastgasp/lastgasp.toml.d/90-late.toml", "");
    assert_eq!(effective_reports_dir(&root), "/etc-dropin");
}

#[test]
fn explicit_config_replaces_the_standard_files() {
    let root = FakeRoot::new();
    root.file(
        "etc/lastgasp/lastgasp.toml",
        "[reports]\ndir = \"/admin\"\n",
    );
    let mine = root.file("my.toml", "[reports]\ndir = \"/mine\"\n");
    let out = root
        .cmd()
        .arg("--config")
        .arg(&mine)
        .arg("list")
        .output()
        .unwrap();
    let expected = format!("no reports in {}/mine\n", root.path().display());
    assert_eq!(stdout_of(&out), expected);
    // The command-line directory beats every file.
    let out = root
        .cmd()
        .args(["--reports-dir", "/nowhere/reports", "list"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), "no reports in /nowhere/reports\n");
}

#[test]
fn unknown_key_is_an_error_naming_file_and_line() {
    let root = FakeRoot::new();
    let file = root.file(
        "etc/lastgasp/lastgasp.toml.d/20-typo.toml",
        "# keep fewer\n[reports]\nmax_report = 3\n",
    );
    let out = root.cmd().arg("list").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: {}:3:1: unknown field `max_report`",
            file.display()
        )),
        "{stderr}"
    );
    // save must not collect anything with a configuration it does not understand.
    root.record("dmesg-ramoops-0", b"Panic#1 Part1\n<0>[ 1.0] x\n", None);
    let out = root.cmd().arg("save").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(root.pstore_files(), ["dmesg-ramoops-0"]);
}

#[test]
fn bad_values_and_syntax_errors_name_the_line() {
    let root = FakeRoot::new();
    let file = root.file(
        "etc/lastgasp/lastgasp.toml",
        "[pstore]\nkeep = true\nmax_record_bytes = \"lots\"\n",
    );
    let out = root.cmd().arg("list").output().unwrap();
    let stderr = stderr_of(&out);
    assert!(
        stderr.starts_with(&format!("error: {}:3:", file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("invalid size \"lots\""), "{stderr}");

    root.file("etc/lastgasp/lastgasp.toml", "[reports\n");
    let out = root.cmd().arg("list").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).starts_with(&format!("error: {}:1:", file.display())));
}

#[test]
fn analyze_works_despite_a_broken_config() {
    let root = FakeRoot::new();
    root.file("etc/lastgasp/lastgasp.toml", "nonsense = 1\n");
    let log = root.file(
        "log.txt",
        "<0>[    1.000000] Kernel panic - not syncing: test\n",
    );
    let out = root.cmd().arg("analyze").arg(&log).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn config_command_shows_values_and_their_origin() {
    let root = FakeRoot::new();
    let dropin = root.file(
        "etc/lastgasp/lastgasp.toml.d/50-small.toml",
        "[reports]\nmax_reports = 5\nmax_bytes = \"1M\"\n",
    );
    let out = root.cmd().arg("config").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!("max_reports = 5  # {}\n", dropin.display())),
        "{text}"
    );
    assert!(text.contains("max_bytes = 1048576  # "), "{text}");
    assert!(text.contains("keep = false  # default\n"), "{text}");
    assert!(text.ends_with(&format!(
        "# Files read, in order:\n#   {}\n",
        dropin.display()
    )));
    // The output is TOML a drop-in could hold (minus the comments).
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(parsed["reports"]["max_reports"].as_integer(), Some(5));

    let out = root
        .cmd()
        .args(["--pstore-dir", "/elsewhere", "config", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["pstore"]["dir"], "/elsewhere");
    assert_eq!(json["origins"]["pstore.dir"], "command line");
    assert_eq!(
        json["origins"]["reports.max_reports"],
        dropin.display().to_string()
    );
    assert_eq!(json["origins"]["pstore.keep"], "default");
    assert_eq!(json["reports"]["max_bytes"], 1 << 20);
}
