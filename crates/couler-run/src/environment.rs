//! Where a step's process gets its environment and its secrets.
//!
//! `couler run` and the in-task launcher pass the host's environment on and read a secret from
//! the host variable of the same name: whoever starts them owns that environment. `couler
//! server` runs steps submitted by others, so its environment (database URLs, cloud keys) must
//! not reach them: a sealed environment keeps only a few host variables a program needs to
//! start ([`SEALED_BASE`]), and reads each secret from a file the server's administrator put
//! in a secrets directory, laid out as Kubernetes mounts a Secret: `DIR/SECRET/KEY`.

use couler_ir::SecretEnv;
use std::path::{Path, PathBuf};

/// The host variables a sealed environment keeps (when set).
pub const SEALED_BASE: [&str; 9] = [
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
];

/// A step's environment: inherited from the host, or sealed.
#[derive(Clone, Debug, Default)]
pub enum StepEnvironment {
    /// The host's environment, a secret read from the host variable of its `env` name.
    #[default]
    Inherited,
    /// Only `base`, then the step's own variables; a secret read from `secrets/SECRET/KEY`.
    Sealed {
        base: Vec<(String, String)>,
        secrets: PathBuf,
    },
}

impl StepEnvironment {
    /// Sealed, keeping [`SEALED_BASE`] from this process's environment, secrets under `secrets`.
    pub fn sealed(secrets: PathBuf) -> StepEnvironment {
        let base = SEALED_BASE
            .iter()
            .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
            .collect();
        StepEnvironment::Sealed { base, secrets }
    }

    /// The directory secrets are read from: `None` for the host's environment.
    pub fn secrets_dir(&self) -> Option<&Path> {
        match self {
            StepEnvironment::Inherited => None,
            StepEnvironment::Sealed { secrets, .. } => Some(secrets),
        }
    }

    /// The environment a process starts from: `None` for the host's.
    pub fn base(&self) -> Option<&[(String, String)]> {
        match self {
            StepEnvironment::Inherited => None,
            StepEnvironment::Sealed { base, .. } => Some(base),
        }
    }

    /// The value of secret `s`; `hint` says how to provide an inherited one.
    pub(crate) fn secret(&self, s: &SecretEnv, hint: &str) -> Result<String, String> {
        let what = format!(
            "secret `{}` (key `{}`) for variable {}",
            s.secret, s.key, s.env
        );
        match self {
            StepEnvironment::Inherited => {
                std::env::var(&s.env).map_err(|_| format!("{what}: {hint}"))
            }
            StepEnvironment::Sealed { secrets, .. } => read_secret(secrets, s, &what),
        }
    }
}

/// `DIR/SECRET/KEY`, its names checked to stay inside `dir`.
fn read_secret(dir: &Path, s: &SecretEnv, what: &str) -> Result<String, String> {
    for name in [&s.secret, &s.key] {
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(format!(
                "{what}: `{name}` cannot name a file in the secrets directory (no `/`, `.` or `..`)"
            ));
        }
    }
    let file = dir.join(&s.secret).join(&s.key);
    let bytes = std::fs::read(&file).map_err(|e| {
        format!(
            "{what}: cannot read {} ({e}); the server's administrator puts the value there (one file per key, mode 0600)",
            file.display()
        )
    })?;
    String::from_utf8(bytes).map_err(|_| format!("{what}: {} is not UTF-8 text", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, key: &str) -> SecretEnv {
        SecretEnv {
            env: "TOKEN".into(),
            secret: name.into(),
            key: key.into(),
        }
    }

    #[test]
    fn a_sealed_secret_is_read_from_its_file_and_names_cannot_escape() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(d.path().join("db")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.path().join("db/password"), "s3cr3t").unwrap_or_else(|e| panic!("{e}"));
        let env = StepEnvironment::Sealed {
            base: vec![],
            secrets: d.path().to_path_buf(),
        };
        assert_eq!(
            env.secret(&secret("db", "password"), ""),
            Ok("s3cr3t".into())
        );
        let missing = env.secret(&secret("db", "user"), "").unwrap_err();
        assert!(
            missing.contains("db/user") && missing.contains("administrator"),
            "{missing}"
        );
        for (n, k) in [("..", "password"), ("db", "../db/password"), ("", "x")] {
            let e = env.secret(&secret(n, k), "").unwrap_err();
            assert!(e.contains("cannot name a file"), "{e}");
        }
    }

    #[test]
    fn sealed_keeps_only_the_base_variables() {
        let env = StepEnvironment::sealed(PathBuf::from("/nonexistent"));
        let base = env.base().unwrap_or_default();
        assert!(
            base.iter().all(|(k, _)| SEALED_BASE.contains(&k.as_str())),
            "{base:?}"
        );
        // The test process has PATH and many CARGO_* variables; only PATH is kept.
        assert!(base.iter().any(|(k, _)| k == "PATH"), "{base:?}");
        assert!(StepEnvironment::Inherited.base().is_none());
    }
}
