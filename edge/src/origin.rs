//! The origin client: pooled keep-alive connections to each origin, with a connect timeout
//! and a timeout to the response head.

use crate::body::Body;
use crate::config::Origin;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Why an origin fetch produced no response.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error("origin {origin}: no response head within {timeout:?}")]
    Timeout { origin: String, timeout: Duration },
    #[error("origin {origin}: {source}")]
    Connect {
        origin: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
}

impl OriginError {
    /// The status the viewer gets when nothing stale can serve: 504 for a timeout, 502 else.
    pub fn status(&self) -> http::StatusCode {
        match self {
            OriginError::Timeout { .. } => http::StatusCode::GATEWAY_TIMEOUT,
            OriginError::Connect { .. } => http::StatusCode::BAD_GATEWAY,
        }
    }
}

pub struct OriginClient {
    pub origin: Origin,
    client: Client<HttpConnector, Body>,
}

impl OriginClient {
    pub fn new(origin: Origin) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(origin.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .build(connector);
        Self { origin, client }
    }

    /// Sends `req`, whose URI holds only the path and query, to this origin.
    pub async fn send(&self, mut req: Request<Body>) -> Result<Response<Incoming>, OriginError> {
        let pq = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let base = &self.origin.url;
        let uri = http::Uri::builder()
            .scheme(base.scheme_str().unwrap_or("http"))
            .authority(base.authority().map(|a| a.as_str()).unwrap_or("localhost"))
            .path_and_query(pq)
            .build()
            .expect("an origin URL and a request path make a URI");
        *req.uri_mut() = uri;
        if let Some(a) = base.authority() {
            req.headers_mut().insert(
                http::header::HOST,
                http::HeaderValue::from_str(a.as_str()).expect("authority is a valid header"),
            );
        }
        let timeout = self.origin.response_timeout;
        match tokio::time::timeout(timeout, self.client.request(req)).await {
            Err(_) => Err(OriginError::Timeout {
                origin: self.origin.name.clone(),
                timeout,
            }),
            Ok(Err(source)) => Err(OriginError::Connect {
                origin: self.origin.name.clone(),
                source,
            }),
            Ok(Ok(resp)) => Ok(resp),
        }
    }
}
