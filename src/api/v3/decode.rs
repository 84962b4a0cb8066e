//! Decoding API 3.0 answers: `{"Response": {...}}`, errors inside an HTTP 200, status
//! names instead of codes, progress in percent, and Beijing-time strings.

use serde_json::Value;

use crate::api::error::{ApiError, scrub};
use crate::api::json::{Obj, Reader, as_int, field, parse};
use crate::rollback::{DatabaseRename, Instance, Job, Status, Task, progress_ratio};
use crate::time::UtcOffset;

/// One page of DescribeTasks, rollback jobs only.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskPage {
    pub total: u64,
    /// Rows read from this page, rollback or not: the next page's `Offset` moves by this.
    pub rows: u64,
    pub jobs: Vec<Job>,
    pub request_id: String,
}

/// The rollback task of one instance, from DescribeRollbackTaskDetail.
#[derive(Clone, Debug, PartialEq)]
pub struct DetailPage {
    pub total: u64,
    /// The task for the instance asked about; `None` when the answer lists none yet.
    pub task: Option<Task>,
}

const START: &[&str] = &["StartTime", "startTime"];
const END: &[&str] = &["EndTime", "endTime"];
const PROGRESS: &[&str] = &["Progress", "progress"];
const INSTANCE_ID: &[&str] = &["InstanceId", "instanceId"];

/// `TaskType` as DescribeTasks' `TaskTypes` numbers it; `None` for other task types.
pub fn rollback_type(v: &Value) -> Option<i64> {
    let n = as_int(v).or_else(|| match v.as_str()?.trim().to_ascii_uppercase().as_str() {
        "ROLLBACK" => Some(1),
        "BATCH ROLLBACK" | "BATCH_ROLLBACK" => Some(10),
        _ => None,
    })?;
    matches!(n, 1 | 10).then_some(n)
}

/// The `Response` object, or the API error it carries (with HTTP 200).
pub(super) fn response<'v>(r: &Reader<'_>, top: &'v Value) -> Result<&'v Obj, ApiError> {
    let resp = top
        .get("Response")
        .and_then(Value::as_object)
        .ok_or_else(|| r.fail("the answer has no `Response` object".into()))?;
    if let Some(err) = resp.get("Error").filter(|e| !e.is_null()) {
        let e = err.as_object();
        let text = |name| e.map(|e| r.text(e, &[name])).unwrap_or_default();
        let code = Some(text("Code")).filter(|c| !c.is_empty());
        let code = code.unwrap_or_else(|| "Unknown".into());
        let (kind, retry) = super::codes::classify(&code);
        return Err(ApiError::Api {
            code,
            message: scrub(&text("Message")),
            request_id: Some(r.text(resp, &["RequestId"])).filter(|s| !s.is_empty()),
            kind,
            retry,
        });
    }
    Ok(resp)
}

pub(super) fn total(r: &Reader<'_>, resp: &Obj) -> Result<u64, ApiError> {
    let n = r.int(resp, "Response", &["TotalCount", "totalCount"])?;
    Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}

fn status(r: &Reader<'_>, o: &Obj, at: &str, names: &[&'static str]) -> Result<Status, ApiError> {
    match field(o, names) {
        None => Err(r.fail(format!("`{at}.{}` is missing", names[0]))),
        Some((_, Value::String(s))) if s.trim().parse::<i64>().is_err() => Ok(Status::from_name(s)),
        Some((n, v)) => as_int(v)
            .map(Status)
            .ok_or_else(|| r.bad(at, n, v, "a status")),
    }
}

