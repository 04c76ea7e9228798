//! `couler zoo`: the step templates a spec can `uses:`.

use clap::Subcommand;
use couler_ir::zoo::{self, doc};

#[derive(Subcommand)]
pub enum ZooCommand {
    /// List the entries: reference, category, description (`--output json`: with their typed
    /// parameters, inputs and outputs)
    List {
        #[command(flatten)]
        output: crate::OutputArg,
    },
    /// Show one entry: its parameters, inputs, outputs and an example step
    Show {
        /// The entry's name, e.g. `train-random-forest`
        name: String,
    },
}

pub fn run(command: &ZooCommand) -> u8 {
    match command {
        ZooCommand::List { output } if output.output == crate::OutputFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(zoo::entries()).unwrap_or_default()
            );
        }
        ZooCommand::List { .. } => {
            for e in zoo::entries() {
                let category = serde_json::to_value(e.category).unwrap_or_default();
                println!(
                    "{:34} {:10} {}",
                    e.reference(),
                    category.as_str().unwrap_or_default(),
                    e.description
                );
            }
        }
        ZooCommand::Show { name } => {
            let found: Vec<_> = zoo::versions(name).collect();
            if found.is_empty() {
                let names = zoo::entries().iter().map(|e| e.name.as_str());
                eprintln!("error: unknown zoo entry `{name}`");
                match couler_ir::diag::suggest(name, names) {
                    Some(s) => {
                        eprintln!("help: did you mean `{s}`? `couler zoo list` lists the entries")
                    }
                    None => eprintln!("help: `couler zoo list` lists the entries"),
                }
                return crate::exit::INVALID;
            }
            for e in found {
                print!("{}", doc::section(e));
            }
        }
    }
    crate::exit::OK
}
