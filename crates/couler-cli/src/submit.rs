//! `couler submit`: compile for Argo and create the document through the Kubernetes API
//! (`couler_submit`), optionally watching the run to its end; or, with `--server URL` (or
//! `COULER_SERVER`), hand the spec to a Couler server (`remote`).

use crate::input::{Source, load_or_report};
use crate::say::{say, tell};
use clap::{Args, ValueEnum};
use couler_backends::Options;
use couler_submit::{Cluster, Created};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `couler submit`.
#[derive(Args)]
pub struct SubmitArgs {
    /// The workflow spec
    file: PathBuf,
    /// The engine to submit to, through the Kubernetes API [default: argo, unless a Couler
    /// server is given]
    #[arg(long, value_enum)]
    engine: Option<Engine>,
    /// Namespace (Argo: default the kubeconfig context's, else `default`; a Couler server:
    /// `default`)
    #[arg(long, short)]
    namespace: Option<String>,
    /// Follow the run and exit 0 if it succeeds, 1 if it fails
    #[arg(long)]
    watch: bool,
    /// Submit to the Couler server at this URL (`couler server`; token in $COULER_TOKEN)
    /// instead of Kubernetes [default: $COULER_SERVER, unless --engine or --kube-server is
    /// given]; prints the run's id on its last line. For Argo's Kubernetes API server use
    /// --kube-server
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Argo: talk to this Kubernetes API server URL (e.g. `http://127.0.0.1:8001` from
    /// `kubectl proxy`) instead of the kubeconfig's
    #[arg(long, value_name = "URL", conflicts_with = "server")]
    kube_server: Option<String>,
    /// A workflow param for a Couler server's run, `NAME=VALUE` (repeatable)
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Seconds between status polls with --watch
    #[arg(long, default_value_t = 2.0, hide = true)]
    poll_interval: f64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    Argo,
}

/// Where `couler submit` sends the workflow: a Couler server, else Kubernetes (Argo). An
/// explicit `--engine` or `--kube-server` means Kubernetes whatever `COULER_SERVER` says; with
/// `--server` given too, the command is refused, naming the flag meant.
fn couler_server(args: &SubmitArgs) -> Result<Option<String>, String> {
    match (&args.server, args.engine, &args.kube_server) {
        (Some(_), Some(Engine::Argo), _) => Err(
            "--server is a Couler server's URL; `--engine argo` submits through the Kubernetes API, whose URL is --kube-server URL (or drop --engine to submit to the Couler server)"
                .into(),
        ),
        (Some(url), None, _) => Ok(Some(url.clone())),
        (None, None, None) => Ok(crate::remote::from_env()),
        (None, _, _) => Ok(None),
    }
}

/// Runs `couler submit`; returns the exit code.
pub fn run(args: &SubmitArgs) -> u8 {
    let server = match couler_server(args) {
        Ok(s) => s,
        Err(e) => {
            tell!("error: {e}");
            return crate::exit::INVALID;
        }
    };
    if let Some(url) = server {
        return to_server(args, &url);
    }
    let Some(wf) = load_or_report(&args.file) else {
        return crate::exit::INVALID;
    };
    if !args.params.is_empty() {
        tell!(
            "error: --param is for a Couler server's run (--server URL); Argo runs the spec's param defaults"
        );
        return crate::exit::INVALID;
    }
    let Some(options) = crate::subworkflows::with_names(Options::default(), &wf, &args.file) else {
        return crate::exit::INVALID;
    };
    let yaml = match couler_submit::compile(&wf, &options) {
        Ok(c) => {
            for w in &c.warnings {
                tell!("warning: {w}");
            }
            c.yaml
        }
        Err(e) => {
            tell!("error: {}: {e}", args.file.display());
            return crate::exit::INVALID;
        }
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

/// `couler submit FILE --server URL`: the file's text goes to the server as it is, once it
/// loads here (so that its errors name the file; the server's answer brings the warnings).
fn to_server(args: &SubmitArgs, url: &str) -> u8 {
    let source = match Source::read(&args.file) {
        Ok(s) => s,
        Err(e) => {
            tell!("{e}");
            return crate::exit::INVALID;
        }
    };
    if let Err(diags) = couler_ir::spec::load(&source.text, source.format) {
        source.print(&diags);
        return crate::exit::INVALID;
    }
    let params = match crate::runtime::parse_params(&args.params) {
        Ok(p) => p,
        Err(e) => {
            tell!("{e}");
            return crate::exit::INVALID;
        }
    };
    crate::remote::submit(
        url,
        crate::remote::Submission {
            spec: source.text,
            params,
            namespace: args.namespace.clone(),
            watch: args.watch,
            poll: Duration::from_secs_f64(args.poll_interval.max(0.01)),
        },
    )
}

async fn submit(args: &SubmitArgs, yaml: &str) -> Result<u8, String> {
    let cluster = Cluster {
        namespace: args.namespace.clone(),
        server: args.kube_server.clone(),
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
