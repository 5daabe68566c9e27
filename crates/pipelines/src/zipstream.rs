//! ZIPs written by synchronous code straight into the blob store. [`channel`] gives a
//! `std::io::Write` for a blocking thread and a [`ByteStream`] for the async store: the
//! archive is never held whole in memory nor written to local disk first (on S3 the store
//! turns the stream into a multipart upload).

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use tintype_blobs::ByteStream;
use tokio::sync::mpsc;

/// Bytes handed to the store at a time.
pub const CHUNK: usize = 256 * 1024;

/// The writing half: buffers up to [`CHUNK`] bytes, then blocks until the store takes them.
/// Use it only on a blocking thread. The stream ends cleanly only after
/// [`ChannelWriter::finish`]: a writer dropped before that (an error, a panic) ends the
/// stream with an error, so the store keeps nothing partial.
pub struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
    finished: Arc<AtomicBool>,
}

/// A writer for a blocking thread and the stream of what it writes.
pub fn channel() -> (ChannelWriter, ByteStream) {
    let (tx, rx) = mpsc::channel(4);
    let finished = Arc::new(AtomicBool::new(false));
    let seen = finished.clone();
    let tail = futures::stream::once(async move {
        (!seen.load(Ordering::Acquire)).then(|| Err(io::Error::other("the writer stopped before the end")))
    })
    .filter_map(std::future::ready);
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).chain(tail);
    (ChannelWriter { tx, buf: Vec::with_capacity(CHUNK), finished }, Box::pin(stream))
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the store stopped reading"))
    }

    /// Sends what is buffered and marks the stream complete.
    pub fn finish(mut self) -> io::Result<()> {
        self.send()?;
        self.finished.store(true, Ordering::Release);
        Ok(())
    }
}

impl crate::export::archive::ChunkSink for ChannelWriter {
    /// Sends what is buffered, then `chunk` itself: no copy of an item's bytes.
    fn write_chunk(&mut self, chunk: Bytes) -> io::Result<()> {
        if chunk.len() < CHUNK / 4 {
            return self.write_all(&chunk);
        }
        self.send()?;
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the store stopped reading"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Writes a ZIP of stored (uncompressed: JPEGs do not deflate) entries to `out`, copying
/// each entry's data from its reader as it comes, and returns the writer after the
/// central directory.
pub fn write_stored<W: Write, R: Read>(
    out: W,
    entries: impl IntoIterator<Item = (String, R)>,
) -> zip::result::ZipResult<W> {
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o644);
    let mut zip = zip::ZipWriter::new_stream(out);
    for (name, mut data) in entries {
        zip.start_file(name, options)?;
        io::copy(&mut data, &mut zip)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// The exact size of the ZIP [`write_stored`] makes of entries with these names and
/// lengths (it writes such an archive to a counter).
pub fn zip_size<'a>(entries: impl IntoIterator<Item = (&'a str, u64)>) -> u64 {
    let entries = entries.into_iter().map(|(n, len)| (n.to_owned(), io::repeat(0).take(len)));
    write_stored(Counter(0), entries).map_or(u64::MAX, |c| c.0)
}

struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0 += data.len() as u64;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_zip_streams_through_the_channel_and_reads_back() {
        let (writer, mut stream) = channel();
        let entries = vec![
            ("g/a.jpg".to_owned(), io::Cursor::new(vec![1u8; 300_000])),
            ("g/b.jpg".to_owned(), io::Cursor::new(vec![2u8; 10])),
        ];
        let write = tokio::task::spawn_blocking(move || write_stored(writer, entries).map(|w| w.finish()));
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        write.await.unwrap().unwrap().unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 2);
        let a = archive.by_name("g/a.jpg").unwrap();
        assert_eq!((a.size(), a.compression()), (300_000, zip::CompressionMethod::Stored));
    }

    #[test]
    fn zip_size_is_exact() {
        let entries = [("g/a.jpg", vec![1u8; 70_000]), ("g/longer_name_2400x3000.jpg", vec![2u8; 5])];
        let written = write_stored(Vec::new(), entries.iter().map(|(n, d)| (n.to_string(), d.as_slice()))).unwrap();
        assert_eq!(zip_size(entries.iter().map(|(n, d)| (*n, d.len() as u64))), written.len() as u64);
        assert_eq!(zip_size([]), write_stored::<_, &[u8]>(Vec::new(), []).unwrap().len() as u64);
    }

    #[tokio::test]
    async fn a_writer_dropped_before_finish_ends_the_stream_with_an_error() {
        let (mut writer, mut stream) = channel();
        let write = tokio::task::spawn_blocking(move || {
            writer.write_all(&[1u8; CHUNK + 10]).unwrap();
            drop(writer);
        });
        let mut items = Vec::new();
        while let Some(chunk) = stream.next().await {
            items.push(chunk.is_ok());
        }
        write.await.unwrap();
        assert_eq!(items, vec![true, false], "one full chunk, then the error (the rest is never sent)");
    }

    #[tokio::test]
    async fn a_dropped_reader_stops_the_writer() {
        let (writer, stream) = channel();
        drop(stream);
        let result = tokio::task::spawn_blocking(move || {
            write_stored(writer, vec![("x".to_owned(), io::repeat(0).take(CHUNK as u64 * 2))])
        })
        .await
        .unwrap();
        assert!(result.is_err());
    }
}
