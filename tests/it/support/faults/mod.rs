//! A fake CDB API that misbehaves on purpose, for both API versions, on 127.0.0.1.
//!
//! It speaks HTTP/1.1 itself (a few lines over a `TcpStream`) so that it can do what a
//! framework would not: reset a connection, hang past the client's timeout, or cut a
//! body short. Faults are drawn with a seeded generator; what each request got, and when
//! it arrived, is logged, and for every job the latest answer served in full is kept, so
//! that a test can check the exporter against it.
//!
//! - v2 (`/v2/index.php`, `GetCdbRollbackJobTask`): its own world of `jobs` jobs that run
//!   for a few seconds and then succeed or fail. **Signatures are not checked** here:
//!   `fake_v2.rs` and the client tests cover them.
//! - v3 (`POST /`): the built-in simulator's answers ([`cdb_rollback_exporter::demo::v3::answer`]),
//!   whose signature check does run (the exporter uses the demo key pair): the job
//!   actions, and DescribeDBInstances and DescribeRollbackRangeTime, under the same
//!   faults; of these the log keeps each instance's name and window as served whole.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use cdb_rollback_exporter::time::{UtcOffset, format_local, unix_now};
use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use self::wire::{Request, read_request};
use super::exposition::Exposition;

mod check;
pub mod report;
mod wire;

pub use self::check::check_jobs;
use self::report::Report;
pub use self::report::Window;

/// What one request got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A good answer at once.
    None,
    /// A good answer, late but within the client's timeout.
    Slow,
    /// No answer until after the client's timeout.
    Timeout,
    /// The connection reset without an answer.
    Reset,
    /// Throttling in an HTTP 200 (`RequestLimitExceeded`, v2's code 4400).
    Throttled,
    /// HTTP 429.
    Http429,
    /// HTTP 500 or 503 with a JSON-ish body.
    Http5xx,
    /// A proxy's HTML 502 page.
    Html502,
    /// A server fault in an HTTP 200 (`InternalError`, v2's 6000).
    ApiInternal,
    /// The good answer cut in half.
    Truncated,
    /// Random bytes with HTTP 200.
    Garbage,
}

impl Fault {
    /// The mix, in percent; the rest are good answers.
    const MIX: [(Fault, u32); 10] = [
        (Fault::Slow, 10),
        (Fault::Timeout, 8),
        (Fault::Reset, 6),
        (Fault::Throttled, 2),
        (Fault::Http429, 2),
        (Fault::Http5xx, 5),
        (Fault::Html502, 4),
        (Fault::ApiInternal, 4),
        (Fault::Truncated, 4),
        (Fault::Garbage, 4),
    ];

    fn draw(rng: &mut fastrand::Rng) -> Fault {
        let mut roll = rng.u32(0..100);
        for (fault, share) in Self::MIX {
            if roll < share {
                return fault;
            }
            roll -= share;
        }
        Fault::None
    }

    /// Whether the request's answer reached the client whole.
    pub fn served(self) -> bool {
        matches!(self, Fault::None | Fault::Slow)
    }
}

/// How the fake answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every answer good and immediate.
    Good = 0,
    /// Faults drawn from [`Fault::MIX`].
    Faults = 1,
    /// Every request hangs past the client's timeout.
    Hang = 2,
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub at: Instant,
    pub action: String,
    pub fault: Fault,
}

/// A job's values as the fake last served them whole, and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Served {
    pub at: f64,
    pub status: i64,
    /// Percent.
    pub progress: Option<f64>,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// The v2 world: job `first_id + i` starts at `t0` and runs `run_for(i)` seconds, then
/// succeeds, or fails for every fifth job.
#[derive(Clone, Debug)]
pub struct World {
    pub jobs: u64,
    pub first_id: u64,
    pub t0: i64,
    /// Each job runs `base + i % spread` seconds.
    pub base: i64,
    pub spread: i64,
}

impl World {
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.jobs).map(|i| self.first_id + i)
    }

    fn job(&self, id: u64, now: f64) -> Option<Served> {
        let i = id.checked_sub(self.first_id).filter(|i| *i < self.jobs)? as i64;
        let run = self.base + i % self.spread.max(1);
        let elapsed = now - self.t0 as f64;
        let (status, progress, end) = if elapsed < run as f64 {
            (
                1,
                (elapsed.max(0.0) * 100.0 / run as f64).floor().min(99.0),
                None,
            )
        } else if i % 5 == 0 {
            (3, 60.0, Some(self.t0 + run))
        } else {
            (2, 100.0, Some(self.t0 + run))
        };
        Some(Served {
            at: now,
            status,
            progress: Some(progress),
            start: Some(self.t0),
            end,
        })
    }

    fn answer(&self, id: u64, s: &Served) -> Value {
        let time = |t: Option<i64>| {
            t.map_or_else(
                || "0000-00-00 00:00:00".to_string(),
                |t| format_local(t, UtcOffset::CST),
            )
        };
        let instance = format!("cdb-fault{:04}", id % 10_000);
        json!({"code": 0, "message": "", "data": {
            "jobInfo": {"jobId": id, "type": 10, "status": s.status, "progress": s.progress,
                "code": 0, "startTime": time(s.start), "endTime": time(s.end),
                "detail": [{"cdbInstanceId": instance, "strategy": "full"}]},
            "taskDetail": [{"taskId": id * 10, "workId": id, "status": s.status,
                "progress": s.progress, "code": 0, "startTime": time(s.start),
                "endTime": time(s.end), "taskInfo": {"cdbInstanceId": instance}}]}})
    }
}

