//! Stopping long, pure work from outside: a caller's flag (a job's cancel) and a
//! deadline, checked where the work can stop cleanly. Decoders check while they read
//! their input ([`Checked`], every [`READ_CHUNK`] bytes: libjpeg, the PNG, TIFF and WebP
//! decoders all pull their input, so even a single long C call is interrupted), and
//! between batches of output rows; encoders check between bands. A stop unwinds out of
//! libjpeg the way its own errors do, and the work returns [`ImagingError::Cancelled`] or
//! [`ImagingError::TimedOut`].

use std::cell::Cell;
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ImagingError;
use crate::error::Step;

/// When to stop: never (the default), when a flag says so, past a deadline, or both.
#[derive(Clone, Default)]
pub struct Interrupt {
    cancelled: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
    deadline: Option<(Instant, Duration)>,
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupt")
            .field("flag", &self.cancelled.is_some())
            .field("deadline", &self.deadline.map(|(_, limit)| limit))
            .finish()
    }
}

impl Interrupt {
    /// Never stops.
    pub fn never() -> Self {
        Interrupt::default()
    }

    /// Stops once `cancelled` returns true (it is called often: keep it cheap).
    pub fn when(cancelled: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        Interrupt { cancelled: Some(Arc::new(cancelled)), deadline: None }
    }

    /// The same, and also stops `limit` from now.
    #[must_use]
    pub fn within(mut self, limit: Duration) -> Self {
        self.deadline = Some((Instant::now() + limit, limit));
        self
    }

    /// `Err` once the work should stop: [`ImagingError::Cancelled`] when the flag says
    /// so, [`ImagingError::TimedOut`] for `step` past the deadline.
    pub fn check(&self, step: Step) -> Result<(), ImagingError> {
        if self.cancelled.as_ref().is_some_and(|cancelled| cancelled()) {
            return Err(ImagingError::Cancelled);
        }
        match self.deadline {
            Some((at, limit)) if Instant::now() >= at => {
                Err(ImagingError::TimedOut { step, limit_secs: limit.as_secs_f64().ceil() as u64 })
            }
            _ => Ok(()),
        }
    }
}

/// Bytes a decoder gets per read: an interrupt is checked this often.
pub(crate) const READ_CHUNK: usize = 1024;

/// An in-memory input that checks an [`Interrupt`] on every read and fails the read once
/// it says stop, keeping why in [`Checked::stopped`]. A decoder sees an I/O error and
/// gives up; the caller then reports the stop rather than the decoder's error.
pub(crate) struct Checked<'a> {
    bytes: &'a [u8],
    pos: usize,
    interrupt: &'a Interrupt,
    stopped: &'a Cell<Option<ImagingError>>,
}

impl<'a> Checked<'a> {
    pub(crate) fn new(bytes: &'a [u8], interrupt: &'a Interrupt, stopped: &'a Cell<Option<ImagingError>>) -> Self {
        Checked { bytes, pos: 0, interrupt, stopped }
    }

    fn check(&self) -> io::Result<()> {
        self.interrupt.check(Step::Decode).map_err(|e| {
            self.stopped.set(Some(e));
            // Not `UnexpectedEof`: libjpeg's source reads that as the end of the data.
            io::Error::other("interrupted")
        })
    }
}

impl Read for Checked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Checked<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check()?;
        let start = self.pos.min(self.bytes.len());
        let end = (start + READ_CHUNK).min(self.bytes.len());
        Ok(&self.bytes[start..end])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.bytes.len());
    }
}

impl Seek for Checked<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = self.bytes.len() as i128;
        let target = match to {
            SeekFrom::Start(n) => i128::from(n),
            SeekFrom::End(d) => len + i128::from(d),
            SeekFrom::Current(d) => self.pos as i128 + i128::from(d),
        };
        if target < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"));
        }
        // Past the end is allowed, as for a file; reads there return nothing.
        self.pos = usize::try_from(target).unwrap_or(usize::MAX);
        Ok(self.pos as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn a_flag_stops_reads_and_says_why() {
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        let interrupt = Interrupt::when(move || seen.load(Ordering::Relaxed));
        let stopped = Cell::new(None);
        let bytes = vec![7u8; READ_CHUNK * 2 + 5];
        let mut reader = Checked::new(&bytes, &interrupt, &stopped);
        let mut buf = vec![0; READ_CHUNK * 4];
        assert_eq!(reader.read(&mut buf).expect("first read"), READ_CHUNK);
        flag.store(true, Ordering::Relaxed);
        assert!(reader.read(&mut buf).is_err());
        assert_eq!(stopped.take(), Some(ImagingError::Cancelled));
    }

    #[test]
    fn a_deadline_stops_with_its_step_and_limit() {
        let interrupt = Interrupt::never().within(Duration::ZERO);
        let error = interrupt.check(Step::Encode).expect_err("past the deadline");
        assert_eq!(error, ImagingError::TimedOut { step: Step::Encode, limit_secs: 0 });
        assert!(Interrupt::never().within(Duration::from_secs(3600)).check(Step::Decode).is_ok());
        assert!(Interrupt::never().check(Step::Decode).is_ok());
    }

    #[test]
    fn reads_and_seeks_cover_the_whole_input() {
        let interrupt = Interrupt::never();
        let stopped = Cell::new(None);
        let bytes: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut reader = Checked::new(&bytes, &interrupt, &stopped);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).expect("read all");
        assert_eq!(all, bytes);
        assert_eq!(reader.seek(SeekFrom::End(-10)).expect("seek"), 9_990);
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).expect("tail");
        assert_eq!(tail, &bytes[9_990..]);
        assert!(reader.seek(SeekFrom::Current(-20_000)).is_err());
    }
}
