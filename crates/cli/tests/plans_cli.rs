//! Plans as an operator meets them on the command line: a key's plan must be one the
//! config has (names are exact), and a plan naming an unknown quota class or kind stops
//! the process at start with the field named. And as a client meets back-pressure:
//! `tintype submit` waits out a 503's `Retry-After` and gets in once there is room.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

mod common;

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

#[tokio::test]
async fn submit_waits_out_a_full_queue() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The worker serves another queue: what waits in `default` stays there.
    let mut serve = tintype(&data);
    serve.args(["serve", "--listen", "127.0.0.1:0", "--queues", "low"]).env("TINTYPE_LIMITS__MAX_QUEUED_JOBS", "1");
    let (mut server, base) = common::spawn_listening(&mut serve, &dir.path().join("serve.log"));
    let http = reqwest::Client::new();
    let jobs = format!("{base}/v1/jobs");
    let blocker: Value = http.post(&jobs).json(&json!({ "kind": "noop" })).send().await.unwrap().json().await.unwrap();
    let full = http.post(&jobs).json(&json!({ "kind": "noop" })).send().await.unwrap();
    assert_eq!(full.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE, "the queue is full");

    let input = dir.path().join("beach.jpg");
    std::fs::write(&input, b"\xFF\xD8\xFFbeach").unwrap();
    let errors = dir.path().join("submit.err");
    let submit = tintype(&data)
        .args(["submit", "--server", &base, "export"])
        .arg(&input)
        .arg("--out")
        .arg(dir.path().join("out"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&errors).unwrap())
        .spawn()
        .unwrap();
    // Once it has been told to wait, make room: the next try gets in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&errors).unwrap().contains("retrying in 2 s") {
        assert!(std::time::Instant::now() < deadline, "submit never waited");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let id = blocker["id"].as_str().unwrap();
    assert!(http.delete(format!("{jobs}/{id}")).send().await.unwrap().status().is_success());
    let out = submit.wait_with_output().unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), std::fs::read_to_string(&errors).unwrap());
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("the server is busy (503 Service Unavailable); retrying in 2 s"), "{stderr}");
    assert!(stdout.starts_with("job_"), "{stdout}");
}
