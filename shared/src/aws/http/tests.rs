use super::*;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::time::Instant;

/// A DynamoDB client of `https_client`, sent to `url`, with the given timeouts and no retries.
fn dynamodb(url: &str, timeouts: TimeoutConfig) -> aws_sdk_dynamodb::Client {
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https_client(&Trust::Pem(Vec::new())))
        .region(Region::from_static("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKID", "secret", None, None, "test",
        )))
        .endpoint_url(url)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(timeouts)
        .build();
    aws_sdk_dynamodb::Client::new(&config)
}

/// A loopback port that accepts TCP connections (the kernel completes them) and never answers.
fn silent_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Reads one request head (and no body: the requests here have none, or the server does not need it).
fn read_head(reader: &mut impl BufRead) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            return Some(head);
        }
    }
}

/// Calls ListTables and expects the SDK to report a timeout of `phase` within a few seconds.
async fn expect_timeout(url: &str, timeouts: TimeoutConfig, phase: &str) {
    let started = Instant::now();
    let call = dynamodb(url, timeouts).list_tables().send();
    // A timeout left out would hang the call: fail instead.
    let outcome = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the timeout fired");
    let elapsed = started.elapsed();
    let error = outcome.expect_err("nothing answers");
    let text = DisplayErrorContext(&error).to_string();
    match &error {
        SdkError::DispatchFailure(failure) => assert!(failure.is_timeout(), "{text}"),
        _ => panic!("not a dispatch failure: {text}"),
    }
    assert!(text.contains(phase), "{text}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

/// The connect timeout covers the TLS handshake too: a listener that takes the TCP connection and never
/// answers the ClientHello times it out.
#[tokio::test]
async fn the_connect_timeout_of_the_settings_is_honoured() {
    let (_listener, port) = silent_listener();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(300))
        .build();
    expect_timeout(&format!("https://127.0.0.1:{port}"), timeouts, "HTTP connect timeout").await;
}

#[tokio::test]
async fn the_read_timeout_of_the_settings_is_honoured() {
    let (_listener, port) = silent_listener();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_millis(300))
        .build();
    expect_timeout(&format!("http://127.0.0.1:{port}"), timeouts, "HTTP read timeout").await;
}

/// Plain http:// (moto on loopback) works, and the second call reuses the first one's connection: the server
/// takes one connection only.
#[tokio::test]
async fn plain_http_is_answered_over_one_pooled_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut heads = Vec::new();
        for _ in 0..2 {
            let request = read_head(&mut reader).expect("a request");
            let length = request
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            std::io::Read::read_exact(&mut reader, &mut body).unwrap();
            let answer = br#"{"TableNames":["esims"]}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n",
                answer.len()
            );
            writer.write_all(head.as_bytes()).unwrap();
            writer.write_all(answer).unwrap();
            heads.push(request);
        }
        heads
    });
    let client = dynamodb(
        &format!("http://127.0.0.1:{port}"),
        TimeoutConfig::builder().read_timeout(Duration::from_secs(5)).build(),
    );
    for _ in 0..2 {
        let listed = client
            .list_tables()
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string());
        assert_eq!(listed.unwrap().table_names(), ["esims"]);
    }
    assert_eq!(server.join().unwrap().len(), 2);
}

/// A proxy from the environment (here a matcher built the same way): https:// goes through a CONNECT tunnel,
/// http:// to the proxy with the whole URL, both with the proxy's credentials.
#[tokio::test]
async fn proxies_get_a_connect_tunnel_for_https_and_whole_urls_for_http() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let proxy = std::thread::spawn(move || {
        let mut heads = Vec::new();
        for answer in ["HTTP/1.1 403 Forbidden\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n"] {
            let (stream, _) = listener.accept().unwrap();
            let head = read_head(&mut BufReader::new(stream.try_clone().unwrap())).expect("a request");
            (&stream).write_all(answer.as_bytes()).unwrap();
            heads.push(head.to_ascii_lowercase());
        }
        heads
    });
    let matcher = Matcher::builder()
        .all(format!("http://user:pw@127.0.0.1:{port}"))
        .build();
    let client = SdkClient::new(&Trust::Pem(Vec::new()), matcher);
    let connector = SdkConnector::new(&client.tls, &client.proxies, (Some(Duration::from_secs(5)), None));
    let request = |url: &str| {
        let request = hyper::Request::get(url).body(SdkBody::empty()).unwrap();
        HttpRequest::try_from(request).unwrap()
    };
    let tunnelled = connector.call(request("https://dynamodb.aws.invalid/")).await;
    let refused = tunnelled.expect_err("the proxy refused the tunnel");
    assert!(refused.is_io(), "{refused:?}");
    let forwarded = connector.call(request("http://moto.aws.invalid:5000/x")).await.unwrap();
    assert_eq!(forwarded.status().as_u16(), 204);
    let heads = proxy.join().unwrap();
    // "user:pw" in Basic authentication.
    let credentials = "proxy-authorization: basic dxnlcjpwdw==";
    assert!(
        heads[0].starts_with("connect dynamodb.aws.invalid:443 http/1.1\r\n"),
        "{}",
        heads[0]
    );
    assert!(heads[0].contains(credentials), "{}", heads[0]);
    assert!(
        heads[1].starts_with("get http://moto.aws.invalid:5000/x http/1.1\r\n"),
        "{}",
        heads[1]
    );
    assert!(heads[1].contains(credentials), "{}", heads[1]);
}