fn job(r: &Reader<'_>, o: &Obj, at: &str, job_type: i64) -> Result<Job, ApiError> {
    let ids: Vec<&str> = match field(o, &["InstanceIds", "instanceIds"]) {
        Some((_, Value::Array(ids))) => ids.iter().filter_map(Value::as_str).collect(),
        Some((_, Value::String(one))) => vec![one.as_str()],
        _ => Vec::new(),
    };
    let instances = ids
        .into_iter()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| Instance {
            instance_id: id.to_string(),
            ..Instance::default()
        })
        .collect();
    let (start, end) = r.span(o, at, START, END)?;
    Ok(Job {
        id: r.id(o, at, &["JobId", "jobId"])?,
        job_type,
        async_request_id: r.text(o, &["AsyncRequestId", "asyncRequestId"]),
        status: status(r, o, at, &["TaskStatus", "taskStatus", "Status"])?,
        progress: r.float(o, at, PROGRESS)?.map(progress_ratio),
        code: r.int(o, at, &["Code", "code"])?,
        message: r.text(o, &["Message", "message"]),
        start,
        end,
        instances,
        tasks: Vec::new(),
    })
}

/// Decodes a DescribeTasks answer, keeping rollback jobs (types 1 and 10) only.
pub fn tasks_page(body: &[u8], offset: UtcOffset) -> Result<TaskPage, ApiError> {
    let r = Reader { body, offset };
    let top = parse(body)?;
    let resp = response(&r, &top)?;
    let items = r.objects(resp, "Response", &["Items", "items"])?;
    let mut jobs = Vec::with_capacity(items.len());
    for (i, o) in items.iter().enumerate() {
        let Some(t) = field(o, &["TaskType", "taskType"]).and_then(|(_, v)| rollback_type(v))
        else {
            continue;
        };
        jobs.push(job(&r, o, &format!("Response.Items[{i}]"), t)?);
    }
    Ok(TaskPage {
        total: total(&r, resp)?,
        rows: items.len() as u64,
        jobs,
        request_id: r.text(resp, &["RequestId"]),
    })
}

fn instance(r: &Reader<'_>, o: &Obj, at: &str) -> Result<Instance, ApiError> {
    let databases = r
        .objects(o, at, &["Databases", "databases"])?
        .into_iter()
        .map(|d| DatabaseRename {
            name: r.text(d, &["DatabaseName", "databaseName"]),
            new_name: r.text(d, &["NewDatabaseName", "newDatabaseName"]),
        })
        .collect();
    let mut tables = 0i64;
    for (i, t) in r
        .objects(o, at, &["Tables", "tables"])?
        .into_iter()
        .enumerate()
    {
        let n = r.objects(t, &format!("{at}.Tables[{i}]"), &["Table", "table"])?;
        tables += n.len() as i64;
    }
    Ok(Instance {
        instance_id: r.text(o, INSTANCE_ID),
        strategy: r.text(o, &["Strategy", "strategy"]),
        rollback_time: r.time(o, at, &["RollbackTime", "rollbackTime"])?,
        databases,
        tables: Some(tables),
        ..Instance::default()
    })
}

