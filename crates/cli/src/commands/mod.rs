//! One module per command group; logging set-up shared by all.

pub(crate) mod admin;
pub(crate) mod bench;
pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod ingest;
pub(crate) mod run;
pub(crate) mod serve;

use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// Logs to stderr, pretty or JSON, filtered by `RUST_LOG` (default `default_filter`).
pub(crate) fn init_logging(config: &Config, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
