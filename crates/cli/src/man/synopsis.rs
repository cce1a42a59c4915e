//! The SYNOPSIS of a page, written like a usage line: the command's own options and arguments
//! with their value names, required ones bare and optional ones in brackets, and the options
//! every command shares as one `[GLOBAL OPTIONS]`. clap_mangen's own lists every option
//! without its value.

use clap::{Arg, ArgAction, Command};
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

pub fn section(command: &Command) -> Roff {
    let name = command.get_bin_name().unwrap_or_else(|| command.get_name());
    let mut line = vec![bold(name)];
    let own = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() && !arg.is_global_set() && !is_builtin(arg));
    let (positionals, options): (Vec<&Arg>, Vec<&Arg>) = own.partition(|arg| arg.is_positional());
    for arg in options.into_iter().chain(positionals) {
        line.push(roman(" "));
        line.extend(usage(arg));
    }
    if command.get_arguments().any(Arg::is_global_set) {
        line.extend([roman(" ["), italic("GLOBAL OPTIONS"), roman("]")]);
    }
    if command.has_subcommands() {
        line.extend([
            roman(" "),
            italic("COMMAND"),
            roman(" ["),
            italic("ARGS"),
            roman("]"),
        ]);
    }
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"]);
    roff.text(line);
    roff
}

/// `--help` and `--version` are on every page and in OPTIONS; they would crowd the synopsis.
fn is_builtin(arg: &Arg) -> bool {
    matches!(
        arg.get_action(),
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
    )
}

/// `--lines N`, `-o FILE` when required, `[--json]`, `ID`.
fn usage(arg: &Arg) -> Vec<Inline> {
    let value = arg
        .get_value_names()
        .map(|names| names.join(" "))
        .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
    let takes_value = arg.get_action().takes_values();
    let mut parts = Vec::new();
    if arg.is_positional() {
        parts.push(italic(value));
    } else {
        let flag = match (arg.get_long(), arg.get_short()) {
            (Some(long), _) => format!("--{long}"),
            (None, Some(short)) => format!("-{short}"),
            (None, None) => return Vec::new(),
        };
        parts.push(bold(flag));
        if takes_value {
            parts.push(roman(" "));
            parts.push(italic(value));
        }
    }
    if arg.is_required_set() {
        parts
    } else {
        let mut bracketed = vec![roman("[")];
        bracketed.extend(parts);
        bracketed.push(roman("]"));
        bracketed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(command: &Command) -> String {
        section(command).to_roff()
    }

    fn built(mut command: Command) -> Command {
        command.build();
        command
    }

    #[test]
    fn options_with_values_and_required_ones_bare() {
        let command = built(
            Command::new("x")
                .arg(
                    Arg::new("out")
                        .short('o')
                        .long("output")
                        .required(true)
                        .value_name("FILE"),
                )
                .arg(Arg::new("force").long("force").action(ArgAction::SetTrue))
                .arg(Arg::new("lines").long("lines").value_name("N"))
                .arg(Arg::new("id").required(true).value_name("ID")),
        );
        assert_eq!(
            rendered(&command),
            ".SH SYNOPSIS\n\\fBx\\fR \\fB\\-\\-output\\fR \\fIFILE\\fR [\\fB\\-\\-force\\fR] \
             [\\fB\\-\\-lines\\fR \\fIN\\fR] \\fIID\\fR\n"
        );
    }

    #[test]
    fn global_options_collapse_and_commands_show() {
        let command = built(
            Command::new("x")
                .arg(Arg::new("root").long("root").global(true))
                .subcommand(Command::new("sub")),
        );
        assert_eq!(
            rendered(&command),
            ".SH SYNOPSIS\n\\fBx\\fR [\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n"
        );
        let sub = command.find_subcommand("sub").unwrap();
        assert_eq!(
            rendered(sub),
            ".SH SYNOPSIS\n\\fBx sub\\fR [\\fIGLOBAL OPTIONS\\fR]\n"
        );
    }
}
