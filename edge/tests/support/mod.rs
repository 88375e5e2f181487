//! Test support: a scriptable origin on a loopback port, an edge started in-process, and a
//! small HTTP client. Everything binds 127.0.0.1 port 0.
#![allow(dead_code)] // each test file uses a different subset

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// What the origin answers for a path.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Delay before the response head.
    pub delay: Duration,
}

impl Reply {
    pub fn ok(body: &str, cache_control: &str) -> Self {
        let mut r = Reply {
            status: 200,
            headers: vec![],
            body: Bytes::from(body.to_string()),
            delay: Duration::ZERO,
        };
        if !cache_control.is_empty() {
            r.headers
                .push(("cache-control".into(), cache_control.into()));
        }
        r
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
    pub fn status(mut self, s: u16) -> Self {
        self.status = s;
        self
    }
}

type Script = Arc<dyn Fn(&Request<Incoming>) -> Reply + Send + Sync>;

/// A scriptable origin: counts requests per path, records the last request headers per path,
/// answers If-None-Match against the reply's ETag with 304.
pub struct Origin {
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<HashMap<String, u64>>>,
    pub last_headers: Arc<Mutex<HashMap<String, HeaderMap>>>,
    pub total: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Origin {
    pub async fn start(
        script: impl Fn(&Request<Incoming>) -> Reply + Send + Sync + 'static,
    ) -> Origin {
        Self::start_on("127.0.0.1:0".parse().unwrap(), Arc::new(script)).await
    }

    async fn start_on(addr: SocketAddr, script: Script) -> Origin {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits: Arc<Mutex<HashMap<String, u64>>> = Default::default();
        let last_headers: Arc<Mutex<HashMap<String, HeaderMap>>> = Default::default();
        let total = Arc::new(AtomicU64::new(0));
        let (h, lh, t) = (hits.clone(), last_headers.clone(), total.clone());
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Default::default();
        let conns = connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (script, h, lh, t) = (script.clone(), h.clone(), lh.clone(), t.clone());
                let conn = tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (script, h, lh, t) = (script.clone(), h.clone(), lh.clone(), t.clone());
                        async move {
                            let path = req.uri().path().to_string();
                            *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                            lh.lock().unwrap().insert(path, req.headers().clone());
                            t.fetch_add(1, Ordering::SeqCst);
                            let reply = script(&req);
                            tokio::time::sleep(reply.delay).await;
                            let mut resp = Response::new(Full::new(reply.body.clone()));
                            *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap();
                            for (k, v) in &reply.headers {
                                resp.headers_mut().append(
                                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                                    v.parse().unwrap(),
                                );
                            }
                            let etag = resp.headers().get("etag").cloned();
                            if let (Some(inm), Some(etag)) =
                                (req.headers().get("if-none-match"), etag)
                            {
                                if inm == etag {
                                    *resp.status_mut() = StatusCode::NOT_MODIFIED;
                                    *resp.body_mut() = Full::new(Bytes::new());
                                }
                            }
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                conns.lock().unwrap().push(conn);
            }
        });
        Origin {
            addr,
            hits,
            last_headers,
            total,
            task,
            connections,
        }
    }

    pub fn hits(&self, path: &str) -> u64 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    pub fn last_headers(&self, path: &str) -> HeaderMap {
        self.last_headers
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// Goes down: stops accepting and drops every open connection.
    pub fn stop(&self) {
        self.task.abort();
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

/// Starts an edge from a TOML config in which `{origin}` stands for the origin's URL.
pub async fn edge(origin: &Origin, toml: &str) -> edge::RunningEdge {
    let text = format!(
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nname = \"tst\"\n{}",
        toml.replace("{origin}", &format!("http://{}", origin.addr))
    );
    let cfg = edge::Config::from_str(&text, "test.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    edge::start(cfg).await.unwrap()
}

/// The usual single-origin distribution with one cached behavior plus extra lines.
pub fn simple(extra_behavior: &str) -> String {
    format!("[cache]\npolicy = \"lru\"\ncapacity = \"64MiB\"\nmax_object_size = \"1MiB\"\n[[origin]]\nname = \"o\"\nurl = \"{{origin}}\"\nresponse_timeout = \"2s\"\n[[behavior]]\npath = \"*\"\norigin = \"o\"\n{extra_behavior}\n")
}

pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
    pub fn x_cache(&self) -> &str {
        self.header("x-cache")
    }
}

pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Got {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client()
        .request(req.body(Full::new(Bytes::from(body.to_string()))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Got {
        status,
        headers,
        body,
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Got {
    send(addr, "GET", path, &[], "").await
}

/// `n` bytes determined by `seed`, in which no short run repeats at a small offset (so a slice
/// taken at the wrong offset never compares equal) and no two seeds agree.
pub fn pattern(seed: u64, n: usize) -> Bytes {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}
