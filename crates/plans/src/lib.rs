//! Plans: what a tenant may do, from the `[plans.<name>]` config sections. A key belongs
//! to one plan; every rule a request or a job is held to comes from it:
//!
//! - daily quotas per quota class (a kind, or a mode of one: `print_pack`,
//!   `print_single`), counted per tenant per UTC day by the engine, atomically with the
//!   enqueue ([`Plan::daily`]);
//! - a cap on the tenant's active (queued or running) jobs, and one on its running jobs
//!   (enforced at claim: one tenant cannot hold every worker slot);
//! - rate limits per route class ([`RouteClass`], [`rate`]);
//! - the kinds it may run, the priorities it may ask for, its largest upload and its
//!   storage quota, and whether print outputs carry a watermark.
//!
//! The built-in plans are SnapToSize's (SPEC §6): `free` (1 print pack and 3 single
//! sizes a day, 2 active jobs and 1 running, watermark, rate limits), `pro` (7 active
//! jobs, 4 running) and `local`
//! (no limits, every kind: the keyless loopback mode and `tintype run`). A plan written
//! in the config starts from the built-in plan of its name, key by key; any other name
//! starts from no limits. Names are exact: `Free` is not `free`, it is unknown.

pub mod rate;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use rate::{Rate, RateDecision, RouteClass};

tintype_codes::codes! {
    /// The key's plan is not in this deployment's config.
    UNKNOWN_PLAN = ("unknown_plan", Forbidden);
    /// The plan does not run this kind of job.
    KIND_NOT_ALLOWED = ("kind_not_allowed", Forbidden);
    /// The plan does not allow this priority.
    PRIORITY_NOT_ALLOWED = ("priority_not_allowed", Forbidden);
    /// The plan's storage quota (bytes of uploads and kept artifacts) is used up.
    STORAGE_QUOTA_EXCEEDED = ("storage_quota_exceeded", Quota);
    /// A daily quota of a class without a code of its own is used up.
    DAILY_QUOTA_EXCEEDED = ("daily_quota_exceeded", Quota);
    /// Too many requests of a route class for the key's rate limit (`Retry-After` says
    /// when to come back).
    RATE_LIMITED = ("rate_limited", RateLimited);
}

/// The plan of the keyless loopback mode and of `tintype run`.
pub const LOCAL: &str = "local";
/// SnapToSize's free plan.
pub const FREE: &str = "free";
/// SnapToSize's paid plan.
pub const PRO: &str = "pro";

/// Kinds that exist to test and measure the system, off for a plan unless it names them.
pub const DIAGNOSTIC_KINDS: [&str; 2] = ["noop", "sleep"];

/// A count limit that may be lifted: a number, or `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Limit {
    /// At most this many.
    At(u64),
    /// No limit (written `"unlimited"`).
    Unlimited(Unlimited),
}

/// The word `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unlimited {
    /// No limit.
    Unlimited,
}

impl Limit {
    /// No limit.
    pub const NONE: Limit = Limit::Unlimited(Unlimited::Unlimited);

    /// The number, `None` when unlimited.
    pub fn get(self) -> Option<u64> {
        match self {
            Limit::At(n) => Some(n),
            Limit::Unlimited(_) => None,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("unlimited"),
        }
    }
}

/// One plan, as operators write it under `[plans.<name>]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Plan {
    /// Jobs of the tenant queued or running at once (`too_many_active_jobs` beyond).
    pub max_active_jobs: Limit,
    /// Jobs of the tenant running at once, across every worker: a claim passes over the
    /// tenant's jobs while it runs this many, so one tenant cannot hold every slot.
    pub max_running_jobs: Limit,
    /// Jobs per UTC day by quota class (`print_pack`, `print_single`, `export`, ...):
    /// a class not named is unlimited.
    pub daily: BTreeMap<String, Limit>,
    /// Requests per key by route class (`uploads`, `jobs`): a class not named is not
    /// limited.
    pub rate: BTreeMap<String, Rate>,
    /// Print outputs carry a visible watermark.
    pub watermark: bool,
    /// Largest upload, bytes (within the server's own `limits.max_upload_bytes`).
    pub max_upload_bytes: Limit,
    /// Bytes of uploads (originals) and job artifacts the tenant may keep.
    pub storage_bytes: Limit,
    /// Lowest and highest job priority the tenant may ask for.
    pub priority: [i32; 2],
    /// Kinds the tenant may run; empty: every kind but the diagnostic ones.
    pub kinds: Vec<String>,
    /// Where a tenant over a quota can upgrade (given in the 402 answer), if anywhere.
    pub upgrade_url: String,
}

