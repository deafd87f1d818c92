//! Every `opencams serve` process names its leases with a node id: random unless set, logged at
//! start, and refused at start when it is not a valid name.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_opencams");

fn serve(dir: &std::path::Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env_remove("OPENCAMS_MASTER_KEY")
        .env_remove("OPENCAMS_NODE_ID")
        .env("OPENCAMS_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Starts a server, reads its node id from the start-up log line, and stops it.
fn logged_node_id(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve(dir.path(), extra).spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut found = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("node id") {
            found = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("node_id="))
                .map(String::from);
            break;
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    let _ = child.kill();
    let _ = child.wait();
    found.unwrap_or_else(|| panic!("no node id logged:\n{seen}"))
}

#[test]
fn each_server_gets_its_own_node_id_unless_one_is_set() {
    let (a, b) = (logged_node_id(&[]), logged_node_id(&[]));
    assert_ne!(a, b);
    for id in [&a, &b] {
        assert!(id.starts_with("node-") && id.len() == 17, "{id}");
        assert!(id[5..].bytes().all(|c| c.is_ascii_alphanumeric()), "{id}");
    }
    assert_eq!(logged_node_id(&["--node-id", "eu-1.pod_7"]), "eu-1.pod_7");
}

#[test]
fn an_invalid_node_id_stops_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve(dir.path(), &["--node-id", "pod 7"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--node-id") && err.contains("\"pod 7\"") && err.contains("1 to 64"),
        "{err}"
    );
    let config = dir.path().join("opencams.toml");
    std::fs::write(&config, "node_id = \"a/b\"\n").unwrap();
    let out = serve(dir.path(), &[])
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node_id in the config file"), "{err}");
}
