//! The one body type the proxy sends and receives: empty, whole, streamed from a fill, or a
//! peer's incoming body passed through.

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc::UnboundedReceiver;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A chunk of a streamed body, or the error that cut it short.
pub type Chunk = Result<Bytes, std::io::Error>;

pub enum Body {
    Empty,
    Full(Option<Bytes>),
    /// Chunks pushed by an origin fetch (see `fill`), in order; the sender's drop ends it.
    /// The counter, if any, counts the bytes as they go out.
    Channel(UnboundedReceiver<Chunk>, Option<metrics::Counter>),
    Incoming(hyper::body::Incoming, Option<metrics::Counter>),
}

impl Body {
    pub fn full(b: Bytes) -> Self {
        if b.is_empty() {
            Body::Empty
        } else {
            Body::Full(Some(b))
        }
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Channel(rx, counter) => rx.poll_recv(cx).map(|c| {
                c.map(|c| {
                    c.map(|b| {
                        count(counter, b.len());
                        Frame::data(b)
                    })
                    .map_err(Into::into)
                })
            }),
            Body::Incoming(b, counter) => Pin::new(b).poll_frame(cx).map(|f| {
                f.map(|f| {
                    f.inspect(|f| {
                        if let Some(d) = f.data_ref() {
                            count(counter, d.len());
                        }
                    })
                    .map_err(Into::into)
                })
            }),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(b) => b.is_none(),
            Body::Channel(..) => false,
            Body::Incoming(b, _) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Channel(..) => SizeHint::default(),
            Body::Incoming(b, _) => b.size_hint(),
        }
    }
}

fn count(counter: &Option<metrics::Counter>, n: usize) {
    if let Some(c) = counter {
        c.increment(n as u64);
    }
}
