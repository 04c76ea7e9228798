//! `couler server` and `couler server token create`: flags, and starting the server.

use crate::api::{self, App, AuthMode};
use crate::auth::{self, Role};
use crate::config::Config;
use crate::pool::Pool;
use crate::store::DbUrl;
use clap::{Args, Subcommand, ValueEnum};
use couler_run::{Error, Host};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServerArgs {
    #[command(subcommand)]
    command: Option<ServerCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum ServerCommand {
    /// Manage API tokens (an admin operation on the server's database)
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a user with a role; prints the token on its last line (only its
    /// hash is stored: keep it, it cannot be shown again)
    Create {
        /// The user the token authenticates as
        #[arg(long)]
        user: String,
        /// viewer: read runs; editor: also submit, stop and delete; admin: also read the audit log
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The namespace the role holds in [default: every namespace]
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
        #[command(flatten)]
        place: Place,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Viewer,
    Editor,
    Admin,
}

/// Where the server keeps its state.
#[derive(Args)]
struct Place {
    /// The server's metadata database: sqlite:PATH, or PostgreSQL as
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (a Unix socket: add ?host=/SOCKET/DIR);
    /// migrated on open [default: sqlite:STATE_DIR/server.db]
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// The local runtime's state directory (runs, logs, artifacts, cache), held by the server
    /// while it runs [default: $COULER_STATE_DIR or .couler]
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

impl Place {
    fn state_dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(couler_run::default_state_dir)
    }

    fn db(&self) -> Result<DbUrl, Error> {
        match &self.db {
            Some(url) => DbUrl::parse(url).map_err(Error::Invalid),
            None => Ok(DbUrl::Sqlite(self.state_dir().join("server.db"))),
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum AuthArg {
    /// Bearer tokens from `couler server token create`
    Token,
    /// No authentication, everyone admin: allowed only when listening on loopback
    None,
}

#[derive(Args)]
struct ServeArgs {
    /// The address to listen on (port 0: any free port; the bound address is printed)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    place: Place,
    /// How many runs execute at once on the local cluster (without --config); more wait in the
    /// queue
    #[arg(long, value_name = "N", default_value_t = 4, conflicts_with = "config",
          value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,
    /// The clusters (the local runtime, Argo through the Kubernetes API, Airflow through its
    /// REST API), quotas, queue weights and retry limits (YAML; docs/server.md,
    /// "Configuration") [default: one local cluster sized from this machine, no quotas]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where steps' secrets are: a `secrets` entry of a run in namespace NS reads the file
    /// DIR/NS/SECRET/KEY (steps never see the server's own environment) [default:
    /// STATE_DIR/secrets]
    #[arg(long, value_name = "DIR")]
    secrets_dir: Option<PathBuf>,
    /// How requests are authenticated
    #[arg(long, value_enum, default_value_t = AuthArg::Token)]
    auth: AuthArg,
    /// The largest request body accepted (larger: 413)
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Requests a second each user may make on average, in bursts of up to twice that (over
    /// it: 429 with Retry-After); 0: no limit
    #[arg(long, value_name = "N", default_value_t = 100)]
    rate_limit: u32,
    /// Serve HTTPS with this certificate chain (PEM: the server's certificate, then its
    /// intermediates); required beyond loopback unless --no-tls
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP beyond loopback: only behind a proxy that terminates TLS on a network
    /// you trust (tokens would otherwise cross it in clear text)
    #[arg(long, conflicts_with = "tls_cert")]
    no_tls: bool,
    /// The model `POST /api/v1/generate` asks: a name --generate-endpoint serves, `local` (the
    /// in-process CPU model, docs/generate.md) or a FILE.gguf [default: none; the route answers
    /// 503]
    #[arg(long, value_name = "NAME")]
    generate_model: Option<String>,
    /// The base URL of the OpenAI-compatible API of --generate-model; its key is the server's
    /// $OPENAI_API_KEY [default: $OPENAI_BASE_URL, else https://api.openai.com/v1]
    #[arg(long, value_name = "URL", requires = "generate_model")]
    generate_endpoint: Option<String>,
}

/// `--generate-model`'s generator, if given.
fn generator(args: &ServeArgs) -> Result<Option<Arc<api::generate::Generator>>, Error> {
    let Some(model) = &args.generate_model else {
        return Ok(None);
    };
    let choice = couler_model::Choice::from_env(
        model,
        args.generate_endpoint.as_deref(),
        std::time::Duration::from_secs(300),
    );
    api::generate::Generator::open(&choice)
        .map(|g| Some(Arc::new(g)))
        .map_err(|e| Error::Invalid(format!("--generate-model {model}: {e}")))
}

/// `couler server …`. Errors are the local runtime's: `Invalid` for the user's input.
pub fn run(args: ServerArgs) -> Result<(), Error> {
    match args.command {
        Some(ServerCommand::Token(TokenCommand::Create {
            user,
            role,
            namespace,
            place,
        })) => create_token(&user, role, namespace.as_deref(), &place),
        None => serve(args.serve),
    }
}

fn create_token(
    user: &str,
    role: RoleArg,
    namespace: Option<&str>,
    place: &Place,
) -> Result<(), Error> {
    if let Some(ns) = namespace {
        crate::submission::check_namespace(ns).map_err(|e| Error::Invalid(e.detail))?;
    }
    let role = match role {
        RoleArg::Viewer => Role::Viewer,
        RoleArg::Editor => Role::Editor,
        RoleArg::Admin => Role::Admin,
    };
    let store = place.db()?.open().map_err(|e| Error::State(e.0))?;
    let token =
        auth::create_token(store.as_ref(), user, role, namespace).map_err(Error::Invalid)?;
    let _ = writeln!(
        std::io::stderr(),
        "token for user `{user}`, {} in {}; only its hash is stored, so keep it now:",
        role.as_str(),
        namespace.map_or_else(
            || "every namespace".to_string(),
            |n| format!("namespace `{n}`")
        )
    );
    writeln!(std::io::stdout(), "{token}")
        .map_err(|e| Error::Io(format!("cannot print the token: {e}")))?;
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), Error> {
    let auth = match args.auth {
        AuthArg::Token => AuthMode::Token,
        AuthArg::None if args.listen.ip().is_loopback() => AuthMode::None,
        AuthArg::None => {
            return Err(Error::Invalid(format!(
                "--auth none is allowed only when listening on loopback (127.0.0.1 or ::1), not {}: without tokens anyone who reaches the port runs workflows as this server's user; create tokens with `couler server token create`",
                args.listen
            )));
        }
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key).map_err(Error::Invalid)?),
        _ if args.listen.ip().is_loopback() || args.no_tls => None,
        _ => {
            return Err(Error::Invalid(format!(
                "listening on {} (beyond loopback) needs TLS, or bearer tokens cross the network in clear text: give --tls-cert FILE --tls-key FILE, or --no-tls behind a proxy that terminates TLS",
                args.listen
            )));
        }
    };
    let config = match &args.config {
        Some(path) => Config::load(path).map_err(Error::Invalid)?,
        None => Config::this_machine(usize::from(args.workers)),
    };
    let generator = generator(&args)?;
    if let Some(g) = &generator {
        let _ = writeln!(
            std::io::stderr(),
            "POST /api/v1/generate asks {}, retrieving by {}",
            g.describe(),
            g.retrieval()
        );
    }
    let db = args.place.db()?;
    let state_dir = args.place.state_dir();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    let result = rt.block_on(async {
        let host = Host::open(&state_dir)?;
        let store: Arc<dyn crate::store::Store> =
            Arc::from(db.open().map_err(|e| Error::State(e.0))?);
        let secrets = args
            .secrets_dir
            .clone()
            .unwrap_or_else(|| state_dir.join("secrets"));
        let pool = Pool::start(host, store.clone(), config, secrets).map_err(Error::State)?;
        let app = Arc::new(App {
            store,
            pool,
            auth,
            max_body: args.max_body_bytes,
            limiter: api::limit::Limiter::new(args.rate_limit),
            generator,
        });
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| Error::Invalid(format!("cannot listen on {}: {e}", args.listen)))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Io(format!("cannot read the bound address: {e}")))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut out = std::io::stdout();
        let _ = writeln!(out, "couler server listening on {scheme}://{bound}");
        let _ = out.flush();
        if !crate::web::BUILT {
            crate::log(format_args!("the web UI is not built into this binary (`/` says so): run `bash scripts/web-build`, then rebuild"));
        }
        let router = api::router(app);
        let served = match tls {
            Some(acceptor) => {
                let listener = crate::tls::TlsListener::new(listener, acceptor)
                    .map_err(|e| Error::Io(format!("cannot read the bound address: {e}")))?;
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown())
                    .await
            }
            None => {
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown())
                    .await
            }
        };
        served.map_err(|e| Error::Io(format!("the server stopped: {e}")))
    });
    // Runs still under way stop with the process; the next start resumes them.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}

/// Resolves at SIGINT or SIGTERM.
async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
