//! A Server-Sent Events reader for tests, on the maintained `sse-stream` parser (events
//! split across chunks, a multi-byte character split between two reads, CRLF line ends
//! and comments all handled): turns a streaming response into parsed `(event, data)`
//! pairs.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sse_stream::SseStream;

/// One received event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// `event:` name (`message` when absent).
    pub event: String,
    /// `data:` parsed as JSON.
    pub data: serde_json::Value,
}

/// Reads events from `res` until the server closes the stream or `max` events arrived.
pub async fn collect(res: reqwest::Response, max: usize) -> Vec<SseEvent> {
    collect_from(res.bytes_stream(), max).await
}

/// As [`collect`], from any stream of body chunks.
pub async fn collect_from<S, E>(body: S, max: usize) -> Vec<SseEvent>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut events = Box::pin(SseStream::from_bytes_stream(body));
    let mut out = Vec::new();
    while let Some(Ok(sse)) = events.next().await {
        let Some(data) = sse.data.filter(|d| !d.is_empty()) else { continue }; // comments, keep-alives
        let Ok(data) = serde_json::from_str(&data) else { continue };
        out.push(SseEvent { event: sse.event.unwrap_or_else(|| "message".into()), data });
        if out.len() >= max {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let chunks: Vec<Result<Bytes, std::io::Error>> = chunks.iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        collect_from(futures::stream::iter(chunks), usize::MAX).await
    }

    #[tokio::test]
    async fn chunks_split_anywhere_decode_the_same() {
        let text = "event: job\r\ndata: {\"message\": \"caf\u{e9} \u{2713}\"}\r\n\r\n: keep-alive\n\nevent: job\ndata: {\"n\": 2}\n\n";
        let bytes = text.as_bytes();
        let whole = parse(&[bytes]).await;
        assert_eq!(whole.len(), 2, "{whole:?}");
        assert_eq!(whole[0].data["message"], "caf\u{e9} \u{2713}");
        assert_eq!(whole[1].data["n"], 2);
        // Every split point, including inside the two-byte é and the three-byte ✓.
        for cut in 1..bytes.len() {
            assert_eq!(parse(&[&bytes[..cut], &bytes[cut..]]).await, whole, "split at byte {cut}");
        }
    }
}
