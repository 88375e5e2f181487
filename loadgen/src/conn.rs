//! A viewer's way to its PoP: the TCP connect every protocol shares, the region's shared
//! HTTP/2 connections (prior knowledge, streams multiplexed, each connection driven by a task
//! of its own), and reading a response whole into its digest.

use crate::stats::{CacheKind, Outcome};
use bytes::Bytes;
use http::header::CONTENT_RANGE;
use http::Response;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use xxhash_rust::xxh3::Xxh3;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How a region's viewers speak to their PoP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Keep-alive HTTP/1.1: one request at a time per connection.
    #[default]
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (h2c): up to [`H2_STREAMS`] requests at a
    /// time per connection.
    Http2,
}

impl Protocol {
    /// The name in scenario files and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http1 => "h1",
            Protocol::Http2 => "h2",
        }
    }

    /// Requests one connection carries at a time.
    pub fn streams(self) -> usize {
        match self {
            Protocol::Http1 => 1,
            Protocol::Http2 => H2_STREAMS,
        }
    }
}

/// Concurrent streams per HTTP/2 connection: the value browsers and CDNs commonly advertise
/// in `SETTINGS_MAX_CONCURRENT_STREAMS`.
pub const H2_STREAMS: usize = 100;

/// A TCP connection to `target` from `source` (if any), no Nagle, within `timeout`.
pub async fn connect(
    target: SocketAddr,
    source: Option<IpAddr>,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(src) = source {
        socket.bind(SocketAddr::new(src, 0))?;
    }
    socket.set_nodelay(true)?;
    tokio::time::timeout(timeout, socket.connect(target))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))?
}

/// One shared HTTP/2 connection and the requests it has carried.
struct H2Conn {
    sender: http2::SendRequest<Empty<Bytes>>,
    used: u64,
}

/// A region's HTTP/2 connections: slot `i` sends on connection `i % n`.
pub struct H2Pool {
    conns: Vec<tokio::sync::Mutex<Option<H2Conn>>>,
}

impl H2Pool {
    pub fn new(n: usize) -> H2Pool {
        H2Pool {
            conns: (0..n.max(1))
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
        }
    }

    /// A sender on the connection of slot `slot`, and whether it was opened for this request.
    /// A closed connection, or one that carried `quota` requests (0: no quota), is replaced;
    /// streams still open on the old one finish there.
    pub async fn sender(
        &self,
        slot: usize,
        target: SocketAddr,
        source: Option<IpAddr>,
        connect_timeout: Duration,
        quota: u64,
    ) -> io::Result<(http2::SendRequest<Empty<Bytes>>, bool)> {
        // Held while opening, so that the slots sharing it wait for one handshake.
        let mut conn = self.conns[slot % self.conns.len()].lock().await;
        let usable = conn
            .as_ref()
            .is_some_and(|c| !c.sender.is_closed() && (quota == 0 || c.used < quota));
        let opened = !usable;
        if opened {
            let stream = connect(target, source, connect_timeout).await?;
            let (sender, driver) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .map_err(io::Error::other)?;
            // Ends when every sender is gone and its streams are done, or on an error.
            tokio::spawn(async move {
                let _ = driver.await;
            });
            *conn = Some(H2Conn { sender, used: 0 });
        }
        let c = conn.as_mut().expect("opened above");
        c.used += 1;
        Ok((c.sender.clone(), opened))
    }

    /// Drops every connection (their drivers end once their streams do).
    pub fn close(&self) {
        for c in &self.conns {
            if let Ok(mut c) = c.try_lock() {
                *c = None;
            }
        }
    }
}

/// Awaits the response `response` and reads its body whole: records the time to the head
/// (from `scheduled`), the status, the `X-Cache` kind and the body's size in `o`; returns the
/// body's xxh3-64 and the first and last byte positions of a `Content-Range`.
pub async fn read_response(
    response: impl Future<Output = hyper::Result<Response<Incoming>>>,
    scheduled: Instant,
    o: &mut Outcome,
) -> Result<(u64, Option<(u64, u64)>), BoxError> {
    let resp = response.await?;
    o.ttfb = Some(micros(Instant::now().saturating_duration_since(scheduled)));
    o.status = resp.status().as_u16();
    if let Some(v) = resp.headers().get("x-cache") {
        o.kind = CacheKind::parse(v.as_bytes());
    }
    let content_range = resp
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| parse_content_range(v.as_bytes()));
    let mut body = resp.into_body();
    let mut hash = Xxh3::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            hash.update(&data);
            o.body_bytes += data.len() as u64;
        }
    }
    Ok((hash.digest(), content_range))
}

/// `bytes first-last/size` → `(first, last)`.
fn parse_content_range(v: &[u8]) -> Option<(u64, u64)> {
    let s = std::str::from_utf8(v).ok()?.strip_prefix("bytes ")?;
    let (range, _size) = s.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

pub fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}
