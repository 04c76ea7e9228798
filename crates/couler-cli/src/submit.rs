//! `couler submit`: compile for Argo and create the document through the Kubernetes API
//! (`couler_submit`), optionally watching the run to its end.

use crate::input::load_or_report;
use crate::say::{say, tell};
use clap::{Args, ValueEnum};
use couler_backends::Options;
use couler_backends::argo::Argo;
use couler_submit::{Cluster, Created};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `couler submit`.
#[derive(Args)]
pub struct SubmitArgs {
    /// The workflow spec
    file: PathBuf,
    /// The engine to submit to
    #[arg(long, value_enum, default_value_t = Engine::Argo)]
    engine: Engine,
    /// Namespace (default: the kubeconfig context's, else `default`)
    #[arg(long, short)]
    namespace: Option<String>,
    /// Follow the run and exit 0 if it succeeds, 1 if it fails
    #[arg(long)]
    watch: bool,
    /// Talk to this API server URL (e.g. `http://127.0.0.1:8001` from `kubectl proxy`) instead
    /// of the kubeconfig's
    #[arg(long)]
    server: Option<String>,
    /// Seconds between status polls with --watch
    #[arg(long, default_value_t = 2.0, hide = true)]
    poll_interval: f64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    Argo,
}

/// Runs `couler submit`; returns the exit code.
pub fn run(args: &SubmitArgs) -> u8 {
    let Some(wf) = load_or_report(&args.file) else {
        return crate::exit::INVALID;
    };
    let Engine::Argo = args.engine;
    let Some(options) = crate::subworkflows::with_names(Options::default(), &wf, &args.file) else {
        return crate::exit::INVALID;
    };
    let Some(out) = crate::compile::compile_or_report(&Argo, &wf, &options, &args.file) else {
        return crate::exit::INVALID;
    };
    let Some(yaml) = out.files.into_values().next() else {
        return crate::exit::INVALID;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tell!("error: cannot start the async runtime: {e}");
            return crate::exit::INVALID;
        }
    };
    match runtime.block_on(submit(args, &yaml)) {
        Ok(code) => code,
        Err(e) => {
            tell!("error: {e}");
            crate::exit::INVALID
        }
    }
}

async fn submit(args: &SubmitArgs, yaml: &str) -> Result<u8, String> {
    let cluster = Cluster {
        namespace: args.namespace.clone(),
        server: args.server.clone(),
        ..Cluster::default()
    };
    let submitted = couler_submit::create(&cluster, yaml).await?;
    let Created {
        kind,
        namespace,
        name,
        ..
    } = &submitted.created;
    say!("{kind} {namespace}/{name} created");
    if !args.watch {
        return Ok(crate::exit::OK);
    }
    if kind != "Workflow" {
        say!("--watch follows Workflows only; a {kind} starts runs on its own");
        return Ok(crate::exit::OK);
    }
    let poll = Duration::from_secs_f64(args.poll_interval.max(0.01));
    let phase = couler_submit::watch(&submitted, poll, |p| say!("{name}: {p}")).await?;
    Ok(match phase.as_str() {
        "Succeeded" => crate::exit::OK,
        _ => crate::exit::FAILED,
    })
}
