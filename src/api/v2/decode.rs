//! Decoding the v2 API's answers, whatever shape they come in.
//!
//! The real answers send numbers as numbers or as strings, spell field names two ways
//! (sometimes both in one object), switch `data` and `taskDetail` between object and
//! array, and write unset times as empty or `0000-00-00 00:00:00`. The answer is read as
//! JSON values and every field is looked up under each of its spellings, so none of this
//! can fail a poll; a value that is really wrong fails it with the field's path named.

use serde_json::Value;

use crate::api::error::{ApiError, scrub};
use crate::api::json::{Obj, Reader, parse};
use crate::rollback::{
    DatabaseRename, Instance, Job, JobPage, JobSummary, Status, Task, progress_ratio,
};
use crate::time::UtcOffset;

/// Spellings of each field across versions of the documentation, preferred first.
const JOB_ID: &[&str] = &["jobId", "jobid", "JobId"];
const JOB_INFO: &[&str] = &["jobInfo", "jobinfo", "JobInfo"];
const TASK_DETAIL: &[&str] = &["taskDetail", "taskdetail", "TaskDetail"];
const TASK_INFO: &[&str] = &["taskInfo", "taskinfo", "TaskInfo"];
const TASK_ID: &[&str] = &["taskId", "taskid", "TaskId"];
const WORK_ID: &[&str] = &["workId", "workid", "WorkId"];
const START: &[&str] = &["startTime", "starttime", "StartTime"];
const END: &[&str] = &["endTime", "endtime", "EndTime"];
/// The `cdb-…` id people know comes first; `uInstanceId` is the internal one.
const INSTANCE_ID: &[&str] = &[
    "cdbInstanceId",
    "instanceId",
    "instanceid",
    "InstanceId",
    "uInstanceId",
];
const INSTANCE_NAME: &[&str] = &[
    "cdbInstanceName",
    "instanceName",
    "instancename",
    "InstanceName",
];
const ROLLBACK_TIME: &[&str] = &["rollbackTime", "rollbacktime", "RollbackTime"];
const DB_NAME: &[&str] = &["dbName", "dbname", "DbName"];
const NEW_NAME: &[&str] = &["newName", "newname", "NewName"];
const TASK_COUNT: &[&str] = &["taskCount", "taskcount", "totalCount", "TotalCount"];
const TASK_LIST: &[&str] = &["taskList", "tasklist", "TaskList"];

/// The parts of an answer only v2 has.
trait V2 {
    fn instance(&self, o: &Obj, at: &str) -> Result<Instance, ApiError>;
    fn envelope(&self, top: &Value) -> Result<Obj, ApiError>;
}

impl V2 for Reader<'_> {
    fn instance(&self, o: &Obj, at: &str) -> Result<Instance, ApiError> {
        let databases = self
            .objects(o, at, &["dbs", "Dbs"])?
            .into_iter()
            .map(|d| DatabaseRename {
                name: self.text(d, DB_NAME),
                new_name: self.text(d, NEW_NAME),
            })
            .collect();
        Ok(Instance {
            instance_id: self.text(o, INSTANCE_ID),
            instance_name: self.text(o, INSTANCE_NAME),
            strategy: self.text(o, &["strategy", "Strategy"]),
            rollback_time: self.time(o, at, ROLLBACK_TIME)?,
            operator: self.text(o, &["operator", "Operator"]),
            databases,
            tables: None,
        })
    }

    /// The envelope: `code` 0 gives the top-level object; another code is an API error.
    fn envelope(&self, top: &Value) -> Result<Obj, ApiError> {
        let Value::Object(top) = top else {
            return Err(self.fail("the answer is not a JSON object".into()));
        };
        match self.int(top, "", &["code", "Code"])? {
            Some(0) => Ok(top.clone()),
            Some(code) => {
                let (kind, retry) = super::codes::classify(code);
                Err(ApiError::Api {
                    code: code.to_string(),
                    message: scrub(&self.text(top, &["message", "codeDesc", "Message"])),
                    request_id: None,
                    kind,
                    retry,
                })
            }
            None => Err(self.fail("the answer has no `code`".into())),
        }
    }
}

