//! `couler optimize`.

use clap::Args;

/// Arguments of `couler optimize`.
#[derive(Args)]
pub struct OptimizeArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// Runs `couler optimize`; returns the exit code.
pub fn run(_args: OptimizeArgs) -> u8 {
    crate::commands::not_built("optimize", "the optimisation passes", 6)
}
