//! An item's bytes held while it waits for its turn in the ZIP, with what its local
//! header needs (CRC-32 and size): in memory up to a limit, else in an unnamed
//! temporary file (gone when closed, even after a crash). Filling is async (chunks from
//! the store or a fetch; a CRC of a chunk costs microseconds); deflating, which is CPU
//! work, is [`Spooled::deflate`], run on the blocking pool. In memory an item is the
//! chunks as they came (owned `Bytes`, never copied into one buffer), so a stored item
//! goes on to the store without a copy ([`Spooled::into_chunks`]).

use std::io::{self, Read, Seek, Write};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

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
