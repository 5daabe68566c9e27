//! An item's bytes held while it waits for its turn in the ZIP, with what its local
//! header needs (CRC-32 and size): in memory up to a limit, else in an unnamed
//! temporary file (gone when closed, even after a crash). Filling is async (chunks from
//! the store or a fetch; a CRC of a chunk costs microseconds); deflating, which is CPU
//! work, is [`Spooled::deflate`], run on the blocking pool. In memory an item is the
//! chunks as they came (owned `Bytes`, never copied into one buffer), so a stored item
//! goes on to the store without a copy ([`Spooled::into_chunks`]). What all of an
//! export's items hold in memory together is bounded by a [`Budget`].

use std::io::{self, Read, Seek, Write};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The bytes an export's items may hold in memory together. An item reserves its share
/// before it is fetched and gives it back once it is written into the ZIP. Shares are
/// granted in the order asked (tokio's semaphore is fair), and they are asked in item
/// order, so this cannot deadlock: an item waits only for earlier items, which are
/// written before it and never wait for it.
#[derive(Clone)]
pub(super) struct Budget {
    semaphore: Arc<Semaphore>,
    kib: u32,
}

/// One item's share of the [`Budget`], given back when dropped.
pub(super) struct Reservation {
    _permit: Option<OwnedSemaphorePermit>,
    bytes: u64,
}

impl Budget {
    /// A budget of `bytes` (counted in KiB, at most 4 TiB).
    pub(super) fn new(bytes: u64) -> Budget {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).max(1);
        Budget { semaphore: Arc::new(Semaphore::new(kib as usize)), kib }
    }

    /// Waits until `bytes` (at most the whole budget) fit, and holds them.
    pub(super) async fn reserve(&self, bytes: u64) -> Reservation {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).min(self.kib);
        if kib == 0 {
            return Reservation { _permit: None, bytes: 0 };
        }
        let permit = self.semaphore.clone().acquire_many_owned(kib).await.expect("the budget is never closed");
        Reservation { _permit: Some(permit), bytes: u64::from(kib) * 1024 }
    }

    /// The bytes not reserved now.
    #[cfg(test)]
    fn available(&self) -> u64 {
        self.semaphore.available_permits() as u64 * 1024
    }
}

impl Reservation {
    /// The bytes held (rounded up to KiB).
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// Where the bytes are.
enum Held {
    Memory(Vec<Bytes>),
    File(tokio::fs::File),
}

/// Takes an item's chunks.
pub(super) struct Spool {
    held: Held,
    memory_limit: u64,
    crc: crc32fast::Hasher,
    size: u64,
}

impl Spool {
    /// An empty spool keeping up to `memory_limit` bytes in memory.
    pub(super) fn new(memory_limit: u64) -> Self {
        Spool { held: Held::Memory(Vec::new()), memory_limit, crc: crc32fast::Hasher::new(), size: 0 }
    }

    /// Takes one chunk.
    pub(super) async fn push(&mut self, chunk: Bytes) -> io::Result<()> {
        self.crc.update(&chunk);
        self.size += chunk.len() as u64;
        if let Held::Memory(chunks) = &mut self.held
            && self.size > self.memory_limit
        {
            let mut file = tokio::fs::File::from_std(tempfile::tempfile()?);
            for held in chunks.drain(..) {
                file.write_all(&held).await?;
            }
            self.held = Held::File(file);
        }
        match &mut self.held {
            Held::Memory(chunks) => chunks.push(chunk),
            Held::File(file) => file.write_all(&chunk).await?,
        }
        Ok(())
    }

    /// The bytes taken, ready to read from the start.
    pub(super) async fn finish(self) -> io::Result<Spooled> {
        let data = match self.held {
            Held::Memory(chunks) => Data::Memory(chunks),
            Held::File(mut file) => {
                file.flush().await?;
                let mut file = file.into_std().await;
                file.rewind()?;
                Data::File(file)
            }
        };
        Ok(Spooled { data, crc32: self.crc.finalize(), size: self.size, compressed: None })
    }
}

enum Data {
    Memory(Vec<Bytes>),
    File(std::fs::File),
}

/// A complete item: its bytes as they go into the ZIP, CRC-32 and size of the original.
pub(super) struct Spooled {
    data: Data,
    /// CRC-32 of the uncompressed bytes.
    pub(super) crc32: u32,
    /// Uncompressed size.
    pub(super) size: u64,
    /// Stored size when [`deflate`](Spooled::deflate)d (else the size).
    compressed: Option<u64>,
}

impl Spooled {
    /// Bytes as they go into the ZIP.
    pub(super) fn stored_size(&self) -> u64 {
        self.compressed.unwrap_or(self.size)
    }

    /// Whether [`deflate`](Spooled::deflate) ran.
    pub(super) fn is_deflated(&self) -> bool {
        self.compressed.is_some()
    }

