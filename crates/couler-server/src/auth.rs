//! Who is asking and what they may do: bearer tokens (stored as SHA-256 hashes, never in
//! plain text), users, and roles per namespace.
//!
//! A role holds in one namespace, or in every namespace when bound to `*`. `viewer` reads runs,
//! `editor` also submits, stops and deletes them, `admin` also reads the audit log.

use crate::store::{Binding, Store};
use sha2::{Digest, Sha256};
use std::io::Read;

/// A role, from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

/// The namespace a binding names to hold in every namespace.
pub const EVERY_NAMESPACE: &str = "*";

/// An authenticated user and their roles.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: String,
    pub bindings: Vec<Binding>,
}

impl Principal {
    /// The single user of `--auth none`: admin everywhere.
    pub fn anonymous() -> Principal {
        Principal {
            user: "anonymous".to_string(),
            bindings: vec![Binding {
                namespace: EVERY_NAMESPACE.to_string(),
                role: Role::Admin,
            }],
        }
    }

    /// The user's role in `namespace`: the highest of its own binding and a `*` one.
    pub fn role_in(&self, namespace: &str) -> Option<Role> {
        self.bindings
            .iter()
            .filter(|b| b.namespace == namespace || b.namespace == EVERY_NAMESPACE)
            .map(|b| b.role)
            .max()
    }

    /// The namespaces where the user has at least `role`; `None`: every namespace.
    pub fn namespaces_with(&self, role: Role) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for b in self.bindings.iter().filter(|b| b.role >= role) {
            if b.namespace == EVERY_NAMESPACE {
                return None;
            }
            out.push(b.namespace.clone());
        }
        Some(out)
    }
}

/// The stored form of a token: its SHA-256, hex.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `n` bytes from the kernel's random source, hex.
pub fn random_hex(n: usize) -> Result<String, String> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A new token: `couler_` and 32 random bytes, hex.
pub fn new_token() -> Result<String, String> {
    Ok(format!("couler_{}", random_hex(32)?))
}

/// Creates a token for `user` with `role` in `namespace` (`None`: every namespace); returns the
/// token, which is stored only as its hash.
pub fn create_token(
    store: &dyn Store,
    user: &str,
    role: Role,
    namespace: Option<&str>,
) -> Result<String, String> {
    if user.is_empty() || user.chars().any(char::is_control) {
        return Err("--user: give a name without control characters".to_string());
    }
    let token = new_token()?;
    let binding = Binding {
        namespace: namespace.unwrap_or(EVERY_NAMESPACE).to_string(),
        role,
    };
    store
        .add_token(&hash_token(&token), user, &binding)
        .map_err(|e| e.to_string())?;
    Ok(token)
}

/// The user of `Authorization: Bearer TOKEN`, or why there is none.
pub fn authenticate(store: &dyn Store, header: Option<&str>) -> Result<Principal, String> {
    let Some(header) = header else {
        return Err(
            "no token: send `Authorization: Bearer TOKEN` (`couler server token create` makes one)"
                .to_string(),
        );
    };
    let Some(token) = header.strip_prefix("Bearer ").map(str::trim) else {
        return Err("the Authorization header is not `Bearer TOKEN`".to_string());
    };
    match store.token_user(&hash_token(token)) {
        Ok(Some((user, bindings))) => Ok(Principal { user, bindings }),
        Ok(None) => Err("the token is not known to this server".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(bindings: &[(&str, Role)]) -> Principal {
        Principal {
            user: "u".into(),
            bindings: bindings
                .iter()
                .map(|(n, r)| Binding {
                    namespace: (*n).into(),
                    role: *r,
                })
                .collect(),
        }
    }

    #[test]
    fn a_role_holds_in_its_namespace_and_a_star_role_everywhere() {
        let p = principal(&[("team-a", Role::Editor), ("*", Role::Viewer)]);
        assert_eq!(p.role_in("team-a"), Some(Role::Editor));
        assert_eq!(p.role_in("team-b"), Some(Role::Viewer));
        assert_eq!(p.namespaces_with(Role::Viewer), None);
        assert_eq!(p.namespaces_with(Role::Editor), Some(vec!["team-a".into()]));
        assert_eq!(p.namespaces_with(Role::Admin), Some(vec![]));
        assert_eq!(principal(&[]).role_in("team-a"), None);
    }

    #[test]
    fn tokens_are_random_and_stored_as_their_hash() {
        let (a, b) = (
            new_token().unwrap_or_else(|e| panic!("{e}")),
            new_token().unwrap_or_else(|e| panic!("{e}")),
        );
        assert_ne!(a, b);
        assert_eq!(a.len(), "couler_".len() + 64);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
        assert_eq!(hash_token(&a), hash_token(&a));
    }
}
