//! A small Server-Sent Events reader for tests: turns a streaming response into parsed
//! `(event, data)` pairs.

use futures::StreamExt;

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
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut body = res.bytes_stream();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if let Some(ev) = parse(&block) {
                out.push(ev);
                if out.len() >= max {
                    return out;
                }
            }
        }
    }
    out
}

fn parse(block: &str) -> Option<SseEvent> {
    let mut event = "message".to_owned();
    let mut data = String::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    if data.is_empty() {
        return None; // keep-alive comment
    }
    Some(SseEvent { event, data: serde_json::from_str(&data).ok()? })
}
