//! The simulator's fidelity, checked by a Cloud API client nobody here wrote: pywa sends every
//! message type through the standalone simulator, and validates (X-Hub-Signature-256) and parses
//! every webhook the simulator emits — statuses, inbound messages of every kind, button and list
//! replies, template status updates — without error.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use common::*;
use serde_json::json;

#[test]
fn pywa_sends_every_type_and_parses_every_webhook() {
    // a free port for pywa's webhook receiver
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sim = StandaloneSim::start(
        &format!("http://127.0.0.1:{port}/"),
        "pywa-secret",
        "8613700000000",
    );
    let addr = sim.addr.clone();
    let out = run_python(
        "pywa_fidelity.py",
        &json!({"sim": addr, "port": port, "phone_id": "1001", "token": "tok", "app_secret": "pywa-secret",
                "waba_id": "w1", "user": "447700900123", "display": "8613700000000"}),
    );
    drop(sim);

    for (kind, result) in out["sends"].as_object().unwrap() {
        assert_eq!(result, "ok", "pywa could not send {kind}: {out}");
    }
    assert_eq!(out["sends"].as_object().unwrap().len(), 13);
    assert_eq!(
        out["errors"],
        json!([]),
        "pywa rejected or failed to parse webhooks: {out}"
    );
    let h = &out["handled"];
    assert_eq!(
        h["status"], out["posted"]["statuses"],
        "every status reaches pywa's handler: {out}"
    );
    let inbound = h["message"].as_u64().unwrap()
        + h["callback_button"].as_u64().unwrap()
        + h["callback_selection"].as_u64().unwrap();
    assert_eq!(
        inbound,
        out["posted"]["messages"].as_u64().unwrap(),
        "every inbound message reaches a handler: {out}"
    );
    assert!(out["posted"]["statuses"].as_u64().unwrap() >= 30, "{out}");
    assert_eq!(h["template_status"], 1);
    assert_eq!(
        h["callback_button"], 2,
        "template and interactive button replies"
    );
    assert_eq!(h["callback_selection"], 1, "list reply");
}