impl Default for Plan {
    /// No limits, every kind but the diagnostic ones, priority -1000 to 1000.
    fn default() -> Self {
        Plan {
            max_active_jobs: Limit::NONE,
            max_running_jobs: Limit::NONE,
            daily: BTreeMap::new(),
            rate: BTreeMap::new(),
            watermark: false,
            max_upload_bytes: Limit::NONE,
            storage_bytes: Limit::NONE,
            priority: [-1000, 1000],
            kinds: Vec::new(),
            upgrade_url: String::new(),
        }
    }
}

impl Plan {
    /// The built-in plan of a name, if it has one.
    pub fn builtin(name: &str) -> Option<Plan> {
        let ten_minutes = |n| Rate { requests: n, per_secs: 600 };
        match name {
            FREE => Some(Plan {
                max_active_jobs: Limit::At(2),
                max_running_jobs: Limit::At(1),
                daily: [("print_pack", 1), ("print_single", 3)]
                    .into_iter()
                    .map(|(c, n)| (c.to_owned(), Limit::At(n)))
                    .collect(),
                rate: [(RouteClass::Uploads, 10), (RouteClass::Jobs, 30)]
                    .into_iter()
                    .map(|(c, n)| (c.name().to_owned(), ten_minutes(n)))
                    .collect(),
                watermark: true,
                storage_bytes: Limit::At(1 << 30),
                priority: [0, 0],
                ..Plan::default()
            }),
            PRO => Some(Plan {
                max_active_jobs: Limit::At(7),
                max_running_jobs: Limit::At(4),
                priority: [-100, 100],
                ..Plan::default()
            }),
            LOCAL => Some(Plan { kinds: vec!["*".into()], ..Plan::default() }),
            _ => None,
        }
    }

    /// Whether the plan runs `kind`.
    pub fn allows_kind(&self, kind: &str) -> bool {
        if self.kinds.is_empty() {
            return !DIAGNOSTIC_KINDS.contains(&kind);
        }
        self.kinds.iter().any(|k| k == kind || k == "*")
    }

    /// Whether the plan allows a job of this priority.
    pub fn allows_priority(&self, priority: i32) -> bool {
        (self.priority[0]..=self.priority[1]).contains(&priority)
    }

    /// The daily quota of a class, `None` when unlimited.
    pub fn daily_limit(&self, class: &str) -> Option<u64> {
        self.daily.get(class).and_then(|l| l.get())
    }

    /// The rate limit of a route class, if any.
    pub fn rate_limit(&self, class: RouteClass) -> Option<Rate> {
        self.rate.get(class.name()).copied()
    }

    fn validate(&self, name: &str, known: &Known<'_>) -> Result<(), String> {
        let field = |f: &str| format!("plans.{name}.{f}");
        for class in self.daily.keys() {
            if !known.quota_classes.contains(&class.as_str()) {
                return Err(format!(
                    "{}: unknown quota class {class:?}; the classes are {}",
                    field("daily"),
                    known.quota_classes.join(", ")
                ));
            }
        }
        for (class, rate) in &self.rate {
            if RouteClass::parse(class).is_none() {
                let all: Vec<_> = RouteClass::ALL.iter().map(|c| c.name()).collect();
                return Err(format!(
                    "{}: unknown route class {class:?}; the classes are {}",
                    field("rate"),
                    all.join(", ")
                ));
            }
            rate.validate().map_err(|e| format!("{}.{class}: {e}", field("rate")))?;
        }
        for kind in &self.kinds {
            if kind != "*" && !known.kinds.contains(&kind.as_str()) {
                return Err(format!(
                    "{}: unknown kind {kind:?}; the kinds are {}",
                    field("kinds"),
                    known.kinds.join(", ")
                ));
            }
        }
        let [low, high] = self.priority;
        if low > high || low < -1000 || high > 1000 {
            return Err(format!("{}: [low, high] within -1000 to 1000, got [{low}, {high}]", field("priority")));
        }
        if !(self.upgrade_url.is_empty()
            || self.upgrade_url.starts_with("https://")
            || self.upgrade_url.starts_with("http://"))
        {
            return Err(format!("{}: an http(s) URL or empty", field("upgrade_url")));
        }
        Ok(())
    }
}

/// What plan config is checked against: the deployment's kinds and quota classes.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// Every kind name.
    pub kinds: &'a [&'a str],
    /// Every quota class name.
    pub quota_classes: &'a [&'a str],
}

/// Every plan of a deployment, by exact name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Plans(pub BTreeMap<String, Plan>);

impl Default for Plans {
    /// The built-in plans.
    fn default() -> Self {
        Plans([FREE, PRO, LOCAL].into_iter().map(|n| (n.to_owned(), Plan::builtin(n).expect("built in"))).collect())
    }
}

impl Plans {
    /// The plan of a name (exact), if configured.
    pub fn get(&self, name: &str) -> Option<&Plan> {
        self.0.get(name)
    }

