//! The PostgreSQL connection on a thread of its own.
//!
//! The `Store` trait is blocking, and the `postgres` client is synchronous: it drives its own
//! small tokio runtime with `block_on`, which panics when called on a tokio worker thread
//! (where the API's handlers and the pool call the store). So the client lives on this
//! connection's own OS thread ("couler-postgres"): each call sends it a job over a channel and
//! waits for the answer. Waiting on a std channel is allowed on any thread, tokio's included,
//! and blocks the caller for one round trip, as SQLite's mutex blocks it for one fsync; the
//! calls of one process are serialised on one connection, as SQLite's are. Every caller is
//! covered, present and future, with nothing to remember at the call sites (the alternative,
//! `block_in_place` at each place a call leaves async code, is easy to miss once). A
//! connection lost (the database restarted) is reopened at the next call.

use super::super::{Result, StoreError};
use postgres::{Client, Config, NoTls};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

/// A call: run with the client, or told why there is none.
type Job = Box<dyn FnOnce(std::result::Result<&mut Client, &StoreError>) + Send>;

/// The connection: where jobs go.
pub struct Connection {
    jobs: mpsc::Sender<Job>,
}

impl Connection {
    /// Connects to `url` (a libpq URL: `postgres://user[:password]@host[:port]/db`, with
    /// `?host=/socket/dir` for a Unix socket) on a new thread; a failure names the URL
    /// (password elided) and what to check.
    pub fn open(url: &str) -> Result<Connection> {
        let shown = redact(url);
        let mut config = Config::from_str(url)
            .map_err(|e| StoreError(format!("--db `{shown}`: {}", describe(&e))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::channel();
        std::thread::Builder::new()
            .name("couler-postgres".into())
            .spawn(move || serve(config, shown, ready_tx, queue))
            .map_err(|e| StoreError(format!("cannot start the database thread: {e}")))?;
        ready
            .recv()
            .map_err(|_| StoreError("the database thread stopped".into()))??;
        Ok(Connection { jobs })
    }

    /// Runs `f` with the client on the connection's thread; its failure reads `what: …`.
    pub fn call<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut Client) -> std::result::Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let answer = match client {
                Ok(c) => f(c).map_err(|e| StoreError(format!("{what}: {}", describe(&e)))),
                Err(e) => Err(StoreError(format!("{what}: {e}"))),
            };
            let _ = tx.send(answer);
        });
        let gone = || StoreError(format!("{what}: the database thread stopped"));
        self.jobs.send(job).map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

/// `url` with its password (in the authority or as `password=`) shown as `***`.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(start) = url.find("://").map(|i| i + 3) {
        let end = url[start..]
            .find(['/', '?'])
            .map_or(url.len(), |i| start + i);
        if let Some(at) = url[start..end].rfind('@').map(|i| start + i)
            && let Some(colon) = url[start..at].find(':').map(|i| start + i)
        {
            out = format!("{}***{}", &url[..=colon], &url[at..]);
        }
    }
    match out.find("password=") {
        Some(i) => {
            let value = i + "password=".len();
            let end = out[value..].find('&').map_or(out.len(), |j| value + j);
            format!("{}***{}", &out[..value], &out[end..])
        }
        None => out,
    }
}

/// A client error's text: the server's message with its detail and hint, or the client's.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            for extra in [db.detail(), db.hint()].into_iter().flatten() {
                text.push_str(&format!("; {extra}"));
            }
            text
        }
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

fn connect(config: &Config, shown: &str) -> Result<Client> {
    config.connect(NoTls).map_err(|e| {
        StoreError(format!(
            "cannot connect to the PostgreSQL database {shown}: {}; check that PostgreSQL runs and accepts connections there (host, port or socket directory), that the user and password are right, that the database exists (createdb), and that pg_hba.conf lets this user in",
            describe(&e)
        ))
    })
}

/// The store's thread: connects, answers `ready`, then runs jobs until the store is dropped,
/// reconnecting first when the connection was lost.
fn serve(
    config: Config,
    shown: String,
    ready: mpsc::Sender<Result<()>>,
    jobs: mpsc::Receiver<Job>,
) {
    let mut client = match connect(&config, &shown) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    for job in jobs {
        if client.is_closed() {
            match connect(&config, &shown) {
                Ok(c) => client = c,
                Err(e) => {
                    job(Err(&e));
                    continue;
                }
            }
        }
        job(Ok(&mut client));
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redact("postgres://ann:s3cret@db:5432/couler"),
            "postgres://ann:***@db:5432/couler"
        );
        assert_eq!(
            redact("postgresql://ann@db/couler?password=s3cret&sslmode=disable"),
            "postgresql://ann@db/couler?password=***&sslmode=disable"
        );
        assert_eq!(
            redact("postgres://ann@/couler?host=/run/pg"),
            "postgres://ann@/couler?host=/run/pg"
        );
    }
}
