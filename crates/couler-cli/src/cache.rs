//! `couler cache`.

use clap::Args;

/// Arguments of `couler cache`.
#[derive(Args)]
pub struct CacheArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// Runs `couler cache`; returns the exit code.
pub fn run(_args: CacheArgs) -> u8 {
    crate::commands::not_built("cache", "the runtime's artifact cache", 6)
}