#[derive(Default)]
pub struct Log {
    pub arrivals: Vec<Arrival>,
    /// Per job, the latest answer served whole (v2 by job id, v3 by `JobId`).
    pub latest: HashMap<u64, Served>,
    /// Per job, every answer served whole, oldest first.
    pub history: HashMap<u64, Vec<Served>>,
    /// Every inventory page served whole (instance id to name), oldest first.
    pub names: Vec<(f64, BTreeMap<String, String>)>,
    /// Per instance, every window served whole, oldest first.
    pub windows: BTreeMap<String, Vec<Window>>,
}

impl Log {
    fn record(&mut self, report: Report, at: f64) {
        for (id, mut s) in report.jobs {
            s.at = at;
            self.latest.insert(id, s.clone());
            self.history.entry(id).or_default().push(s);
        }
        if !report.names.is_empty() {
            self.names.push((at, report.names));
        }
        for (id, mut w) in report.windows {
            w.at = at;
            self.windows.entry(id).or_default().push(w);
        }
    }

    /// The longest time between two arrivals of any of `actions` (their first and
    /// last arrivals bounding it), and how many arrived.
    pub fn longest_gap(&self, actions: &[&str]) -> (Duration, usize) {
        let at: Vec<Instant> = (self.arrivals.iter())
            .filter(|a| actions.contains(&a.action.as_str()))
            .map(|a| a.at)
            .collect();
        let gap = at.windows(2).map(|w| w[1] - w[0]).max();
        (gap.unwrap_or_default(), at.len())
    }

    /// The answer for `id` served last at or before `t` (Unix seconds).
    pub fn served_before(&self, id: u64, t: f64) -> Option<&Served> {
        self.history.get(&id)?.iter().rev().find(|s| s.at <= t)
    }

    /// The largest number of arrivals in any window of `window` (sliding, at every arrival).
    pub fn max_in_window(&self, window: Duration) -> usize {
        let at: Vec<Instant> = self.arrivals.iter().map(|a| a.at).collect();
        let mut best = 0;
        let mut lo = 0;
        for hi in 0..at.len() {
            while at[hi].duration_since(at[lo]) >= window {
                lo += 1;
            }
            best = best.max(hi - lo + 1);
        }
        best
    }
}

pub struct FaultApi {
    pub base: String,
    pub log: Arc<Mutex<Log>>,
    mode: Arc<AtomicU8>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    world: Option<World>,
    v3_t0: i64,
    timeout: Duration,
    rng: Mutex<fastrand::Rng>,
    mode: Arc<AtomicU8>,
    log: Arc<Mutex<Log>>,
}

impl FaultApi {
    /// Serves on a free loopback port. `world` is the v2 world (None for v3 only);
    /// `timeout` is the client's, which `Fault::Timeout` outlasts.
    pub async fn start(world: Option<World>, timeout: Duration, seed: u64) -> FaultApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(Mode::Faults as u8));
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = Arc::new(Shared {
            world,
            v3_t0: unix_now() as i64 - 30,
            timeout,
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            mode: Arc::clone(&mode),
            log: Arc::clone(&log),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(connection(Arc::clone(&shared), stream));
            }
        });
        FaultApi {
            base,
            log,
            mode,
            task,
        }
    }

    pub fn endpoint_v2(&self) -> String {
        format!("{}/v2/index.php", self.base)
    }

    pub fn endpoint_v3(&self) -> String {
        format!("{}/", self.base)
    }

    /// Turns the faults on or off; off, every answer is good and immediate.
    pub fn set_faults(&self, on: bool) {
        self.set_mode(if on { Mode::Faults } else { Mode::Good });
    }

    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    pub fn with<R>(&self, f: impl FnOnce(&Log) -> R) -> R {
        f(&self.log.lock().unwrap())
    }
}

