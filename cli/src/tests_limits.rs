//! The local server's deadlines and connection cap (issue #33, item 12), with short limits over real sockets:
//! each test waits for the server to close a socket it would otherwise hold open.

use crate::serve::{self, build_router, AppState, ServeLimits};
use crate::tests::{fixture_body, http, local_backend, local_secrets, TOKEN};
use shared::clock::{Clock, SystemClock};
use shared::config::Settings;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Limited {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

/// `serve` over a fresh local store, every provider configured, within `limits`.
async fn start(limits: ServeLimits) -> Limited {
    let dir = tempfile::tempdir().unwrap();
    let opened = local_backend(&dir.path().join("local.db")).open(true).await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let router = Arc::new(build_router(&opened, &Settings::default(), clock.clone(), &local_secrets).await);
    let state = AppState {
        router,
        clock,
        callbacks: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve::run_with(listener, state, limits, async {
        let _ = stopped.await;
    }));
    Limited {
        addr,
        stop,
        task,
        _dir: dir,
    }
}

impl Limited {
    /// Shutdown returns promptly, whatever connections are open.
    async fn stop(self) {
        let _ = self.stop.send(());
        let stopped = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        stopped.expect("the server stops").unwrap().unwrap();
    }
}

/// Reads (and keeps) what the server sends until it closes the socket; `None` if it is still open after
/// `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<(Duration, String)> {
    let began = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| (began.elapsed(), String::from_utf8_lossy(&received).into_owned()))
}

/// Reads one response with a `Content-Length` off a kept-alive connection; returns its status.
async fn response(stream: &mut TcpStream) -> u16 {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("a response")
            .unwrap();
        assert!(n > 0, "closed before a whole response");
        received.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&received);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_string())
            })
            .map_or(0, |v| v.parse().unwrap());
        if body.len() >= length {
            return head.split(' ').nth(1).unwrap().parse().unwrap();
        }
    }
}

#[test]
fn limits_default_to_10_30_60_seconds_and_1024_connections() {
    let limits = ServeLimits::default();
    assert_eq!(
        (limits.header, limits.body, limits.idle, limits.max_connections),
        (
            Duration::from_secs(10),
            Duration::from_secs(30),
            Duration::from_secs(60),
            1024
        )
    );
    let with =
        |value: &'static str| move |name: &str| (name == "ESIMHOOKS_SERVE_MAX_CONNECTIONS").then(|| value.to_string());
    assert_eq!(ServeLimits::from_env(&|_: &str| None), Ok(limits));
    assert_eq!(ServeLimits::from_env(&with("16")).unwrap().max_connections, 16);
    for wrong in ["0", "many", "-1", "2000000"] {
        let refused = ServeLimits::from_env(&with(wrong)).unwrap_err();
        assert!(refused.contains("ESIMHOOKS_SERVE_MAX_CONNECTIONS"), "{refused}");
    }
}

#[tokio::test]
async fn a_stalled_head_is_closed_after_the_header_deadline() {
    let limits = ServeLimits {
        header: ms(200),
        body: ms(300),
        idle: ms(400),
        max_connections: 4,
    };
    let server = start(limits).await;
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled.write_all(b"POST /webhooks/esimaccess HT").await.unwrap();
    let (after, said) = closed_within(&mut stalled, 2 * limits.header)
        .await
        .expect("a head left half-sent is closed after the header deadline");
    assert!(after >= ms(150), "closed at {after:?}, before the deadline");
    assert_eq!(said, "", "nothing is answered to a client that never sent a head");
    // A connection that sends nothing at all is held no longer.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    assert!(closed_within(&mut silent, 2 * limits.header).await.is_some());
    server.stop().await;
}

#[tokio::test]
async fn a_trickled_body_gets_408_after_the_body_deadline() {
    let limits = ServeLimits {
        header: ms(200),
        body: ms(300),
        idle: ms(400),
        max_connections: 4,
    };
    let server = start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /webhooks/esimaccess?token={TOKEN} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reading, mut writing) = stream.into_split();
    // A byte every 50 ms: the whole body would take 5 s.
    let trickle = tokio::spawn(async move {
        for _ in 0..99 {
            tokio::time::sleep(ms(50)).await;
            if writing.write_all(b" ").await.is_err() {
                break;
            }
        }
        writing
    });
    let began = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(2 * limits.body, async {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = reading.read(&mut chunk).await {
            received.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    trickle.abort();
    let said = String::from_utf8_lossy(&received);
    assert!(
        read.is_ok(),
        "still open {:?} after the head: {said:?}",
        began.elapsed()
    );
    assert!(
        began.elapsed() >= ms(250),
        "answered at {:?}, before the deadline",
        began.elapsed()
    );
    assert!(said.starts_with("HTTP/1.1 408 "), "{said}");
    assert!(said.to_ascii_lowercase().contains("connection: close"), "{said}");
    let body: serde_json::Value = serde_json::from_str(said.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_deadline() {
    let limits = ServeLimits {
        header: ms(200),
        body: ms(300),
        idle: ms(400),
        max_connections: 4,
    };
    let server = start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = b"GET /webhooks/nobody HTTP/1.1\r\nHost: localhost\r\n\r\n";
    stream.write_all(request).await.unwrap();
    assert_eq!(response(&mut stream).await, 404);
    // Idle for longer than the header deadline: the connection is kept for its next request.
    tokio::time::sleep(ms(300)).await;
    stream.write_all(request).await.unwrap();
    assert_eq!(response(&mut stream).await, 404);
    let (after, _) = closed_within(&mut stream, 2 * limits.idle)
        .await
        .expect("an idle connection is closed after the idle deadline");
    assert!(after >= ms(320), "closed at {after:?}, before the idle deadline");
    server.stop().await;
}

#[tokio::test]
async fn past_the_cap_connections_are_closed_until_stalled_ones_time_out() {
    let limits = ServeLimits {
        header: ms(500),
        body: ms(300),
        idle: ms(400),
        max_connections: 4,
    };
    let server = start(limits).await;
    let mut stalled = Vec::new();
    for _ in 0..limits.max_connections {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"POST /webhooks/esimaccess HTTP/1.1\r\nHo")
            .await
            .unwrap();
        stalled.push(stream);
    }
    tokio::time::sleep(ms(50)).await;
    let mut refused = TcpStream::connect(server.addr).await.unwrap();
    let (after, said) = closed_within(&mut refused, ms(250))
        .await
        .expect("a connection past the cap is closed at once");
    assert_eq!(said, "");
    assert!(after < ms(250));
    for stream in &mut stalled {
        assert!(
            closed_within(stream, 2 * limits.header).await.is_some(),
            "stalled connections time out"
        );
    }
    let path = format!("/webhooks/esimaccess?token={TOKEN}");
    let (status, reply) = http(server.addr, "POST", &path, &fixture_body("02-esim-status-in-use.json")).await;
    assert_eq!(status, 200, "{reply}");

    // Shutdown closes an idle kept-alive connection rather than waiting out its deadline.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /webhooks/nobody HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(response(&mut kept).await, 404);
    let began = Instant::now();
    server.stop().await;
    assert!(began.elapsed() < limits.idle, "shutdown waited {:?}", began.elapsed());
}
