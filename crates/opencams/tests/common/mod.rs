//! Test harness: the real `opencams` binary on an ephemeral port with a real SQLite file, the
//! official Python SDK in a virtualenv under `target/`, and a raw HTTP client for requests no SDK
//! would send.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
#![allow(dead_code)]

pub mod browser;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_opencams");

/// A running server.
pub struct Server {
    pub child: Option<Child>,
    pub addr: String,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// First-start output before the "listening" line.
    pub banner: String,
    pub ak: String,
    pub sk: String,
    pub space: String,
    extra_env: Vec<(String, String)>,
}

fn field(banner: &str, name: &str) -> String {
    banner
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(name)
                .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
        })
        .unwrap_or_default()
}

impl Server {
    pub fn start() -> Server {
        Self::start_with_env(&[])
    }

    pub fn start_with_env(env: &[(&str, &str)]) -> Server {
        let mut s = Self::node_with_env(env);
        s.ak = field(&s.banner, "AccessKeyId");
        s.sk = field(&s.banner, "AccessKeySecret");
        s.space = field(&s.banner, "CustSpaceId");
        assert!(
            s.ak.starts_with("LTAI"),
            "no bootstrap key in:\n{}",
            s.banner
        );
        s
    }

    /// Another node on the database of `first` (set by `OPENCAMS_DATABASE_URL` in `env`), with
    /// a data directory of its own: it prints no bootstrap key, so it takes `first`'s.
    pub fn join(first: &Server, env: &[(&str, &str)]) -> Server {
        let mut s = Self::node_with_env(env);
        s.ak = first.ak.clone();
        s.sk = first.sk.clone();
        s.space = first.space.clone();
        s
    }

