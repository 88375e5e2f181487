//! The admin port: `GET /metrics` (Prometheus text), `GET /healthz`, `POST /invalidations`.

use crate::body::Body;
use crate::proxy::Edge;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

/// The largest invalidation request accepted.
const MAX_BODY: usize = 1 << 20;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Invalidation {
    paths: Vec<String>,
}

pub async fn handle(edge: &Edge, req: Request<Incoming>) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            let text = edge.metrics.render(&edge.store.stats());
            reply(StatusCode::OK, "text/plain; version=0.0.4", text)
        }
        (&Method::GET, "/healthz") => reply(StatusCode::OK, "text/plain", "ok\n".into()),
        (&Method::POST, "/invalidations") => invalidate(edge, req).await,
        (_, "/metrics" | "/healthz" | "/invalidations") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n".into(),
        ),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

async fn invalidate(edge: &Edge, req: Request<Incoming>) -> Response<Body> {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                format!("request body: {e}\n"),
            )
        }
    };
    let inv: Invalidation = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            return reply(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!("expected {{\"paths\": [\"/a.css\", \"/img/*\"]}}: {e}\n"),
            )
        }
    };
    let (mut exact, mut prefixes) = (Vec::new(), Vec::new());
    for p in &inv.paths {
        if !p.starts_with('/') {
            return reply(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!("path {p:?} must start with /\n"),
            );
        }
        match p.strip_suffix('*') {
            Some(prefix) => prefixes.push(prefix),
            None => exact.push(p.as_str()),
        }
    }
    let n = edge.store.invalidate(&exact, &prefixes);
    reply(
        StatusCode::OK,
        "application/json",
        format!("{{\"invalidated\":{n},\"paths\":{}}}\n", inv.paths.len()),
    )
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut r = Response::new(Body::full(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