/// The tasks of `data.taskDetail`, each once.
fn tasks(r: &Reader<'_>, data: &Obj, id: u64) -> Result<Vec<Task>, ApiError> {
    let mut tasks: Vec<Task> = Vec::new();
    for (i, t) in r
        .objects(data, "data", TASK_DETAIL)?
        .into_iter()
        .enumerate()
    {
        let at = format!("data.taskDetail[{i}]");
        // A task without an id gets one that no real (numeric) id can collide with.
        let mut task_id = r.text(t, TASK_ID);
        if task_id.is_empty() {
            task_id = format!("#{i}");
        }
        if tasks.iter().any(|k| k.id == task_id) {
            tracing::debug!(
                job_id = id,
                task_id,
                "task listed twice in one answer; keeping the first"
            );
            continue;
        }
        let instance = match r.objects(t, &at, TASK_INFO)?.first() {
            Some(o) => r.instance(o, &format!("{at}.taskInfo"))?,
            None => Instance::default(),
        };
        let (start, end) = r.span(t, &at, START, END)?;
        tasks.push(Task {
            id: task_id,
            work_id: r.text(t, WORK_ID),
            status: Status(r.required(t, &at, &["status", "Status"])?),
            progress: r
                .float(t, &at, &["progress", "Progress"])?
                .map(progress_ratio),
            code: r.int(t, &at, &["code", "Code"])?,
            message: r.text(t, &["message", "Message"]),
            start,
            end,
            instance,
        });
    }
    Ok(tasks)
}

/// Decodes a `GetCdbRollbackJobTask` answer for job `expected`.
pub fn job_detail(body: &[u8], offset: UtcOffset, expected: u64) -> Result<Job, ApiError> {
    let r = Reader { body, offset };
    let top = r.envelope(&parse(body)?)?;
    let data = r
        .objects(&top, "", &["data", "Data"])?
        .into_iter()
        .next()
        .ok_or_else(|| r.fail("`data` is empty".into()))?;
    let info = r
        .objects(data, "data", JOB_INFO)?
        .into_iter()
        .next()
        .ok_or_else(|| r.fail("`data.jobInfo` is missing".into()))?;
    let at = "data.jobInfo";
    let id = r.id(info, at, JOB_ID)?;
    if id != expected {
        return Err(r.fail(format!(
            "the answer is for job {id}, not for job {expected}"
        )));
    }
    let instances = r
        .objects(info, at, &["detail", "Detail"])?
        .into_iter()
        .enumerate()
        .map(|(i, o)| r.instance(o, &format!("{at}.detail[{i}]")))
        .collect::<Result<_, _>>()?;
    let tasks = tasks(&r, data, id)?;
    let (start, end) = r.span(info, at, START, END)?;
    Ok(Job {
        id,
        job_type: r.int(info, at, &["type", "Type"])?.unwrap_or(0),
        async_request_id: String::new(),
        status: Status(r.required(info, at, &["status", "Status"])?),
        progress: r
            .float(info, at, &["progress", "Progress"])?
            .map(progress_ratio),
        code: r.int(info, at, &["code", "Code"])?,
        message: r.text(info, &["message", "Message"]),
        start,
        end,
        instances,
        tasks,
    })
}