    fn node_with_env(env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Server {
            child: None,
            addr: String::new(),
            dir,
            _tmp: Some(tmp),
            banner: String::new(),
            ak: String::new(),
            sk: String::new(),
            space: String::new(),
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(BIN);
        // a restart keeps the port, so URLs given to others (webhooks) stay valid
        let listen = if self.addr.is_empty() {
            "127.0.0.1:0".to_string()
        } else {
            self.addr.clone()
        };
        cmd.args(["serve", "--listen", &listen, "--data-dir"])
            .arg(&self.dir)
            .env_remove("OPENCAMS_MASTER_KEY")
            .env("OPENCAMS_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn opencams");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut banner = String::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read server output");
            assert!(n > 0, "server exited before listening; output:\n{banner}");
            if let Some(addr) = line.trim().strip_prefix("opencams listening on http://") {
                self.addr = addr.to_string();
                break;
            }
            banner.push_str(&line);
        }
        // keep draining stdout so the server never blocks on a full pipe
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = reader.read_to_string(&mut sink);
        });
        self.banner = banner;
        self.child = Some(child);
    }

    /// SIGTERM and wait; returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        for _ in 0..200 {
            if let Ok(Some(st)) = child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data directory and port.
    pub fn restart(&mut self) -> String {
        self.stop();
        self.spawn();
        self.banner.clone()
    }

    /// Stops the server gracefully and starts it again on the same data directory and port,
    /// with extra environment.
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) {
        self.stop();
        for (k, v) in env {
            self.extra_env.retain(|(ek, _)| ek != k);
            self.extra_env.push((k.to_string(), v.to_string()));
        }
        self.spawn();
    }

    /// Starts the server again after a kill, with extra environment.
    pub fn respawn_with_env(&mut self, env: &[(&str, &str)]) {
        self.kill();
        for (k, v) in env {
            self.extra_env.retain(|(ek, _)| ek != k);
            self.extra_env.push((k.to_string(), v.to_string()));
        }
        self.spawn();
    }

    /// Runs an admin command on this server's data directory; returns (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if args.first().map(String::as_str) == Some("simulate") {
            args.push("--endpoint".into());
            args.push(format!("http://{}", self.addr));
        }
        let out = Command::new(BIN)
            .args(&args)
            .arg("--data-dir")
            .arg(&self.dir)
            .env_remove("OPENCAMS_MASTER_KEY")
            // the same database and master key as the server (PostgreSQL tests set them)
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run opencams");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs an admin command with `--json` that must succeed; returns its JSON.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let (code, out, err) = self.cli(&all);
        assert_eq!(code, 0, "opencams {args:?} failed: {err}");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Calls the official Python SDK with this server's bootstrap key.
    pub fn sdk(&self, calls: Value) -> Vec<Value> {
        self.sdk_as(&self.ak, &self.sk, false, calls)
    }

    pub fn sdk_as(&self, ak: &str, sk: &str, v1: bool, calls: Value) -> Vec<Value> {
        let spec = json!({"endpoint": self.addr, "ak": ak, "sk": sk, "v1": v1, "calls": calls});
        let out = run_python("sdk.py", &spec);
        serde_json::from_value(out).expect("sdk.py prints an array")
    }

    /// One call through the SDK.
    pub fn sdk1(&self, op: &str, request: Value) -> Value {
        self.sdk(json!([{"op": op, "request": request}])).remove(0)
    }

    /// A raw HTTP/1.1 request; returns (status, headers lower-cased, body JSON or Null).
    pub fn raw(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Value) {
        raw_http(&self.addr, method, target, headers, body)
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let (status, _, text) = raw_http_text(&self.addr, "GET", path, &[], b"");
        (status, text)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn raw_http(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Value) {
    let (status, h, text) = raw_http_text(addr, method, target, headers, body);
    (
        status,
        h,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

pub fn raw_http_text(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let hdrs = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, hdrs, body.to_string())
}

/// Signs a V3 request with the given key; returns (target, headers).
pub fn signed_v3(
    addr: &str,
    ak: &str,
    sk: &str,
    action: &str,
    params: &[(&str, &str)],
) -> (String, Vec<(String, String)>) {
    let q: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signed = opencams_protocol::v3::sign(
        "POST",
        addr,
        action,
        "2020-06-06",
        &q,
        b"",
        None,
        ak,
        sk,
        &opencams_protocol::time_fmt::format(now),
        &opencams_protocol::envelope::nonce(),
    );
    let target = if signed.query.is_empty() {
        "/".to_string()
    } else {
        format!("/?{}", signed.query)
    };
    (target, signed.headers)
}

/// The virtualenv with the pinned official SDKs, created once (file-locked across processes).
pub fn python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("target dir")
            .to_path_buf();
        let venv = target.join("pyenv");
        let reqs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/requirements.txt");
        let wanted = std::fs::read_to_string(&reqs).expect("requirements.txt");
        let marker = venv.join(".installed");
        std::fs::create_dir_all(&target).ok();
        let lock = std::fs::File::create(target.join("pyenv.lock")).expect("lock file");
        lock.lock().expect("lock pyenv");
        if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
            let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            let st = Command::new(&py)
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 -m venv");
            assert!(
                st.success(),
                "creating the virtualenv failed (is python3-venv installed?)"
            );
            let st = Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&reqs)
                .status()
                .expect("pip install");
            assert!(st.success(), "pip install of the official SDKs failed");
            std::fs::write(&marker, &wanted).expect("marker");
        }
        let _ = lock.unlock();
        venv.join("bin/python")
    })
    .clone()
}

/// Runs a script of tests/python with `input` as JSON on stdin; returns its JSON output.
pub fn run_python(script: &str, input: &Value) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let mut child = Command::new(python())
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("python output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {stdout}"))
}

/// Asserts an SDK result is the given failure.
pub fn assert_sdk_error(r: &Value, code: &str, status: u64) {
    assert_eq!(r["ok"], false, "expected {code}, got {r}");
    assert_eq!(r["code"], code, "{r}");
    assert_eq!(r["status"], status, "{r}");
}

