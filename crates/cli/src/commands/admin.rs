//! Operator commands that talk to the database directly: `migrate`, `keys …`, `jobs …`.
//! They see every tenant; the HTTP API is the tenant-scoped surface.

use anyhow::{Context, bail};
use clap::Subcommand;
use tintype_catalog::NewApiKey;
use tintype_queue::{JobFilter, JobId, JobState};

use crate::config::Config;
use crate::wiring;

/// `tintype keys …`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Creates a key and prints it alone on stdout (it is shown only once).
    Create {
        /// Tenant the key acts for.
        #[arg(long)]
        tenant: String,
        /// Plan: one of the configured plans (`[plans.<name>]`; built in: free, pro, local).
        #[arg(long, default_value = "free")]
        plan: String,
        /// Label to recognise the key by.
        #[arg(long)]
        label: Option<String>,
    },
    /// Lists keys (ids, tenants, plans; never the secrets).
    List,
    /// Revokes a key by id.
    Revoke {
        /// Key id (`key_…`).
        id: String,
    },
}

/// `tintype jobs …`.
#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// Lists jobs, newest first.
    List {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// Only in this state (queued, running, succeeded, failed, cancelled, expired).
        #[arg(long)]
        state: Option<String>,
        /// Only of this kind.
        #[arg(long)]
        kind: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Prints one job as JSON.
    Show {
        /// Job id.
        id: String,
    },
    /// Re-queues a failed or cancelled job.
    Retry {
        /// Job id.
        id: String,
    },
    /// Cancels a job.
    Cancel {
        /// Job id.
        id: String,
    },
}

/// `tintype migrate`.
pub(crate) async fn migrate(config: &Config) -> anyhow::Result<()> {
    wiring::open_engine(config).await?;
    println!("database {} is up to date", wiring::redact(&config.database_url()));
    Ok(())
}

/// `tintype keys …`.
pub(crate) async fn keys(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let catalog = wiring::open_engine(config).await?.catalog;
    match cmd {
        KeysCommand::Create { tenant, plan, label } => {
            if !valid_tenant(&tenant) {
                bail!("--tenant: use 1-64 characters of a-z, 0-9, '-' and '_'");
            }
            if config.plans.get(&plan).is_none() {
                bail!("--plan: {}", config.plans.unknown(&plan));
            }
            let secret = tintype_server::auth::generate_key();
            let key = NewApiKey { tenant, plan, key_hash: tintype_server::auth::hash_key(&secret), label };
            let stored = catalog.create_api_key(key).await?;
            eprintln!(
                "created {} for tenant {} (plan {}); the key is shown only now:",
                stored.id, stored.tenant, stored.plan
            );
            println!("{secret}");
        }
        KeysCommand::List => {
            for k in catalog.list_api_keys().await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.tenant,
                    k.plan,
                    state,
                    k.created_at.to_rfc3339(),
                    k.label.unwrap_or_default()
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if !catalog.revoke_api_key(&id).await? {
                bail!("no active key with id {id}");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// Tenant ids end up in blob keys: keep them to a safe alphabet.
pub(crate) fn valid_tenant(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `tintype jobs …`.
pub(crate) async fn jobs(config: &Config, cmd: JobsCommand) -> anyhow::Result<()> {
    let engine = wiring::open_engine(config).await?.engine;
    match cmd {
        JobsCommand::List { tenant, state, kind, limit } => {
            let state = state
                .map(|s| JobState::parse(&s).with_context(|| format!("--state: unknown state {s:?}")))
                .transpose()?;
            let page = engine.list(&JobFilter { tenant, state, kind, limit, ..JobFilter::default() }).await?;
            for j in page.jobs {
                let err = j.error.map(|e| e.code).unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}\t{:.0}%\t{}\t{}",
                    j.id,
                    j.tenant,
                    j.kind,
                    j.state,
                    j.progress * 100.0,
                    j.created_at.to_rfc3339(),
                    err
                );
            }
        }
        JobsCommand::Show { id } => {
            let job = engine.get(None, &JobId(id.clone())).await?.with_context(|| format!("no job {id}"))?;
            println!("{}", serde_json::to_string_pretty(&job)?);
        }
        JobsCommand::Retry { id } => {
            // An operator's retry is not held to the tenant's plan.
            let job = engine.retry(None, &JobId(id), &Default::default()).await?;
            println!("{} is {}", job.id, job.state);
        }
        JobsCommand::Cancel { id } => {
            let job = engine.cancel(None, &JobId(id)).await?;
            let note = if job.cancel_requested && job.state == JobState::Running { " (cancel requested)" } else { "" };
            println!("{} is {}{note}", job.id, job.state);
        }
    }
    Ok(())
}
