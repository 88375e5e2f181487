//! A viewer connection's IO for hyper: a TCP stream that sends large cached bodies by page
//! reference (`vmsplice` into a pipe, `splice` into the socket) instead of copying them, as
//! nginx does with `sendfile` from its cache files.
//!
//! Only slices of at least [`MIN_MAPPED`](crate::mapped::MIN_MAPPED) bytes inside a registered mapping (a large entry's
//! buffer, see [`crate::mapped`]), and the rest of such a slice, go by reference; everything else — headers, small bodies,
//! bodies streamed from an origin — is written as before. Where pipes are unavailable (out of
//! descriptors, another OS) every byte is copied as before: same bytes, more CPU.

#[cfg(target_os = "linux")]
pub use linux::ViewerIo;

/// Elsewhere, the plain stream.
#[cfg(not(target_os = "linux"))]
pub type ViewerIo = hyper_util::rt::TokioIo<tokio::net::TcpStream>;

/// The IO hyper serves a viewer connection `stream` on. With `by_reference` (the counter of
/// bytes sent that way), large slices go by reference; without, everything is copied.
#[cfg(target_os = "linux")]
pub fn viewer_io(
    stream: tokio::net::TcpStream,
    by_reference: Option<metrics::Counter>,
) -> ViewerIo {
    ViewerIo::new(stream, by_reference)
}

/// The IO hyper serves a viewer connection `stream` on (nothing is sent by reference here).
#[cfg(not(target_os = "linux"))]
pub fn viewer_io(
    stream: tokio::net::TcpStream,
    _by_reference: Option<metrics::Counter>,
) -> ViewerIo {
    ViewerIo::new(stream)
}

#[cfg(target_os = "linux")]
mod linux {
    use crate::mapped::{self, MIN_MAPPED};
    use hyper::rt::{Read, ReadBufCursor, Write};
    use hyper_util::rt::TokioIo;
    use std::io::{self, IoSlice};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::pin::Pin;
    use std::task::{ready, Context, Poll};
    use tokio::io::Interest;
    use tokio::net::TcpStream;

    /// What a connection's pipe is asked to hold: 64 pages, so a body of up to ~250 KiB goes
    /// into it with one `vmsplice`. The pipe holds page references, not copies.
    const PIPE_BYTES: libc::c_int = 256 * 1024;

    pub struct ViewerIo {
        io: TokioIo<TcpStream>,
        pipe: Pipe,
        /// Bytes in the pipe not yet in the socket. hyper was told they were written, so they
        /// go out before anything else does, and a flush or shutdown waits for them.
        pending: usize,
        /// Whether more bytes follow `pending` at once (the socket may then hold back a
        /// partial segment).
        more: bool,
        /// The address just past the last bytes sent by reference if the slice they came from
        /// is not all sent: a slice starting there is its rest, sent the same way whatever its
        /// length. Zero otherwise.
        continues_at: usize,
        by_reference: metrics::Counter,
    }

    enum Pipe {
        /// Made at the connection's first large send.
        Unmade,
        Ready {
            read: OwnedFd,
            write: OwnedFd,
        },
        /// Turned off (`cache.zero_copy = false`) or `pipe2` failed (out of descriptors, say):
        /// this connection copies.
        Unavailable,
    }

    impl ViewerIo {
        /// Without `by_reference` (the counter of bytes sent that way), every byte is copied.
        pub fn new(stream: TcpStream, by_reference: Option<metrics::Counter>) -> ViewerIo {
            let (pipe, by_reference) = match by_reference {
                Some(c) => (Pipe::Unmade, c),
                None => (Pipe::Unavailable, metrics::Counter::noop()),
            };
            ViewerIo {
                io: TokioIo::new(stream),
                pipe,
                pending: 0,
                more: false,
                continues_at: 0,
                by_reference,
            }
        }

        /// The pipe's two ends, made on first use.
        fn pipe(&mut self) -> Option<(RawFd, RawFd)> {
            if let Pipe::Unmade = self.pipe {
                self.pipe = make_pipe().map_or(Pipe::Unavailable, |(read, write)| Pipe::Ready {
                    read,
                    write,
                });
            }
            match &self.pipe {
                Pipe::Ready { read, write } => Some((read.as_raw_fd(), write.as_raw_fd())),
                _ => None,
            }
        }