    /// Deflates the bytes (fast level), keeping them where they were (memory or a new
    /// temporary file). Blocking: run it on the blocking pool.
    pub(super) fn deflate(self) -> io::Result<Spooled> {
        use flate2::Compression;
        use flate2::write::DeflateEncoder;
        let Spooled { data, crc32, size, .. } = self;
        let (data, compressed) = match data {
            Data::Memory(chunks) => {
                let mut enc = DeflateEncoder::new(Vec::with_capacity(size as usize / 2), Compression::fast());
                for chunk in &chunks {
                    enc.write_all(chunk)?;
                }
                let out = enc.finish()?;
                let n = out.len() as u64;
                (Data::Memory(vec![Bytes::from(out)]), n)
            }
            Data::File(mut file) => {
                let mut enc = DeflateEncoder::new(tempfile::tempfile()?, Compression::fast());
                io::copy(&mut file, &mut enc)?;
                let mut out = enc.finish()?;
                let n = out.stream_position()?;
                out.rewind()?;
                (Data::File(out), n)
            }
        };
        Ok(Spooled { data, crc32, size, compressed: Some(compressed) })
    }

    /// The bytes as they go into the ZIP: the chunks themselves when in memory (`Ok`),
    /// else a reader over the temporary file (blocking).
    pub(super) fn into_chunks(self) -> Result<Vec<Bytes>, Box<dyn Read + Send>> {
        match self.data {
            Data::Memory(chunks) => Ok(chunks),
            Data::File(file) => Err(Box::new(io::BufReader::with_capacity(256 * 1024, file))),
        }
    }

    /// A reader over the bytes as they go into the ZIP. Blocking when on file.
    #[cfg(test)]
    fn into_reader(self) -> Box<dyn Read + Send> {
        match self.into_chunks() {
            Ok(chunks) => Box::new(io::Cursor::new(chunks.concat())),
            Err(reader) => reader,
        }
    }

    /// A small text held in memory (the export report).
    pub(super) fn text(text: String) -> Spooled {
        let crc32 = crc32fast::hash(text.as_bytes());
        let size = text.len() as u64;
        Spooled { data: Data::Memory(vec![Bytes::from(text)]), crc32, size, compressed: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shares_wait_in_order_until_earlier_ones_are_given_back() {
        let budget = Budget::new(10 << 10);
        let first = budget.reserve(6 << 10).await;
        assert_eq!((first.bytes(), budget.available()), (6 << 10, 4 << 10));
        // The second does not fit; a third that would fit still waits behind it.
        let second = tokio::spawn({
            let b = budget.clone();
            async move { b.reserve(8 << 10).await }
        });
        tokio::task::yield_now().await;
        let third = tokio::spawn({
            let b = budget.clone();
            async move { b.reserve(1 << 10).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!second.is_finished() && !third.is_finished());
        drop(first);
        let second = second.await.unwrap();
        let third = third.await.unwrap();
        assert_eq!((second.bytes(), third.bytes(), budget.available()), (8 << 10, 1 << 10, 1 << 10));
        // A share larger than the budget is the whole budget, and nothing is none.
        drop((second, third));
        assert_eq!(budget.reserve(1 << 30).await.bytes(), 10 << 10);
        assert_eq!(budget.reserve(0).await.bytes(), 0);
    }

    async fn spool(limit: u64, chunks: &[&[u8]]) -> Spooled {
        let mut s = Spool::new(limit);
        for c in chunks {
            s.push(Bytes::copy_from_slice(c)).await.unwrap();
        }
        s.finish().await.unwrap()
    }

    fn read(s: Spooled) -> Vec<u8> {
        let mut out = Vec::new();
        s.into_reader().read_to_end(&mut out).unwrap();
        out
    }

    #[tokio::test]
    async fn memory_and_file_spools_give_the_same_bytes_and_crc() {
        let chunks: [&[u8]; 3] = [b"hello ", b"spooled ", b"world"];
        let all = b"hello spooled world";
        for limit in [1 << 20, 4, 0] {
            let s = spool(limit, &chunks).await;
            assert_eq!((s.crc32, s.size, s.stored_size()), (crc32fast::hash(all), all.len() as u64, all.len() as u64));
            assert!(matches!(s.data, Data::File(_)) == (limit < all.len() as u64), "limit {limit}");
            assert_eq!(read(s), all);
        }
    }

    #[tokio::test]
    async fn deflating_keeps_the_crc_of_the_original() {
        let text = b"export report line\n".repeat(500);
        for limit in [1 << 20, 10] {
            let s = spool(limit, &[&text]).await.deflate().unwrap();
            assert!(s.is_deflated());
            assert!(s.stored_size() < text.len() as u64 / 10, "{}", s.stored_size());
            assert_eq!(s.crc32, crc32fast::hash(&text));
            let packed = read(s);
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(&packed[..]).read_to_end(&mut out).unwrap();
            assert_eq!(out, text);
        }
    }
}
