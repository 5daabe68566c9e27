//! Plans as an operator meets them on the command line: a key's plan must be one the
//! config has (names are exact), and a plan naming an unknown quota class or kind stops
//! the process at start with the field named.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tintype");

fn tintype(data: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data).env_remove("TINTYPE_CONFIG").env("RUST_LOG", "warn");
    cmd
}

#[test]
fn a_key_needs_a_configured_plan() {
    let dir = tempfile::tempdir().unwrap();
    let out = tintype(dir.path()).args(["keys", "create", "--tenant", "shop", "--plan", "Free"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unknown plan \"Free\"; the configured plans are free, local, pro"), "{stderr}");
    let out = tintype(dir.path())
        .args(["keys", "create", "--tenant", "shop", "--plan", "team"])
        .env("TINTYPE_PLANS__TEAM__MAX_ACTIVE_JOBS", "20")
        .output()
        .unwrap();
    assert!(out.status.success(), "a plan from the config: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("tt_"));
}

#[test]
fn a_plan_with_an_unknown_class_or_kind_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, field) in [
        ("TINTYPE_PLANS__FREE__DAILY", "{prints = 1}", "plans.free.daily: unknown quota class \"prints\""),
        ("TINTYPE_PLANS__PRO__KINDS", "[\"screenshots\"]", "plans.pro.kinds: unknown kind \"screenshots\""),
        ("TINTYPE_PLANS__FREE__PRIORITY", "[3, 1]", "plans.free.priority"),
    ] {
        let out = tintype(dir.path()).arg("migrate").env(var, value).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{var}={value} was accepted");
        assert!(stderr.contains(field), "{var}={value}: {stderr}");
    }
}
