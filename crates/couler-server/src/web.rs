//! The web UI (docs/ui.md), served at `/` from files embedded at compile time (`build.rs`:
//! `web/dist`, or a placeholder page that says how to build it). Paths under `/api/` that no
//! route has stay a JSON 404; any other GET that is not a file is a client route of the
//! single-page app and gets `index.html`. Hashed assets (`/assets/…`) are cached for good,
//! everything else is revalidated; every answer carries a strict Content-Security-Policy.

use crate::api::ApiError;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

pub use embedded::BUILT;

/// Scripts, styles, images and connections from this origin only; no inline script, no
/// framing, no plugins.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; \
                       form-action 'self'; frame-ancestors 'none'";

/// Where Vite puts files whose names carry their content's hash.
const HASHED: &str = "/assets/";

fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    embedded::ASSETS
        .binary_search_by(|(p, _, _)| (*p).cmp(path))
        .ok()
        .map(|i| (embedded::ASSETS[i].1, embedded::ASSETS[i].2))
}

/// The router's fallback: an embedded file, the app's `index.html` for a client route, or 404.
pub async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let is_api = path == crate::api::API_PREFIX || path.starts_with("/api/");
    if is_api || !(method == Method::GET || method == Method::HEAD) {
        return ApiError::new(StatusCode::NOT_FOUND, "not found", "no such route").into_response();
    }
    let (served, found) = match asset(path) {
        Some(a) => (path, Some(a)),
        None if path.starts_with(HASHED) => (path, None),
        None => ("/index.html", asset("/index.html")),
    };
    let Some((content_type, bytes)) = found else {
        return ApiError::new(StatusCode::NOT_FOUND, "not found", "no such file").into_response();
    };
    let cache = if served.starts_with(HASHED) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_sorted_for_lookup_and_hold_an_index() {
        let paths: Vec<&str> = embedded::ASSETS.iter().map(|a| a.0).collect();
        let mut sorted = paths.clone();
        sorted.sort_unstable();
        assert_eq!(paths, sorted);
        let (ct, body) = asset("/index.html").unwrap_or_else(|| panic!("no index.html"));
        assert_eq!(ct, "text/html; charset=utf-8");
        assert!(String::from_utf8_lossy(body).contains("<html"));
    }
}