impl Drop for FaultApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connection(shared: Arc<Shared>, stream: TcpStream) {
    let mut r = BufReader::new(stream);
    while let Some(req) = read_request(&mut r).await {
        let at = Instant::now();
        let fault = match shared.mode.load(Ordering::SeqCst) {
            m if m == Mode::Faults as u8 => Fault::draw(&mut shared.rng.lock().unwrap()),
            m if m == Mode::Hang as u8 => Fault::Timeout,
            _ => Fault::None,
        };
        let (action, good, served) = shared.good_answer(&req);
        shared.log.lock().unwrap().arrivals.push(Arrival {
            at,
            action: action.clone(),
            fault,
        });
        let v3 = req.method == "POST" && !req.target.starts_with("/v2/");
        let Some((status, body)) = answer_with(&shared, fault, v3, good, r.get_ref()).await else {
            return;
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        // Taken before the answer leaves, so the client's own record of it is later.
        let sent_at = unix_now();
        let stream = r.get_mut();
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(&body).await.is_err()
        {
            return;
        }
        if fault.served() {
            shared.log.lock().unwrap().record(served, sent_at);
        }
    }
}

/// The status and body `fault` turns the good answer into; None when the connection is
/// to be dropped without one (after the client's timeout, or by a reset).
async fn answer_with(
    shared: &Shared,
    fault: Fault,
    v3: bool,
    good: String,
    stream: &TcpStream,
) -> Option<(u16, Vec<u8>)> {
    Some(match fault {
        Fault::None | Fault::Slow => {
            if fault == Fault::Slow {
                let ms = shared.rng.lock().unwrap().u64(100..600);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            (200, good.into_bytes())
        }
        Fault::Timeout => {
            tokio::time::sleep(shared.timeout + Duration::from_millis(500)).await;
            return None;
        }
        Fault::Reset => {
            let _ = stream.set_zero_linger();
            return None;
        }
        Fault::Throttled if v3 => (
            200,
            v3_error("RequestLimitExceeded", "too many requests").into_bytes(),
        ),
        Fault::Throttled => (200, br#"{"code":4400,"message":"too fast"}"#.to_vec()),
        Fault::Http429 => (429, b"Too Many Requests".to_vec()),
        Fault::Http5xx => (503, br#"{"error":"service unavailable"}"#.to_vec()),
        Fault::Html502 => (
            502,
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>".to_vec(),
        ),
        Fault::ApiInternal if v3 => (
            200,
            v3_error("InternalError", "internal error").into_bytes(),
        ),
        Fault::ApiInternal => (200, br#"{"code":6000,"message":"busy"}"#.to_vec()),
        Fault::Truncated => (200, good.as_bytes()[..good.len() / 2].to_vec()),
        Fault::Garbage => {
            let mut rng = shared.rng.lock().unwrap();
            let n = rng.usize(1..300);
            (200, (0..n).map(|_| rng.u8(..)).collect())
        }
    })
}

fn v3_error(code: &str, message: &str) -> String {
    json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "fault"}})
        .to_string()
}

impl Shared {
    /// The good answer to a request: the action, the body, and what it reports.
    fn good_answer(&self, req: &Request) -> (String, String, Report) {
        if req.target.starts_with("/v2/") {
            self.good_v2_answer(req)
        } else {
            self.good_v3_answer(req)
        }
    }

    fn good_v2_answer(&self, req: &Request) -> (String, String, Report) {
        let now = unix_now();
        let query = req.target.split_once('?').map_or("", |(_, q)| q);
        let form = if req.method == "POST" {
            String::from_utf8_lossy(&req.body).into_owned()
        } else {
            query.to_string()
        };
        let params: HashMap<String, String> = form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        let action = params.get("Action").cloned().unwrap_or_default();
        let job = params.get("jobId").and_then(|j| j.parse::<u64>().ok());
        let found = job.and_then(|id| Some((id, self.world.as_ref()?.job(id, now)?)));
        match (found, &self.world) {
            (Some((id, s)), Some(w)) => {
                let body = w.answer(id, &s).to_string();
                let jobs = vec![(id, s)];
                (
                    action,
                    body,
                    Report {
                        jobs,
                        ..Report::default()
                    },
                )
            }
            _ => (
                action,
                json!({"code": 9003, "message": "no such job"}).to_string(),
                Report::default(),
            ),
        }
    }

    fn good_v3_answer(&self, req: &Request) -> (String, String, Report) {
        let now = unix_now();
        let mut headers = HeaderMap::new();
        for (k, v) in &req.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                headers.append(k, v);
            }
        }
        let action = headers
            .get("x-tc-action")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let answer =
            cdb_rollback_exporter::demo::v3::answer(self.v3_t0, &headers, &req.body, now as i64);
        let served = report::report(&action, &answer, now);
        (action, answer.to_string(), served)
    }
}