        /// Moves what the pipe holds into the socket; ready once the pipe is empty.
        fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            while self.pending > 0 {
                let Pipe::Ready { read, .. } = &self.pipe else {
                    unreachable!("bytes pending without a pipe");
                };
                let from = read.as_raw_fd();
                let socket = self.io.inner();
                ready!(socket.poll_write_ready(cx))?;
                let (len, more) = (self.pending, self.more);
                match socket.try_io(Interest::WRITABLE, || {
                    splice_out(from, socket.as_raw_fd(), len, more)
                }) {
                    Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Ok(n) => self.pending -= n,
                    // Readiness is cleared: the next `poll_write_ready` waits for the socket.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            Poll::Ready(Ok(()))
        }

        /// Sends `head` (headers, say) by copying it into the pipe and then `slice` (inside a
        /// registered mapping) by reference, what the pipe takes of it; then of all that what
        /// later goes into the socket in one pass through the TCP stack for both (`poll_drain`).
        /// Returns what went into the pipe — written, as far as hyper is concerned — or `None`
        /// when there is no pipe or it took nothing.
        fn send_through_pipe(
            &mut self,
            head: &[IoSlice<'_>],
            slice: &[u8],
            more_follows: bool,
        ) -> Option<usize> {
            let (_, write) = self.pipe()?;
            // The pipe is empty (drained first), so a few KiB of head fit.
            let copied = if head.is_empty() {
                0
            } else {
                // SAFETY: `IoSlice` is ABI compatible with `iovec` on Unix (its documented
                // guarantee); the slices are readable for the call, whose bytes are copied.
                let n = unsafe {
                    libc::writev(write, head.as_ptr().cast::<libc::iovec>(), head.len() as _)
                };
                if n <= 0 {
                    return None;
                }
                n as usize
            };
            let whole_head: usize = head.iter().map(|b| b.len()).sum();
            let mut referenced = 0;
            if copied == whole_head {
                let iov = libc::iovec {
                    iov_base: slice.as_ptr() as *mut libc::c_void,
                    iov_len: slice.len(),
                };
                // SAFETY: `iov` describes `slice`, readable. The kernel keeps references to
                // its pages, which the mapping's contract keeps unchanged until they are
                // unmapped, and unmapping does not free them while referenced.
                let n = unsafe { libc::vmsplice(write, &iov, 1, libc::SPLICE_F_NONBLOCK) };
                referenced = usize::try_from(n).unwrap_or(0);
            }
            if copied + referenced == 0 {
                return None;
            }
            self.by_reference.increment(referenced as u64);
            // hyper holds the slice until all of it is written, so its rest is what comes next.
            self.continues_at = if referenced > 0 && referenced < slice.len() {
                slice.as_ptr() as usize + referenced
            } else {
                0
            };
            self.pending = copied + referenced;
            self.more = more_follows || referenced < slice.len();
            Some(copied + referenced)
        }
    }

    fn make_pipe() -> Option<(OwnedFd, OwnedFd)> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return None;
        }
        // SAFETY: pipe2 just returned these two descriptors, owned by no one else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // A smaller pipe (the default 64 KiB, or less past the user's pipe quota) still works,
        // in more rounds.
        // SAFETY: F_SETPIPE_SZ on our pipe; failure leaves it as it was.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES) };
        Some((read, write))
    }

    fn splice_out(pipe: RawFd, socket: RawFd, len: usize, more: bool) -> io::Result<usize> {
        let flags = libc::SPLICE_F_MOVE
            | libc::SPLICE_F_NONBLOCK
            | if more { libc::SPLICE_F_MORE } else { 0 };
        // SAFETY: both descriptors are open for the call; no user memory is passed.
        let n = unsafe {
            libc::splice(
                pipe,
                std::ptr::null_mut(),
                socket,
                std::ptr::null_mut(),
                len,
                flags,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    impl Read for ViewerIo {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
        }
    }

    impl Write for ViewerIo {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            ready!(this.poll_drain(cx))?;
            let by_reference = if matches!(this.pipe, Pipe::Unavailable) {
                None
            } else {
                bufs.iter().position(|b| {
                    b.as_ptr() as usize == this.continues_at
                        || b.len() >= MIN_MAPPED && mapped::contains(b)
                })
            };
            if let Some(k) = by_reference {
                if let Some(sent) = this.send_through_pipe(&bufs[..k], &bufs[k], bufs.len() > k + 1)
                {
                    // Into the socket now what it takes; the rest waits for the next write,
                    // flush or shutdown (the socket's readiness wakes this task).
                    if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                        return Poll::Ready(Err(e));
                    }
                    return Poll::Ready(Ok(sent));
                }
            }
            Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            ready!(this.poll_drain(cx))?;
            Pin::new(&mut this.io).poll_flush(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            ready!(this.poll_drain(cx))?;
            Pin::new(&mut this.io).poll_shutdown(cx)
        }
    }
}
