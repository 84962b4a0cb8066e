//! The exporter binary as a child process. It listens on a port the kernel picks
//! (`127.0.0.1:0`), read back from its "exporter listening" log line: a port picked by the
//! test and freed again could be taken by another test before the binary binds it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::SLACK;

pub const BIN: &str = env!("CARGO_BIN_EXE_cdb-rollback-exporter");

/// A running binary, killed when dropped, with its log collected as it is written.
pub struct Spawned {
    pub child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

/// Starts the exporter (`cmd`) on 127.0.0.1:0 and waits for the port it bound.
pub fn spawn(mut cmd: Command) -> Spawned {
    cmd.arg("--web.listen-address=127.0.0.1:0");
    start(cmd, "exporter listening", "addr=")
}

/// Starts `demo-api` alone on 127.0.0.1:0 and waits for the port it bound.
pub fn spawn_demo_api() -> Spawned {
    let mut cmd = Command::new(BIN);
    cmd.args(["demo-api", "--listen", "127.0.0.1:0"]);
    start(cmd, "simulated CDB API listening", "endpoint=")
}

/// Starts `cmd` and reads the port from the log line holding `marker`, in its `key` field.
fn start(mut cmd: Command, marker: &'static str, key: &'static str) -> Spawned {
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = Arc::clone(&log);
    let reader = std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains(marker) {
                let _ = tx.send(listening_port(&line, key));
            }
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let mut spawned = Spawned {
        child,
        port: 0,
        log,
        reader: Some(reader),
    };
    match rx.recv_timeout(Duration::from_secs(10) * SLACK) {
        Ok(port) => spawned.port = port,
        Err(_) => panic!("no {marker:?} line:\n{}", spawned.log()),
    }
    spawned
}

/// The port of `key…HOST:PORT[/]` in the log line.
fn listening_port(line: &str, key: &str) -> u16 {
    let addr = line.split_whitespace().find_map(|w| w.strip_prefix(key));
    let port = addr.and_then(|a| a.trim_end_matches('/').rsplit_once(':'));
    match port.map(|(_, p)| p.parse()) {
        Some(Ok(port)) => port,
        _ => panic!("no {key}HOST:PORT in {line}"),
    }
}

impl Spawned {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends `signal` (e.g. `-TERM`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `within` for the process to exit; its status, how long it took, and
    /// the whole log. Kills it and fails if it is still running.
    pub fn wait_exit(&mut self, within: Duration) -> (ExitStatus, Duration, String) {
        let since = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if since.elapsed() > within {
                let _ = self.child.kill();
                panic!("still running {:?} later\n{}", since.elapsed(), self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = since.elapsed();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status, took, self.log())
    }
}

impl Drop for Spawned {
    /// A failed assertion must not leave the process behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
