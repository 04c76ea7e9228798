//! The exit codes of every `couler` command, in one place. `couler --help` and the README list
//! them from [`CODES`] (a test keeps the README equal). `couler launch` has its own codes, the
//! launcher protocol's (docs/launcher.md).

use couler_run::Error;

/// The command did what was asked (the run succeeded, the query worked, the files are valid).
pub const OK: u8 = 0;
/// The workflow failed, errored or was stopped (or `fmt --check` found a file to rewrite).
pub const FAILED: u8 = 1;
/// Invalid input: a bad spec, flag or parameter, an unreadable file, an unknown run.
pub const INVALID: u8 = 2;
/// `couler run`/`resume` ended at once by Ctrl-C (or SIGTERM) given again while the run stops
/// (128 + SIGINT, as shells report an interrupted command).
pub const INTERRUPTED: u8 = 130;

/// Every code with its meaning, as the help and the README list them.
pub const CODES: [(u8, &str); 4] = [
    (OK, "success"),
    (FAILED, "workflow failed (or `fmt --check` found work)"),
    (INVALID, "invalid input"),
    (INTERRUPTED, "ended at once by a repeated Ctrl-C"),
];

/// `Exit codes: 0 success, 1 …`: the one-line list of [`CODES`].
pub fn summary() -> String {
    let codes: Vec<String> = CODES.iter().map(|(c, m)| format!("{c} {m}")).collect();
    format!("Exit codes: {}.", codes.join(", "))
}

/// The exit code of a local-runtime error: the user's input, or the run's failure.
pub fn of_error(e: &Error) -> u8 {
    match e {
        Error::Invalid(_) | Error::Locked(_) | Error::NewerState { .. } => INVALID,
        _ => FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_the_exit_codes_the_code_returns() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .expect("README.md");
        assert!(
            readme.lines().any(|l| l == summary()),
            "README.md must have the line\n{}\n(from src/exit.rs); update one or the other",
            summary()
        );
    }

    #[test]
    fn couler_help_lists_the_exit_codes() {
        let help = <crate::Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        // The help wraps to the terminal's width.
        let words = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(words.contains(&summary()), "{help}");
    }

    #[test]
    fn every_code_is_listed_once() {
        let mut codes: Vec<u8> = CODES.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes, [OK, FAILED, INVALID, INTERRUPTED]);
    }
}
