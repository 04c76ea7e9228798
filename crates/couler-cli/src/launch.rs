//! `couler launch`.

use clap::Args;

/// Arguments of `couler launch`.
#[derive(Args)]
pub struct LaunchArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// Runs `couler launch`; returns the exit code.
pub fn run(_args: LaunchArgs) -> u8 {
    crate::commands::not_built("launch", "the in-task launcher", 5)
}
