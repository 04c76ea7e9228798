//! Response bodies fed through a bounded channel, chunk by chunk, so that nothing is held whole
//! in memory (a big log, an artifact, an endless event stream): a producer on a blocking thread
//! writes into a [`ChannelWriter`] (`std::io::Write`), or an async task sends into the channel.
//! When the client goes away the body is dropped, the channel closes, and the producer's next
//! write or flush fails with `BrokenPipe`.

use axum::body::{Body, Bytes};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// A chunk of a body, or the failure that cuts it short (the connection is then closed
/// without the body's proper end, so a client never takes a part for the whole).
pub type Chunk = Result<Bytes, io::Error>;

/// How many chunks wait in the channel before the producer blocks.
const CHANNEL_CHUNKS: usize = 4;
/// How many bytes a [`ChannelWriter`] gathers before sending them.
const CHUNK_BYTES: usize = 64 * 1024;

/// A channel and the body that streams what is sent into it.
pub fn channel() -> (mpsc::Sender<Chunk>, Body) {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    (tx, Body::from_stream(Receiver(rx)))
}

struct Receiver(mpsc::Receiver<Chunk>);

impl futures_core::Stream for Receiver {
    type Item = Chunk;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        self.0.poll_recv(cx)
    }
}

/// A blocking writer into the channel (use it on a blocking thread only).
pub struct ChannelWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<Chunk>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK_BYTES),
        }
    }

    /// Cuts the body short with `e` (the client sees the connection close mid-body).
    pub fn fail(self, e: io::Error) {
        let _ = self.tx.blocking_send(Err(e));
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| gone())
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the client went away")
}

impl io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.tx.is_closed() {
            return Err(gone());
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.tx.is_closed() {
            return Err(gone());
        }
        self.send()
    }
}
