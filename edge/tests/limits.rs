//! The edge's protocol surface and limits: h2c, header size cap, connection cap.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_with_prior_knowledge_is_served() {
    let origin = Origin::start(|_| Reply::ok("over h2", "max-age=60")).await;
    let e = edge(&origin, &simple("")).await;
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::new());
    for want in ["Miss from tst", "Hit from tst"] {
        let resp = client
            .get(format!("http://{}/h2", e.listen).parse().unwrap())
            .await
            .unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(resp.headers()["x-cache"], want);
        assert_eq!(
            &resp.into_body().collect().await.unwrap().to_bytes()[..],
            b"over h2"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_head_is_refused() {
    let origin = Origin::start(|_| Reply::ok("x", "max-age=60")).await;
    let e = edge(
        &origin,
        &format!("{}[limits]\nmax_header_bytes = \"8KiB\"\n", simple("")),
    )
    .await;
    let mut s = tokio::net::TcpStream::connect(e.listen).await.unwrap();
    let big = "a".repeat(64 * 1024);
    let req = format!("GET /x HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\n\r\n");
    let _ = s.write_all(req.as_bytes()).await; // the edge may close before reading it all
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    assert_eq!(
        origin.total.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "never reached the origin"
    );
    assert_eq!(get(e.listen, "/x").await.status, 200, "others unaffected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_closed() {
    let origin = Origin::start(|_| Reply::ok("x", "max-age=60")).await;
    let e = edge(
        &origin,
        &format!("{}[limits]\nmax_connections = 2\n", simple("")),
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(e.listen).await.unwrap();
        s.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(s);
    }
    // A third connection is accepted by the kernel but closed by the edge without an answer.
    let mut third = tokio::net::TcpStream::connect(e.listen).await.unwrap();
    let _ = third.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(
        n,
        0,
        "the third connection was served: {:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Once one closes, new connections are served again.
    drop(held.pop());
    let mut ok = false;
    for _ in 0..50 {
        let mut s = tokio::net::TcpStream::connect(e.listen).await.unwrap();
        let _ = s
            .write_all(b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .await;
        let mut buf = vec![0u8; 64];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
            if buf[..n].starts_with(b"HTTP/1.1 200") {
                ok = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "a slot freed up but new connections are still refused");
}