    /// Configured plan names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    /// Checks every plan; the error names the field.
    pub fn validate(&self, known: Known<'_>) -> Result<(), String> {
        for (name, plan) in &self.0 {
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            {
                return Err(format!("plans.{name}: plan names are lowercase letters, digits, '-' and '_'"));
            }
            plan.validate(name, &known)?;
        }
        if !self.0.contains_key(LOCAL) {
            return Err(format!("plans.{LOCAL}: the keyless mode's plan must exist"));
        }
        Ok(())
    }

    /// "unknown plan" naming the configured ones (for `keys create`).
    pub fn unknown(&self, name: &str) -> String {
        format!("unknown plan {name:?}; the configured plans are {}", self.names().join(", "))
    }
}

/// The UTC day a time falls in, as quotas count it (`2026-12-01`), and when it ends.
pub fn quota_day(now: chrono::DateTime<chrono::Utc>) -> (String, chrono::DateTime<chrono::Utc>) {
    let day = now.date_naive();
    let next = day.succ_opt().unwrap_or(day).and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    (day.format("%Y-%m-%d").to_string(), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: Known<'static> = Known {
        kinds: &["export", "ingest", "noop", "print", "sleep"],
        quota_classes: &["export", "ingest", "noop", "print_pack", "print_single", "sleep"],
    };

    #[test]
    fn the_builtin_plans_are_snaptosizes() {
        let plans = Plans::default();
        plans.validate(KNOWN).unwrap();
        let free = plans.get("free").unwrap();
        assert_eq!((free.daily_limit("print_pack"), free.daily_limit("print_single")), (Some(1), Some(3)));
        assert_eq!(free.daily_limit("export"), None);
        assert_eq!(free.max_active_jobs.get(), Some(2));
        assert_eq!(free.rate_limit(RouteClass::Uploads), Some(Rate { requests: 10, per_secs: 600 }));
        assert_eq!(free.rate_limit(RouteClass::Jobs), Some(Rate { requests: 30, per_secs: 600 }));
        assert!(free.watermark && !free.allows_kind("sleep") && free.allows_kind("print"));
        assert!(free.allows_priority(0) && !free.allows_priority(1));
        let pro = plans.get("pro").unwrap();
        assert_eq!((pro.max_active_jobs.get(), pro.daily_limit("print_pack"), pro.watermark), (Some(7), None, false));
        assert!(plans.get("local").unwrap().allows_kind("sleep"));
        assert!(plans.get("Free").is_none(), "names are exact");
        assert!(plans.unknown("Free").contains("free, local, pro"));
    }

    #[test]
    fn a_written_plan_reads_from_json_and_unlimited_is_a_word() {
        let plan: Plan = serde_json::from_value(serde_json::json!({
            "daily": { "print_pack": "unlimited", "export": 5 },
            "rate": { "jobs": { "requests": 5, "per_secs": 60 } },
            "kinds": ["print", "sleep"],
        }))
        .unwrap();
        assert_eq!((plan.daily_limit("print_pack"), plan.daily_limit("export")), (None, Some(5)));
        assert!(plan.allows_kind("sleep") && !plan.allows_kind("export"));
        assert_eq!(serde_json::to_value(Limit::NONE).unwrap(), "unlimited");
    }

    #[test]
    fn bad_plans_are_named() {
        let bad = |edit: fn(&mut Plan), field: &str| {
            let mut plans = Plans::default();
            edit(plans.0.get_mut("free").unwrap());
            let err = plans.validate(KNOWN).unwrap_err();
            assert!(err.contains(field), "{err}");
        };
        bad(|p| _ = p.daily.insert("prints".into(), Limit::At(1)), "plans.free.daily");
        bad(|p| _ = p.rate.insert("reads".into(), Rate { requests: 1, per_secs: 1 }), "plans.free.rate");
        bad(|p| _ = p.rate.insert("jobs".into(), Rate { requests: 0, per_secs: 1 }), "plans.free.rate.jobs");
        bad(|p| p.kinds = vec!["screenshots".into()], "plans.free.kinds");
        bad(|p| p.priority = [5, 1], "plans.free.priority");
        bad(|p| p.upgrade_url = "javascript:alert(1)".into(), "plans.free.upgrade_url");
        let mut plans = Plans::default();
        plans.0.insert("Team".into(), Plan::default());
        assert!(plans.validate(KNOWN).unwrap_err().contains("plans.Team"));
    }

    #[test]
    fn quota_days_are_utc_days() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T23:59:59-02:00").unwrap().to_utc();
        let (day, resets) = quota_day(at);
        assert_eq!((day.as_str(), resets.to_rfc3339().as_str()), ("2026-12-02", "2026-12-03T00:00:00+00:00"));
    }
}