/// Decodes a `GetCdbRollbackJob` answer (one page of an instance's jobs).
pub fn job_page(body: &[u8], offset: UtcOffset) -> Result<JobPage, ApiError> {
    let r = Reader { body, offset };
    let top = r.envelope(&parse(body)?)?;
    let Some(data) = r.objects(&top, "", &["data", "Data"])?.into_iter().next() else {
        return Ok(JobPage {
            total: Some(0),
            jobs: Vec::new(),
        });
    };
    let jobs = r
        .objects(data, "data", TASK_LIST)?
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let at = format!("data.taskList[{i}]");
            let (start, end) = r.span(s, &at, START, END)?;
            Ok(JobSummary {
                id: r.id(s, &at, JOB_ID)?,
                job_type: r.int(s, &at, &["type", "Type"])?.unwrap_or(0),
                status: Status(r.required(s, &at, &["status", "Status"])?),
                progress: r
                    .float(s, &at, &["progress", "Progress"])?
                    .map(progress_ratio),
                start,
                end,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let total = r
        .int(data, "data", TASK_COUNT)?
        .and_then(|n| u64::try_from(n).ok());
    Ok(JobPage { total, jobs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::ErrorKind;
    use crate::rollback::State;

    pub const SEED: &str = include_str!("../../../test-data/seed-answer.json");

    #[test]
    fn seed_answer_decodes_verbatim() {
        let job = job_detail(SEED.as_bytes(), UtcOffset::CST, 12782).unwrap();
        assert_eq!(job.id, 12782);
        assert_eq!(job.job_type, 10);
        assert_eq!(job.status, Status(2));
        assert_eq!(job.status.state(), State::Success);
        assert_eq!(job.progress, Some(1.0));
        assert_eq!(job.code, Some(0));
        assert_eq!(job.start, Some(1_462_960_709));
        assert_eq!(job.end, Some(1_462_960_802));
        assert_eq!(
            crate::rollback::duration(job.start, job.end, job.status.state(), 0),
            Some(93)
        );
        assert_eq!(job.instances.len(), 1);
        let inst = &job.instances[0];
        assert_eq!(inst.instance_id, "2629265e-11ec-11e6-abea-0819a6d0fc09");
        assert_eq!(inst.instance_name, "cdb154047");
        assert_eq!(inst.strategy, "full");
        assert_eq!(inst.rollback_time, Some(1_462_874_276));
        assert_eq!(inst.operator, "909619400");
        assert_eq!(
            inst.databases,
            vec![DatabaseRename {
                name: "test".into(),
                new_name: "test_bak".into()
            }]
        );
        assert_eq!(job.tasks.len(), 1);
        let task = &job.tasks[0];
        assert_eq!(task.id, "105");
        assert_eq!(task.work_id, "311396");
        assert_eq!(task.status.state(), State::Success);
        assert_eq!(task.progress, Some(1.0));
        assert_eq!(task.start, Some(1_462_960_741));
        assert_eq!(task.end, Some(1_462_960_802));
        assert_eq!(
            crate::rollback::duration(task.start, task.end, task.status.state(), 0),
            Some(61)
        );
        assert_eq!(&task.instance, inst);
    }

    #[test]
    fn numbers_and_strings_and_both_spellings_agree() {
        let english = r#"{"code":0,"message":"","data":[{"jobInfo":{"jobId":12782,"type":10,"status":1,
            "progress":42.5,"code":0,"startTime":"2016-05-11 17:58:29","endTime":"0000-00-00 00:00:00",
            "detail":{"cdbInstanceId":"cdb-1","cdbInstanceName":"n","strategy":"table",
            "rollbackTime":"2016-05-10 17:57:56","dbs":{"dbName":"a","newName":"b"}}},
            "taskDetail":{"taskId":105,"workId":311396,"status":1,"progress":"42.5","code":"0",
            "startTime":"2016-05-11 17:59:01","endTime":"","taskInfo":{"cdbInstanceId":"cdb-1"},
            "extraField":{"nested":[1,2]}}}]}"#;
        let chinese = r#"{"code":"0","message":"","data":{"jobInfo":{"jobid":"12782","type":"10","status":"1",
            "progress":"42.5","code":"0","starttime":"2016-05-11 17:58:29","endtime":"",
            "detail":[{"instanceid":"cdb-1","instancename":"n","strategy":"table",
            "rollbacktime":"2016-05-10 17:57:56","dbs":[{"dbname":"a","newname":"b"}]}]},
            "taskDetail":[{"taskid":"105","workid":"311396","status":"1","progress":42.5,"code":0,
            "starttime":"2016-05-11 17:59:01","endtime":"0000-00-00 00:00:00","taskInfo":{"instanceid":"cdb-1"}}]}}"#;
        let a = job_detail(english.as_bytes(), UtcOffset::CST, 12782).unwrap();
        let b = job_detail(chinese.as_bytes(), UtcOffset::CST, 12782).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.status.state(), State::Running);
        assert_eq!(a.progress, Some(0.425));
        assert_eq!(a.end, None);
        assert_eq!(a.tasks[0].end, None);
        assert_eq!(a.tasks[0].id, "105");
        assert_eq!(a.instances[0].databases[0].new_name, "b");
    }

    #[test]
    fn timezone_is_configurable() {
        let job = job_detail(SEED.as_bytes(), UtcOffset::UTC, 12782).unwrap();
        assert_eq!(job.start, Some(1_462_960_709 + 8 * 3600));
    }

    #[test]
    fn auth_error_is_classified_and_not_retried() {
        let body = br#"{"code":4100,"message":"authentication failed","codeDesc":"AuthFailure"}"#;
        let err = job_detail(body, UtcOffset::CST, 12782).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert_eq!(err.retry(), crate::api::error::Retry::Never);
        assert_eq!(err.api_code(), Some("4100"));
        let err = job_detail(
            br#"{"code":"5000","message":"","data":[]}"#,
            UtcOffset::CST,
            1,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ApiError);
    }

    #[test]
    fn truncated_and_html_bodies_are_decode_errors() {
        let truncated = &SEED.as_bytes()[..SEED.len() / 2];
        let err = job_detail(truncated, UtcOffset::CST, 12782).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        let html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        let err = job_detail(html, UtcOffset::CST, 12782).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.to_string().contains("502 Bad Gateway"), "{err}");
    }

    #[test]
    fn bad_values_name_their_field() {
        let body = SEED.replacen(r#""status":"2""#, r#""status":"two""#, 1);
        assert_ne!(body, SEED);
        let err = job_detail(body.as_bytes(), UtcOffset::CST, 12782)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("data.jobInfo.status") && err.contains("two"),
            "{err}"
        );
        let body = SEED.replace("2016-05-11 17:58:29", "yesterday");
        let err = job_detail(body.as_bytes(), UtcOffset::CST, 12782)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("data.jobInfo.starttime") && err.contains("yesterday"),
            "{err}"
        );
    }

    #[test]
    fn both_spellings_in_one_object_are_fine() {
        let body = r#"{"code":0,"data":{"jobInfo":{"jobId":"7","jobid":"7","status":"1",
            "startTime":"","starttime":"2016-05-11 17:58:29"},
            "taskDetail":[{"taskid":"1","status":"1","taskInfo":{"uInstanceId":"2629265e-11ec",
            "instanceid":"cdb-abc","cdbInstanceId":"cdb-abc"}}]}}"#;
        let job = job_detail(body.as_bytes(), UtcOffset::CST, 7).unwrap();
        assert_eq!(
            job.start,
            Some(1_462_960_709),
            "the spelling with a value wins"
        );
        assert_eq!(
            job.tasks[0].instance.instance_id, "cdb-abc",
            "the cdb- id is preferred"
        );
        assert_eq!(
            (job.progress, job.code, job.tasks[0].progress),
            (None, None, None),
            "absent stays absent"
        );
    }

    #[test]
    fn an_answer_for_another_job_is_refused() {
        let err = job_detail(SEED.as_bytes(), UtcOffset::CST, 999)
            .unwrap_err()
            .to_string();
        assert!(err.contains("for job 12782, not for job 999"), "{err}");
    }

    #[test]
    fn task_ids_never_collide() {
        let body = r#"{"code":0,"data":{"jobInfo":{"jobId":7,"status":1},"taskDetail":[
            {"taskid":"0","status":1},{"status":2},{"taskid":"0","status":3}]}}"#;
        let job = job_detail(body.as_bytes(), UtcOffset::CST, 7).unwrap();
        let ids: Vec<&str> = job.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["0", "#1"]);
        assert_eq!(
            job.tasks[0].status,
            Status(1),
            "the first of a repeated task is kept"
        );
    }

    #[test]
    fn list_page_without_a_count() {
        let page = job_page(
            br#"{"code":0,"data":{"taskList":[{"jobId":1,"status":2}]}}"#,
            UtcOffset::CST,
        )
        .unwrap();
        assert_eq!((page.total, page.jobs.len()), (None, 1));
        let page = job_page(br#"{"code":0,"data":[]}"#, UtcOffset::CST).unwrap();
        assert!(page.jobs.is_empty());
    }

    #[test]
    fn list_page_decodes() {
        let body = r#"{"code":"0","message":"","data":{"taskCount":"130","taskList":[
            {"jobId":"1","type":1,"status":"2","progress":"100","startTime":"2016-05-11 17:58:29","endTime":"2016-05-11 18:00:02",
             "taskContext":{"data":{"operator":"x","uInstanceId":"u","strategy":"db","rollbackTime":"2016-05-10 17:57:56","dbs":[],"tables":[]}}},
            {"jobid":2,"status":1,"progress":5,"starttime":"2016-05-11 17:58:29","endtime":"0000-00-00 00:00:00"}]}}"#;
        let page = job_page(body.as_bytes(), UtcOffset::CST).unwrap();
        assert_eq!(page.total, Some(130));
        assert_eq!(page.jobs.len(), 2);
        assert_eq!(page.jobs[0].end, Some(1_462_960_802));
        assert_eq!(page.jobs[1].id, 2);
        assert_eq!(page.jobs[1].end, None);
        assert_eq!(page.jobs[1].status.state(), State::Running);
    }
}
