//! # couler-submit
//!
//! Creating a compiled Argo document (`Workflow`, `WorkflowTemplate`, `CronWorkflow`) through
//! the Kubernetes API (kube-rs) and following a Workflow to its end: what `couler submit` and
//! the Python SDK's `ArgoSubmitter` (`couler._engine.submit_argo`) share.
//!
//! The API server and credentials come from [`Cluster`]: an explicit server URL (`kubectl
//! proxy`), a kubeconfig file and context, or, by default, kube's inference (`KUBECONFIG`,
//! `~/.kube/config`, the pod's service account).

/// A Kubernetes Secret, as [`create_with_secrets`] takes them.
pub use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::path::PathBuf;
use std::time::Duration;

mod workflow;
pub use couler_backends::Options;
pub use workflow::{
    Compiled, Ended, Node, compile, create_named, ended, find, follow, name_of, nodes, seconds_of,
    shutdown,
};

/// Where to submit: which API server, with which credentials, into which namespace.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// The namespace; `None`: the kubeconfig context's, else `default`.
    pub namespace: Option<String>,
    /// Talk to this API server URL (no credentials) instead of a kubeconfig's.
    pub server: Option<String>,
    /// Read this kubeconfig file instead of the inferred one.
    pub kubeconfig: Option<PathBuf>,
    /// Use this context of the kubeconfig instead of its current one.
    pub context: Option<String>,
    /// Leave the retry of 429, 503 and 504 answers to the caller (the server's retry table,
    /// which records each retry) instead of kube's client retrying them unseen.
    pub no_client_retry: bool,
}

/// An object the API server created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

/// A created document's API handle, for [`watch`].
pub struct Submitted {
    pub created: Created,
    api: Api<DynamicObject>,
}

impl Cluster {
    /// A client of the API server, and the namespace to work in.
    async fn client(&self) -> Result<(Client, String), String> {
        let config = self.config().await?;
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(|e| format!("cannot build a client: {e}"))?;
        Ok((client, namespace))
    }

    async fn config(&self) -> Result<Config, String> {
        let mut config = self.source().await?;
        config.default_retry = !self.no_client_retry;
        Ok(config)
    }

    /// The API server and credentials, as given or inferred.
    async fn source(&self) -> Result<Config, String> {
        if let Some(url) = &self.server {
            let uri = url
                .parse()
                .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
            return Ok(Config::new(uri));
        }
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        match &self.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path)
                    .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
                Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|e| format!("kubeconfig {}: {e}", path.display()))
            }
            None if self.context.is_some() => Config::from_kubeconfig(&options)
                .await
                .map_err(|e| format!("no usable kubeconfig: {e}")),
            None => Config::infer()
                .await
                .map_err(|e| format!("no Kubernetes configuration found: {e}")),
        }
    }
}

/// Creates the Argo document `yaml` (as compiled by the Argo backend) on `cluster`.
pub async fn create(cluster: &Cluster, yaml: &str) -> Result<Submitted, String> {
    create_with_secrets(cluster, yaml, &[]).await
}

/// Creates the `secrets` the document reads (the Python SDK's `couler.create_secret`) in its
/// namespace, keeping any that already exists there by name, then the Argo document `yaml`.
pub async fn create_with_secrets(
    cluster: &Cluster,
    yaml: &str,
    secrets: &[Secret],
) -> Result<Submitted, String> {
    let obj: DynamicObject = serde_norway::from_str(yaml)
        .map_err(|e| format!("the compiled document does not read back: {e}"))?;
    create_object(cluster, obj, secrets).await
}

/// Creates `secrets`, then `obj`, in `cluster`'s namespace.
async fn create_object(
    cluster: &Cluster,
    obj: DynamicObject,
    secrets: &[Secret],
) -> Result<Submitted, String> {
    let (client, namespace) = cluster.client().await?;
    let secret_api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    for secret in secrets {
        create_secret(&secret_api, secret).await?;
    }
    let kind = obj
        .types
        .as_ref()
        .map(|t| t.kind.clone())
        .unwrap_or_else(|| "Workflow".into());
    let api = argo_api(client, &namespace, &kind);
    let made = api
        .create(&PostParams::default(), &obj)
        .await
        .map_err(|e| format!("the API server refused the {kind}: {}", api_message(&e)))?;
    let created = Created {
        kind,
        namespace,
        name: made.metadata.name.clone().unwrap_or_default(),
        uid: made.metadata.uid.clone(),
    };
    Ok(Submitted { created, api })
}

/// The API of one Argo kind (`Workflow`, `CronWorkflow`, …) in `namespace`.
fn argo_api(client: Client, namespace: &str, kind: &str) -> Api<DynamicObject> {
    let plural = format!("{}s", kind.to_lowercase());
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
    Api::namespaced_with(client, namespace, &resource)
}

/// Deletes the Argo object `kind`/`name` (its pods go with it, in the background) from
/// `cluster`'s namespace; returns that namespace.
pub async fn delete(cluster: &Cluster, kind: &str, name: &str) -> Result<String, String> {
    let (client, namespace) = cluster.client().await?;
    let params = DeleteParams::background().grace_period(5);
    argo_api(client, &namespace, kind)
        .delete(name, &params)
        .await
        .map_err(|e| format!("the API server did not delete {kind} `{name}`: {e}"))?;
    Ok(namespace)
}

/// Creates one secret; one of that name already there is kept (the submitter never overwrites
/// credentials someone else put there).
async fn create_secret(api: &Api<Secret>, secret: &Secret) -> Result<(), String> {
    let name = secret.metadata.name.as_deref().unwrap_or_default();
    match api.create(&PostParams::default(), secret).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(format!("the API server refused the Secret `{name}`: {e}")),
    }
}

/// Follows a created Workflow, polling every `poll`, calling `on_phase` with each new phase,
/// until it ends; returns the final phase (`Succeeded`, `Failed` or `Error`).
pub async fn watch(
    submitted: &Submitted,
    poll: Duration,
    mut on_phase: impl FnMut(&str),
) -> Result<String, String> {
    let mut last = String::new();
    let ended = follow(submitted, poll, |wf| {
        let phase = wf["status"]["phase"].as_str().unwrap_or("Pending");
        if phase != last {
            on_phase(phase);
            last = phase.to_string();
        }
    })
    .await?;
    Ok(ended.phase)
}

/// An API error as the API server put it (`TooManyRequests (429): …`), else kube's words.
fn api_message(e: &kube::Error) -> String {
    if let kube::Error::Api(s) = e {
        return format!("{} ({}): {}", s.reason, s.code, s.message);
    }
    // kube's words name the layer (`ServiceError: client error (Connect)`); the causes say why.
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}
