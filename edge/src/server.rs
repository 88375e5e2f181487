//! Listeners: the viewer port (HTTP/1.1 and h2c) and the admin port, with the connection
//! limits that keep slow or hostile clients from pinning the edge.

use crate::admin;
use crate::body::Body;
use crate::config::Config;
use crate::proxy::Edge;
use crate::viewer_io::viewer_io;
use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

/// An edge serving on its two ports until dropped or shut down.
pub struct RunningEdge {
    pub listen: SocketAddr,
    pub admin: SocketAddr,
    pub edge: Arc<Edge>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningEdge {
    /// Stops accepting; connections in progress finish on their own.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Waits until both accept loops have stopped.
    pub async fn stopped(mut self) {
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for RunningEdge {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cache policy: {0}")]
    Policy(#[from] cache::ParamError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Binds both ports and starts serving. Must run inside a tokio runtime.
pub async fn start(cfg: Config) -> Result<RunningEdge, StartError> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })
    };
    let viewer = bind(cfg.listen).await?;
    let admin_l = bind(cfg.admin_listen).await?;
    let listen = viewer.local_addr().map_err(|source| StartError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let admin = admin_l.local_addr().map_err(|source| StartError::Bind {
        addr: cfg.admin_listen,
        source,
    })?;
    let edge = Arc::new(Edge::new(cfg)?);
    let (tx, rx) = watch::channel(false);
    let e = edge.clone();
    let viewer_task = tokio::spawn(accept_loop(viewer, edge.clone(), rx.clone(), move |req| {
        let e = e.clone();
        async move { Ok::<_, Infallible>(e.handle(req).await) }
    }));
    let e = edge.clone();
    let admin_task = tokio::spawn(accept_loop(admin_l, edge.clone(), rx, move |req| {
        let e = e.clone();
        async move { Ok::<_, Infallible>(admin::handle(&e, req).await) }
    }));
    Ok(RunningEdge {
        listen,
        admin,
        edge,
        shutdown: tx,
        tasks: vec![viewer_task, admin_task],
    })
}

async fn accept_loop<F, Fut>(
    listener: TcpListener,
    edge: Arc<Edge>,
    mut shutdown: watch::Receiver<bool>,
    handler: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<http::Response<Body>, Infallible>> + Send + 'static,
{
    let limits = edge.cfg.limits;
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes as u32);
    let builder = Arc::new(builder);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _peer)) = accepted else {
            // Out of file descriptors and the like: back off briefly instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        // Over the connection cap: close at once rather than queue without bound.
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        let by_reference = edge
            .cfg
            .cache
            .zero_copy
            .then(|| edge.metrics.sent_by_reference_counter());
        let handler = handler.clone();
        tokio::spawn(async move {
            let svc = service_fn(handler);
            // A broken or hostile connection ends here and affects no other.
            let _ = builder
                .serve_connection_with_upgrades(viewer_io(stream, by_reference), svc)
                .await;
            drop(permit);
        });
    }
}
