//! Posting callbacks for real, to a receiver on loopback: statuses and Retry-After read, redirects not
//! followed, and the address checked at connect time (a name resolving to a private or loopback address is
//! refused unless loopback is allowed, as `serve --allow-loopback-callbacks` does).

use bytes::Bytes;
use shared::callbacks::delivery::Response;
use shared::callbacks::http::HttpPoster;
use shared::callbacks::url::StaticResolver;
use std::sync::Arc;

use crate::receiver;

use receiver::receiver;

fn loopback() -> Arc<StaticResolver> {
    Arc::new(StaticResolver(vec!["127.0.0.1".parse().unwrap()]))
}

#[tokio::test]
async fn answers_are_read_and_redirects_are_not_followed() {
    let r = receiver(vec![
        receiver::status(204),
        "HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno".into(),
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            .into(),
    ])
    .await;
    let poster = HttpPoster::new(loopback(), true).unwrap();
    let url = format!("http://partner.test:{}/hooks", r.port);
    let headers = [("webhook-id", "ntf_1".to_string())];
    let (first, _) = poster.post(&url, &headers, Bytes::from_static(b"{\"a\":1}")).await;
    assert_eq!(
        first,
        Response::Status {
            code: 204,
            retry_after_seconds: None
        }
    );
    let (second, _) = poster.post(&url, &headers, Bytes::from_static(b"{}")).await;
    assert_eq!(
        second,
        Response::Status {
            code: 429,
            retry_after_seconds: Some(7)
        }
    );
    let (third, _) = poster.post(&url, &headers, Bytes::from_static(b"{}")).await;
    assert_eq!(
        third,
        Response::Status {
            code: 302,
            retry_after_seconds: None
        },
        "not followed"
    );
    let received = r.received();
    assert_eq!(received.len(), 3);
    assert_eq!(received[0].request_line, "POST /hooks HTTP/1.1");
    assert_eq!(received[0].header("webhook-id"), Some("ntf_1"));
    assert_eq!(received[0].body, "{\"a\":1}");
}

#[tokio::test]
async fn addresses_a_callback_may_not_reach_are_refused_when_connecting() {
    let r = receiver(vec![]).await;
    // Deployed: a name that resolves to loopback (DNS rebinding) or a private address is refused.
    let deployed = HttpPoster::new(loopback(), false).unwrap();
    let (answer, _) = deployed
        .post(&format!("https://partner.test:{}/", r.port), &[], Bytes::new())
        .await;
    assert!(
        matches!(&answer, Response::Failed { error } if error.contains("may not reach")),
        "{answer:?}"
    );
    let private = HttpPoster::new(Arc::new(StaticResolver(vec!["10.1.2.3".parse().unwrap()])), false).unwrap();
    let (answer, _) = private.post("https://partner.test/", &[], Bytes::new()).await;
    assert!(
        matches!(&answer, Response::Failed { error } if error.contains("may not reach")),
        "{answer:?}"
    );
    let (literal, _) = deployed.post("https://[::1]:8443/", &[], Bytes::new()).await;
    assert!(
        matches!(&literal, Response::Failed { error } if error.contains("may not reach")),
        "{literal:?}"
    );
    let (plain, _) = deployed.post("http://partner.test/", &[], Bytes::new()).await;
    assert!(
        matches!(&plain, Response::Failed { error } if error.contains("https")),
        "{plain:?}"
    );
    assert!(r.received().is_empty(), "nothing reached the receiver");
    // Nobody listening: an error, not a panic.
    let local = HttpPoster::new(loopback(), true).unwrap();
    let (refused, _) = local.post("http://partner.test:1/", &[], Bytes::new()).await;
    assert!(matches!(refused, Response::Failed { .. }), "{refused:?}");
}
