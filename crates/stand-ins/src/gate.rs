//! A listener that can play dead: while down, connections are accepted and reset at once
//! without an answer, and connections opened before the outage are reset at their next
//! read (so a client's pooled keep-alive connection fails too, as with a host that died).
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
pub struct Gate {
    down: AtomicBool,
    /// Outages so far: a connection accepted before the latest one is dead.
    outages: AtomicU64,
}

impl Gate {
    pub fn set_down(&self, down: bool) {
        // `down` first: an accept that reads the old outage count then sees `down`.
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.outages.fetch_add(1, Ordering::SeqCst);
        }
    }
}

pub struct GatedListener {
    pub listener: TcpListener,
    pub gate: Arc<Gate>,
}

impl axum::serve::Listener for GatedListener {
    type Io = GatedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GatedStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    let born = self.gate.outages.load(Ordering::SeqCst);
                    if self.gate.down.load(Ordering::SeqCst) {
                        reset(stream);
                        continue;
                    }
                    let gate = self.gate.clone();
                    return (GatedStream { stream, gate, born }, addr);
                }
                // Out of file descriptors and the like: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Closes with a TCP reset (no orderly FIN), as a crashed host's kernel would.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
}

pub struct GatedStream {
    stream: TcpStream,
    gate: Arc<Gate>,
    born: u64,
}

impl AsyncRead for GatedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.gate.outages.load(Ordering::SeqCst) != self.born {
            // The server drops the connection on this error; zero linger makes it a reset.
            let _ = self.stream.set_zero_linger();
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for GatedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
