//! `couler simulate`.

use clap::Args;

/// Arguments of `couler simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// Runs `couler simulate`; returns the exit code.
pub fn run(_args: SimulateArgs) -> u8 {
    crate::commands::not_built("simulate", "the cache simulator", 6)
}