/// Decodes a DescribeRollbackTaskDetail answer asked for `instance_id`. Of several
/// tasks, the latest started is the one; of several instances, the one asked about.
pub fn rollback_detail(
    body: &[u8],
    offset: UtcOffset,
    instance_id: &str,
) -> Result<DetailPage, ApiError> {
    let r = Reader { body, offset };
    let top = parse(body)?;
    let resp = response(&r, &top)?;
    let mut best: Option<Task> = None;
    for (i, o) in r
        .objects(resp, "Response", &["Items", "items"])?
        .into_iter()
        .enumerate()
    {
        let at = format!("Response.Items[{i}]");
        let details = r.objects(o, &at, &["Detail", "detail"])?;
        let mine = details
            .iter()
            .position(|d| r.text(d, INSTANCE_ID) == instance_id)
            .or(if details.len() == 1 { Some(0) } else { None });
        let mut inst = match mine {
            Some(k) => instance(&r, details[k], &format!("{at}.Detail[{k}]"))?,
            None => Instance::default(),
        };
        inst.instance_id = instance_id.to_string();
        let (start, end) = r.span(o, &at, START, END)?;
        let task = Task {
            id: String::new(),
            work_id: String::new(),
            status: status(&r, o, &at, &["Status", "status"])?,
            progress: r.float(o, &at, PROGRESS)?.map(progress_ratio),
            code: None,
            message: r.text(o, &["Info", "info"]),
            start,
            end,
            instance: inst,
        };
        if best.as_ref().is_none_or(|b| task.start > b.start) {
            best = Some(task);
        }
    }
    Ok(DetailPage {
        total: total(&r, resp)?,
        task: best,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::{ErrorKind, Retry};
    use crate::rollback::State;

    const PAGE: &str = r#"{"Response":{"TotalCount":3,"Items":[
        {"JobId":101,"AsyncRequestId":"a1-b2","TaskType":"ROLLBACK","TaskStatus":"RUNNING","Progress":42,
         "Code":0,"Message":"","StartTime":"2026-11-28 10:00:00","EndTime":"0000-00-00 00:00:00",
         "InstanceIds":["cdb-1"],"TaskAttachInfo":[]},
        {"JobId":"102","AsyncRequestId":"c3","TaskType":"BATCH ROLLBACK","TaskStatus":"SUCCEED","Progress":"100",
         "Code":"0","Message":"","StartTime":"2026-11-28 09:00:00","EndTime":"2026-11-28 09:01:40",
         "InstanceIds":["cdb-1","cdb-2"],"TaskAttachInfo":null},
        {"JobId":103,"TaskType":"UPGRADE","TaskStatus":"RUNNING","InstanceIds":["cdb-9"]}],
        "RequestId":"req-1"}}"#;

    #[test]
    fn tasks_page_keeps_rollbacks_only() {
        let p = tasks_page(PAGE.as_bytes(), UtcOffset::CST).unwrap();
        assert_eq!((p.total, p.rows, p.jobs.len()), (3, 3, 2));
        assert_eq!(p.request_id, "req-1");
        let a = &p.jobs[0];
        assert_eq!(
            (a.id, a.job_type, a.async_request_id.as_str()),
            (101, 1, "a1-b2")
        );
        assert_eq!(a.status.state(), State::Running);
        assert_eq!(a.progress, Some(0.42));
        assert_eq!(a.start, Some(1_795_831_200));
        assert_eq!(a.end, None);
        let b = &p.jobs[1];
        assert_eq!((b.id, b.job_type), (102, 10));
        assert_eq!(b.status, Status(2));
        assert_eq!(b.end.zip(b.start).map(|(e, s)| e - s), Some(100));
        let ids: Vec<_> = b.instances.iter().map(|i| i.instance_id.as_str()).collect();
        assert_eq!(ids, ["cdb-1", "cdb-2"]);
    }

    #[test]
    fn every_status_name_maps() {
        for (name, state) in [
            ("UNDEFINED", State::Unknown),
            ("INITIAL", State::Initial),
            ("RUNNING", State::Running),
            ("SUCCEED", State::Success),
            ("FAILED", State::Failed),
            ("KILLED", State::Killed),
            ("REMOVED", State::Removed),
            ("PAUSED", State::Paused),
            ("WAITING", State::Waiting),
            ("BRAND_NEW", State::Unknown),
        ] {
            let body = format!(
                r#"{{"Response":{{"TotalCount":1,"Items":[{{"JobId":1,"TaskType":"ROLLBACK","TaskStatus":"{name}"}}],"RequestId":"r"}}}}"#
            );
            let p = tasks_page(body.as_bytes(), UtcOffset::CST).unwrap();
            assert_eq!(p.jobs[0].status.state(), state, "{name}");
        }
    }

    #[test]
    fn errors_inside_http_200_are_classified() {
        let body = br#"{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"too fast"},"RequestId":"req-9"}}"#;
        let e = tasks_page(body, UtcOffset::CST).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert_eq!(e.retry(), Retry::Backoff);
        assert_eq!(e.request_id(), Some("req-9"));
        assert_eq!(e.api_code(), Some("RequestLimitExceeded"));
        let body = br#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad Signature=abc"},"RequestId":"r"}}"#;
        let e = rollback_detail(body, UtcOffset::CST, "cdb-1").unwrap_err();
        assert_eq!((e.kind(), e.retry()), (ErrorKind::Auth, Retry::Never));
        assert!(!e.to_string().contains("abc"), "{e}");
    }

    #[test]
    fn broken_bodies_are_decode_errors() {
        for body in [
            &PAGE.as_bytes()[..PAGE.len() / 2],
            b"<html><title>502 Bad Gateway</title></html>".as_slice(),
            b"{}".as_slice(),
            br#"{"Response":[]}"#.as_slice(),
            br#"{"Response":{"Items":[{"JobId":"x","TaskType":"ROLLBACK","TaskStatus":"RUNNING"}]}}"#,
            br#"{"Response":{"Items":[{"JobId":1,"TaskType":"ROLLBACK"}]}}"#,
        ] {
            let e = tasks_page(body, UtcOffset::CST).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
        }
    }

    #[test]
    fn detail_of_a_batch_rollback() {
        let body = r#"{"Response":{"TotalCount":1,"Items":[{"Status":"FAILED","Progress":60,
            "StartTime":"2026-11-28 10:00:00","EndTime":"2026-11-28 10:05:00","Info":"table lock timeout",
            "Detail":[
              {"InstanceId":"cdb-1","Strategy":"full","RollbackTime":"2026-11-27 12:00:00",
               "Databases":[{"DatabaseName":"a","NewDatabaseName":"a_bak"}],"Tables":[]},
              {"InstanceId":"cdb-2","Strategy":"table","RollbackTime":"2026-11-27 12:30:00",
               "Databases":[{"DatabaseName":"b","NewDatabaseName":"b_bak"},{"DatabaseName":"c","NewDatabaseName":"c_bak"}],
               "Tables":[{"Database":"b","Table":[{"TableName":"t1","NewTableName":"t1_bak"},{"TableName":"t2","NewTableName":"t2_bak"}]},
                         {"Database":"c","Table":[{"TableName":"t3","NewTableName":"t3_bak"}]}]}]}],
            "RequestId":"r"}}"#;
        let d = rollback_detail(body.as_bytes(), UtcOffset::CST, "cdb-2").unwrap();
        let t = d.task.unwrap();
        assert_eq!(t.status.state(), State::Failed);
        assert_eq!(t.progress, Some(0.6));
        assert_eq!(t.message, "table lock timeout");
        assert_eq!(t.end.zip(t.start).map(|(e, s)| e - s), Some(300));
        assert_eq!(t.instance.instance_id, "cdb-2");
        assert_eq!(t.instance.strategy, "table");
        assert_eq!(t.instance.databases.len(), 2);
        assert_eq!(t.instance.tables, Some(3));
        assert_eq!(t.instance.rollback_time, Some(1_795_753_800));
        assert_eq!(t.id, "", "v3 tasks have no id");
    }

    #[test]
    fn detail_without_items() {
        for items in ["null", "[]"] {
            let body =
                format!(r#"{{"Response":{{"TotalCount":0,"Items":{items},"RequestId":"r"}}}}"#);
            let d = rollback_detail(body.as_bytes(), UtcOffset::CST, "cdb-1").unwrap();
            assert_eq!(d.task, None);
        }
    }

    #[test]
    fn detail_with_success_spelled_success() {
        let body = r#"{"Response":{"TotalCount":2,"Items":[
            {"Status":"SUCCESS","Progress":100,"StartTime":"2026-11-01 10:00:00","EndTime":"2026-11-01 10:01:00","Detail":[]},
            {"Status":"RUNNING","Progress":5,"StartTime":"2026-11-28 10:00:00","EndTime":"","Detail":null}],"RequestId":"r"}}"#;
        let t = rollback_detail(body.as_bytes(), UtcOffset::CST, "cdb-7")
            .unwrap()
            .task
            .unwrap();
        assert_eq!(
            t.status.state(),
            State::Running,
            "the latest started task wins"
        );
        assert_eq!(t.instance.instance_id, "cdb-7");
        let only = body.replace("RUNNING", "SUCCESS");
        let t = rollback_detail(only.as_bytes(), UtcOffset::CST, "cdb-7")
            .unwrap()
            .task
            .unwrap();
        assert_eq!(t.status.state(), State::Success);
    }
}
