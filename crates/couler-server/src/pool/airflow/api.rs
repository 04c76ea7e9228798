//! A small client of Airflow 3's REST API (`/api/v2`): signs in with `POST /auth/token` (the
//! simple and FAB auth managers both answer it with a JWT), signs in again once when a token
//! expires, and words every refusal with Airflow's own detail
//! (the server's retry table matches it: `429 Too Many Requests`, 5xx `an error on the
//! server`, `connection refused`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::Mutex;

pub struct Api {
    base: String,
    http: reqwest::Client,
    credentials: (String, String),
    token: Mutex<Option<String>>,
}

impl Api {
    /// A client of the api-server at `base` signing in as `credentials` (user, password).
    pub fn new(base: &str, credentials: (String, String)) -> Result<Api, String> {
        // reqwest is built with rustls and no crypto provider of its own (as couler-store).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Api {
            base: base.to_string(),
            http,
            credentials,
            token: Mutex::new(None),
        })
    }

    /// `method` on `path` under `/api/v2`: the answer's status and JSON body (`null` when it
    /// has none); `Err` only when Airflow could not be asked.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), String> {
        let mut signed_in_again = false;
        loop {
            let token = self.token(false).await?;
            let url = format!("{}/api/v2{path}", self.base);
            let mut req = self.http.request(method.clone(), &url).bearer_auth(&token);
            if let Some(b) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.to_string());
            }
            let (status, value) = answer(req.send().await, &method, path).await?;
            if status == StatusCode::UNAUTHORIZED && !signed_in_again {
                signed_in_again = true;
                self.token(true).await?;
                continue;
            }
            return Ok((status, value));
        }
    }

    /// As [`Api::send`], a 2xx answer's body; `None` for 404; any other answer is an error
    /// naming the request and Airflow's detail.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, String> {
        let (status, value) = self.send(method.clone(), path, body).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.is_success() {
            return Ok(Some(value));
        }
        Err(refusal(status, &method, path, &value))
    }

    /// The bearer token (signing in when there is none yet, or `again`).
    async fn token(&self, again: bool) -> Result<String, String> {
        let (user, password) = &self.credentials;
        let mut token = self.token.lock().await;
        if again || token.is_none() {
            let req = self
                .http
                .post(format!("{}/auth/token", self.base))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json!({"username": user, "password": password}).to_string());
            let (status, value) = answer(req.send().await, &Method::POST, "/auth/token").await?;
            if !status.is_success() {
                return Err(format!(
                    "signing in to Airflow as `{user}`: {}",
                    refusal(status, &Method::POST, "/auth/token", &value)
                ));
            }
            let Some(t) = value["access_token"].as_str() else {
                return Err(format!(
                    "signing in to Airflow as `{user}`: its answer has no access_token"
                ));
            };
            *token = Some(t.to_string());
        }
        Ok(token.clone().unwrap_or_default())
    }
}

/// The status and JSON body of a response (`null` when it is empty or not JSON).
async fn answer(
    sent: reqwest::Result<reqwest::Response>,
    method: &Method,
    path: &str,
) -> Result<(StatusCode, Value), String> {
    let unreachable = |e: reqwest::Error| {
        format!(
            "Airflow's API could not be asked {method} {path}: {}",
            chain(&e)
        )
    };
    let resp = sent.map_err(unreachable)?;
    let status = resp.status();
    let text = resp.text().await.map_err(unreachable)?;
    let value = serde_json::from_str(&text).unwrap_or(if text.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    });
    Ok((status, value))
}

/// A refused request in words: what was asked, the status, Airflow's detail.
pub fn refusal(status: StatusCode, method: &Method, path: &str, body: &Value) -> String {
    let reason = status.canonical_reason().unwrap_or("");
    let server = if status.is_server_error() {
        ", an error on the server"
    } else {
        ""
    };
    let detail = match &body["detail"] {
        Value::String(s) => s.clone(),
        Value::Null => match body {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    };
    format!(
        "Airflow's API answered {method} {path} with {} {reason}{server}: {detail}",
        status.as_u16()
    )
}

/// An error and its sources, `: `-separated (reqwest's own text omits the OS error).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Airflow's refusals are worded so that the retry table retries what is transient and
    /// nothing else.
    #[test]
    fn refusals_match_the_retry_table() {
        let detail = json!({"detail": "Rate limit exceeded"});
        for (status, pattern) in [
            (StatusCode::TOO_MANY_REQUESTS, Some("k8s-too-many-requests")),
            (StatusCode::INTERNAL_SERVER_ERROR, Some("k8s-server-error")),
            (StatusCode::SERVICE_UNAVAILABLE, Some("k8s-server-error")),
            (StatusCode::FORBIDDEN, None),
            (StatusCode::UNPROCESSABLE_ENTITY, None),
        ] {
            let said = refusal(status, &Method::POST, "/dags/d/dagRuns", &detail);
            assert!(said.contains("Rate limit exceeded"), "{said}");
            assert!(said.contains(&status.as_u16().to_string()), "{said}");
            let matched = crate::retry::classify_step("Error", &said).map(|p| p.name);
            assert_eq!(matched, pattern, "{said}");
        }
    }
}
