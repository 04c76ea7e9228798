//! `couler split`.

use clap::Args;

/// Arguments of `couler split`.
#[derive(Args)]
pub struct SplitArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// Runs `couler split`; returns the exit code.
pub fn run(_args: SplitArgs) -> u8 {
    crate::commands::not_built("split", "big-workflow splitting", 7)
}
