//! Shell completions for bash, zsh and fish, generated from the `lastgasp` clap definition (the
//! same source the man pages and `--help` come from), so they always know every command and flag.

use anyhow::Result;
use clap_complete::Generator;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Each shell's completion script.
pub fn scripts() -> Result<Vec<(Shell, Vec<u8>)>> {
    Ok(vec![
        (Shell::Bash, render(clap_complete::Shell::Bash)),
        (Shell::Zsh, render(clap_complete::Shell::Zsh)),
        (Shell::Fish, render(clap_complete::Shell::Fish)),
    ])
}

fn render(shell: impl Generator) -> Vec<u8> {
    let mut command = lastgasp::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "lastgasp", &mut script);
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn script(shell: Shell) -> String {
        let scripts = scripts().unwrap();
        let (_, bytes) = scripts.iter().find(|(s, _)| *s == shell).unwrap();
        String::from_utf8(bytes.clone()).unwrap()
    }

    /// Every subcommand the CLI has, as a name the scripts must offer.
    fn commands() -> Vec<String> {
        lastgasp::command()
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name().to_owned())
            .collect()
    }

    #[test]
    fn every_script_offers_every_command() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = script(shell);
            for command in commands() {
                assert!(
                    text.contains(&command),
                    "{shell:?} completion lacks {command}"
                );
            }
        }
    }

    /// Completes `lastgasp <words>` with the real bash and the generated script.
    fn bash_complete(words: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lastgasp");
        std::fs::write(&path, script(Shell::Bash)).unwrap();
        let line = format!("lastgasp {words}");
        let probe = format!(
            r#"source "{}"
COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_lastgasp lastgasp "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
            path.display()
        );
        let out = Command::new("bash")
            .args(["-c", &probe])
            .output()
            .expect("bash is needed for this test");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn bash_completes_commands_and_their_flags() {
        let top = bash_complete("");
        for command in commands() {
            assert!(top.contains(&command), "{command} not offered: {top:?}");
        }
        assert_eq!(bash_complete("sa"), ["save"]);
        let flags = bash_complete("save --");
        assert!(flags.contains(&"--keep".to_owned()), "{flags:?}");
        assert!(flags.contains(&"--json".to_owned()), "{flags:?}");
    }

    #[test]
    fn zsh_and_fish_accept_their_scripts() {
        for (shell, program, check) in [
            (Shell::Zsh, "zsh", vec!["-n"]),
            (Shell::Fish, "fish", vec!["--no-execute"]),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("script");
            std::fs::write(&path, script(shell)).unwrap();
            let out = Command::new(program)
                .args(&check)
                .arg(&path)
                .output()
                .unwrap_or_else(|e| {
                    panic!("{program} is needed for this test (apt-get install {program}): {e}")
                });
            assert!(out.status.success(), "{program}: {out:?}");
        }
    }
}
