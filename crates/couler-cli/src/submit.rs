//! `couler submit`: compile for Argo and create the document through the Kubernetes API
//! (kube-rs), optionally watching the run to its end.

use crate::input::load_or_report;
use crate::say::{say, tell};
use clap::{Args, ValueEnum};
use couler_backends::Options;
use couler_backends::argo::Argo;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::{Client, Config};
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
    let obj: DynamicObject = match serde_norway::from_str(&yaml) {
        Ok(o) => o,
        Err(e) => {
            tell!("error: the compiled document does not read back: {e}");
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
    match runtime.block_on(submit(args, obj)) {
        Ok(code) => code,
        Err(e) => {
            tell!("error: {e}");
            crate::exit::INVALID
        }
    }
}

async fn submit(args: &SubmitArgs, obj: DynamicObject) -> Result<u8, String> {
    let config = match &args.server {
        Some(url) => Config::new(
            url.parse()
                .map_err(|e| format!("`{url}` is not a URL: {e}"))?,
        ),
        None => Config::infer()
            .await
            .map_err(|e| format!("no Kubernetes configuration found: {e}"))?,
    };
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(|e| format!("cannot build a client: {e}"))?;
    let kind = obj
        .types
        .as_ref()
        .map(|t| t.kind.clone())
        .unwrap_or_else(|| "Workflow".into());
    let plural = format!("{}s", kind.to_lowercase());
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", &kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
    let api: Api<DynamicObject> = Api::namespaced_with(client, &namespace, &resource);
    let created = api
        .create(&PostParams::default(), &obj)
        .await
        .map_err(|e| format!("the API server refused the {kind}: {e}"))?;
    let name = created.metadata.name.clone().unwrap_or_default();
    say!("{kind} {namespace}/{name} created");
    if !args.watch {
        return Ok(crate::exit::OK);
    }
    if kind != "Workflow" {
        say!("--watch follows Workflows only; a {kind} starts runs on its own");
        return Ok(crate::exit::OK);
    }
    let mut last = String::new();
    loop {
        let current = api
            .get(&name)
            .await
            .map_err(|e| format!("cannot read {namespace}/{name}: {e}"))?;
        let phase = current.data["status"]["phase"]
            .as_str()
            .unwrap_or("Pending")
            .to_string();
        if phase != last {
            say!("{name}: {phase}");
            last = phase.clone();
        }
        match phase.as_str() {
            "Succeeded" => return Ok(crate::exit::OK),
            "Failed" | "Error" => return Ok(crate::exit::FAILED),
            _ => tokio::time::sleep(Duration::from_secs_f64(args.poll_interval.max(0.01))).await,
        }
    }
}