/// Creates template `name` (body `Hi {{name}}, order {{order}} ships today.`, two quick replies)
/// and waits until the simulator approved it; returns its code.
pub fn approved_template(s: &Server, name: &str) -> String {
    let r = s.sdk1(
        "create_chatapp_template",
        json!({
            "TemplateType": "WHATSAPP", "Name": name, "Language": "en_US", "Category": "UTILITY",
            "Components": [
                {"Type": "BODY", "Text": "Hi {{name}}, order {{order}} ships today."},
                {"Type": "BUTTONS", "Buttons": [{"Type": "QUICK_REPLY", "Text": "Track"}, {"Type": "QUICK_REPLY", "Text": "Stop"}]}
            ],
            "Example": {"name": "Ada", "order": "A-1"}
        }),
    );
    let code = r["body"]["Data"]["TemplateCode"]
        .as_str()
        .expect("template created")
        .to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while s.sdk1(
        "get_chatapp_template_detail",
        json!({"TemplateCode": code, "Language": "en_US"}),
    )["body"]["Data"]["AuditStatus"]
        != "pass"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "template never approved"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1100)); // the server caches templates for 1 s
    code
}

/// Polls `message show` until `pred` holds; returns the last view.
pub fn wait_message(s: &Server, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = s.cli_json(&["message", "show", id]);
        if pred(&m) {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "message {id} never {what}: {m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fast simulator timings for delivery tests.
pub const FAST_ENV: &[(&str, &str)] = &[
    ("OPENCAMS_TEMPLATE_REVIEW_DELAY_MS", "50"),
    ("OPENCAMS_SIM_SENT_DELAY_MS", "30"),
    ("OPENCAMS_SIM_DELIVERED_DELAY_MS", "100"),
    ("OPENCAMS_SIM_READ_DELAY_MS", "200"),
    ("OPENCAMS_SIM_JITTER_MS", "10"),
    ("OPENCAMS_RETRY_BASE_MS", "100"),
];

/// A server with fast simulator timings for delivery tests.
pub fn fast_server() -> Server {
    fast_server_with(&[])
}

/// [`fast_server`] with more environment (a database URL, say).
pub fn fast_server_with(env: &[(&str, &str)]) -> Server {
    let mut all = FAST_ENV.to_vec();
    all.extend_from_slice(env);
    let s = Server::start_with_env(&all);
    s.cli_json(&[
        "account",
        "set",
        "default",
        "qps.SendChatappMessage=100000",
        "qps.CreateChatappTemplate=1000",
        "qps.api=100000",
    ]);
    s
}

/// A standalone `opencams simulator` process (a stand-in for Meta), killed on drop.
pub struct StandaloneSim {
    child: Child,
    pub addr: String,
}

impl StandaloneSim {
    /// Starts one with number `1001:<display>:w1:tok` posting signed webhooks to `webhook_url`.
    pub fn start(webhook_url: &str, app_secret: &str, display: &str) -> StandaloneSim {
        let mut child = Command::new(BIN)
            .args([
                "simulator",
                "--listen",
                "127.0.0.1:0",
                "--app-secret",
                app_secret,
                "--webhook-url",
                webhook_url,
                "--number",
                &format!("1001:{display}:w1:tok:1000"),
                "--sim-sent-delay-ms",
                "30",
                "--sim-delivered-delay-ms",
                "60",
                "--sim-read-delay-ms",
                "90",
                "--sim-jitter-ms",
                "5",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn simulator");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("simulator output");
        let addr = line
            .trim()
            .strip_prefix("opencams simulator listening on http://")
            .expect("simulator address")
            .to_string();
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = reader.read_to_string(&mut sink);
        });
        StandaloneSim { child, addr }
    }

    /// Registers its number with `s` as a `whatsapp-cloud` number.
    pub fn attach(&self, s: &Server, display: &str, app_secret: &str) {
        s.cli_json(&[
            "number",
            "add",
            "--account",
            "default",
            display,
            "--channel",
            "whatsapp-cloud",
            "--phone-number-id",
            "1001",
            "--waba-id",
            "w1",
            "--access-token",
            "tok",
            "--app-secret",
            app_secret,
            "--api-base",
            &format!("http://{}", self.addr),
            "--throughput",
            "1000",
        ]);
    }
}

impl Drop for StandaloneSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Like `wait_message`, with a chosen deadline.
pub fn wait_message_for(
    s: &Server,
    id: &str,
    limit: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let m = s.cli_json(&["message", "show", id]);
        if pred(&m) {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "message {id} never reached the expected state: {m}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
