//! The OpenAI-compatible client against the loopback stand-in (`couler_model::standin`): a
//! real HTTP server speaking the chat-completions protocol, answering from each test's script.

use couler_model::openai::OpenAi;
use couler_model::standin::{Reply, Server};
use couler_model::{Message, Model, Options, Retry};
use std::time::{Duration, Instant};

fn client(server: &Server, key: Option<&str>) -> OpenAi {
    OpenAi::new(
        &server.url,
        "test-model",
        key.map(str::to_string),
        Duration::from_secs(10),
    )
    .unwrap()
    .with_retry(Retry {
        attempts: 3,
        base: Duration::from_millis(10),
        max_wait: Duration::from_secs(2),
    })
}

#[test]
fn the_request_has_the_protocols_shape_and_the_answer_is_read() {
    let server = Server::start(vec![Reply::answer("hello")]);
    let options = Options {
        temperature: Some(0.0),
        max_tokens: Some(64),
        stop: vec!["END".into()],
        json_schema: Some(serde_json::json!({"type": "array"})),
        seed: Some(3),
    };
    let answer = client(&server, Some("sk-secret"))
        .chat(
            &[Message::system("be brief"), Message::user("hi")],
            &options,
        )
        .unwrap();
    assert_eq!(answer, "hello");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(r.header("authorization"), Some("Bearer sk-secret"));
    assert_eq!(r.body["model"], "test-model");
    assert_eq!(r.body["messages"][0]["role"], "system");
    assert_eq!(r.body["messages"][1]["content"], "hi");
    assert_eq!(r.body["max_tokens"], 64);
    assert_eq!(r.body["stop"][0], "END");
    assert_eq!(r.body["seed"], 3);
    assert_eq!(
        r.body["response_format"]["json_schema"]["schema"]["type"],
        "array"
    );
}

#[test]
fn a_429_is_retried_after_the_wait_retry_after_asks() {
    let server = Server::start(vec![
        Reply::status(429, "{}").header("retry-after", "1"),
        Reply::status(503, "{}"),
        Reply::answer("ok"),
    ]);
    let start = Instant::now();
    let answer = client(&server, None).chat(&[Message::user("hi")], &Options::default());
    assert_eq!(answer.unwrap(), "ok");
    assert_eq!(server.requests().len(), 3);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 honoured"
    );
    assert_eq!(
        server.requests()[0].header("authorization"),
        None,
        "no key, no header"
    );
}

#[test]
fn retries_end_with_an_error_naming_the_endpoint() {
    let server = Server::start(vec![Reply::status(500, "boom"); 3]);
    let err = client(&server, None)
        .chat(&[Message::user("hi")], &Options::default())
        .unwrap_err()
        .to_string();
    assert_eq!(server.requests().len(), 3);
    assert!(
        err.contains(&server.url) && err.contains("500") && err.contains("boom"),
        "{err}"
    );
}

#[test]
fn a_401_is_a_clear_error_that_never_shows_the_key() {
    let server = Server::start(vec![Reply::status(401, "{\"error\": \"bad key\"}")]);
    let c = client(&server, Some("sk-very-secret"));
    let err = c
        .chat(&[Message::user("hi")], &Options::default())
        .unwrap_err()
        .to_string();
    assert_eq!(server.requests().len(), 1, "a 401 is not retried");
    assert!(
        err.contains("401") && err.contains("OPENAI_API_KEY") && err.contains(&server.url),
        "{err}"
    );
    assert!(!err.contains("sk-very-secret") && !format!("{c:?}").contains("sk-very-secret"));
}

#[test]
fn an_answer_that_is_not_a_chat_completion_is_named() {
    let server = Server::start(vec![Reply::status(200, "<html>proxy</html>")]);
    let err = client(&server, None)
        .chat(&[Message::user("hi")], &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a chat completion") && err.contains("<html>"),
        "{err}"
    );
}

#[test]
fn an_unreachable_endpoint_is_named_with_the_fix() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let c = OpenAi::new(&url, "m", None, Duration::from_secs(5))
        .unwrap()
        .with_retry(Retry {
            attempts: 2,
            base: Duration::from_millis(10),
            max_wait: Duration::from_millis(10),
        });
    let err = c
        .chat(&[Message::user("hi")], &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&url) && err.contains("unreachable") && err.contains("--endpoint"),
        "{err}"
    );
    let bad = OpenAi::new("api.example.com", "m", None, Duration::from_secs(1)).unwrap_err();
    assert!(bad.to_string().contains("base URL"), "{bad}");
}
