//! Decoding the API's answers, whatever shape they come in.
//!
//! The real answers send numbers as numbers or as strings, spell field names two ways,
//! switch `data` and `taskDetail` between object and array, and write unset times as
//! empty or `0000-00-00 00:00:00`. The wire types below accept all of it; `into_model`
//! turns them into the plain [`crate::rollback`] types.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::ApiError;
use crate::rollback::time::{UtcOffset, parse_local};
use crate::rollback::{
    DatabaseRename, Instance, Job, JobPage, JobSummary, Status, Task, progress_ratio,
};

/// An integer sent as a JSON number or a numeric string; empty or null is absent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Int(pub Option<i64>);

/// A number sent as a JSON number or a numeric string.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Float(pub Option<f64>);

/// Text that may arrive as a string, a number or null.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Text(pub Option<String>);

/// A list that may arrive as an array, a single object, null or "".
#[derive(Clone, Debug, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

fn float_to_int(v: f64) -> Option<i64> {
    (v.fract() == 0.0 && v.abs() < 9.0e15).then_some(v as i64)
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a numeric string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(|v| Int(Some(v)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int, E> {
                float_to_int(v)
                    .map(|v| Int(Some(v)))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Float(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int, E> {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(Int(None));
                }
                t.parse::<i64>()
                    .ok()
                    .or_else(|| t.parse::<f64>().ok().and_then(float_to_int))
                    .map(|v| Int(Some(v)))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Int, E> {
                Ok(Int(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Int, E> {
                Ok(Int(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Float;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a numeric string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Float, E> {
                Ok(Float(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Float, E> {
                Ok(Float(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Float, E> {
                Ok(Float(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Float, E> {
                let t = v.trim().trim_end_matches('%');
                if t.is_empty() {
                    return Ok(Float(None));
                }
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| Float(Some(f)))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Float, E> {
                Ok(Float(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Float, E> {
                Ok(Float(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array or an object")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(256));
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(OneOrMany(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| OneOrMany(vec![t]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v.trim().is_empty() {
                    Ok(OneOrMany(Vec::new()))
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany(Vec::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany(Vec::new()))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The envelope, read first and alone: `data` is only decoded when `code` is 0.
#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    code: Int,
    #[serde(default)]
    message: Text,
    #[serde(default, rename = "codeDesc")]
    code_desc: Text,
    #[serde(default)]
    #[allow(dead_code)]
    data: IgnoredAny,
}

#[derive(Deserialize)]
struct Body<T> {
    #[serde(default = "OneOrMany::default")]
    data: OneOrMany<T>,
}

#[derive(Deserialize)]
struct WireJobData {
    #[serde(default, rename = "jobInfo", alias = "jobinfo", alias = "JobInfo")]
    job_info: OneOrMany<WireJobInfo>,
    #[serde(
        default,
        rename = "taskDetail",
        alias = "taskdetail",
        alias = "TaskDetail"
    )]
    task_detail: OneOrMany<WireTask>,
}

#[derive(Deserialize)]
struct WireJobInfo {
    #[serde(default, rename = "jobId", alias = "jobid", alias = "JobId")]
    job_id: Int,
    #[serde(default, rename = "type")]
    job_type: Int,
    #[serde(default)]
    status: Int,
    #[serde(default)]
    progress: Float,
    #[serde(default)]
    code: Int,
    #[serde(default)]
    message: Text,
    #[serde(default, rename = "startTime", alias = "starttime")]
    start: Text,
    #[serde(default, rename = "endTime", alias = "endtime")]
    end: Text,
    #[serde(default)]
    detail: OneOrMany<WireInstance>,
}

#[derive(Deserialize)]
struct WireInstance {
    #[serde(
        default,
        rename = "cdbInstanceId",
        alias = "instanceid",
        alias = "instanceId",
        alias = "uInstanceId"
    )]
    instance_id: Text,
    #[serde(
        default,
        rename = "cdbInstanceName",
        alias = "instancename",
        alias = "instanceName"
    )]
    instance_name: Text,
    #[serde(default)]
    strategy: Text,
    #[serde(default, rename = "rollbackTime", alias = "rollbacktime")]
    rollback_time: Text,
    #[serde(default)]
    operator: Text,
    #[serde(default)]
    dbs: OneOrMany<WireDb>,
}

#[derive(Deserialize)]
struct WireDb {
    #[serde(default, rename = "dbName", alias = "dbname")]
    name: Text,
    #[serde(default, rename = "newName", alias = "newname")]
    new_name: Text,
}

#[derive(Deserialize)]
struct WireTask {
    #[serde(default, rename = "taskId", alias = "taskid")]
    task_id: Text,
    #[serde(default, rename = "workId", alias = "workid")]
    work_id: Text,
    #[serde(default)]
    status: Int,
    #[serde(default)]
    progress: Float,
    #[serde(default)]
    code: Int,
    #[serde(default)]
    message: Text,
    #[serde(default, rename = "startTime", alias = "starttime")]
    start: Text,
    #[serde(default, rename = "endTime", alias = "endtime")]
    end: Text,
    #[serde(default, rename = "taskInfo", alias = "taskinfo")]
    task_info: OneOrMany<WireInstance>,
}

#[derive(Deserialize)]
struct WireListData {
    #[serde(
        default,
        rename = "taskCount",
        alias = "taskcount",
        alias = "totalCount"
    )]
    task_count: Int,
    #[serde(default, rename = "taskList", alias = "tasklist")]
    task_list: OneOrMany<WireSummary>,
}

#[derive(Deserialize)]
struct WireSummary {
    #[serde(default, rename = "jobId", alias = "jobid")]
    job_id: Int,
    #[serde(default, rename = "type")]
    job_type: Int,
    #[serde(default)]
    status: Int,
    #[serde(default)]
    progress: Float,
    #[serde(default, rename = "startTime", alias = "starttime")]
    start: Text,
    #[serde(default, rename = "endTime", alias = "endtime")]
    end: Text,
}

/// Reads the envelope; a non-zero `code` becomes [`ApiError::Api`].
fn check_envelope(body: &[u8]) -> Result<(), ApiError> {
    let head: Head =
        serde_json::from_slice(body).map_err(|e| ApiError::decode(e.to_string(), body))?;
    match head.code.0 {
        Some(0) => Ok(()),
        Some(code) => Err(ApiError::Api {
            code,
            message: head.message.0.or(head.code_desc.0).unwrap_or_default(),
        }),
        None => Err(ApiError::decode("the answer has no `code`", body)),
    }
}

fn parse_data<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<Vec<T>, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize::<_, Body<T>>(de)
        .map(|b| b.data.0)
        .map_err(|e| ApiError::decode(format!("at `{}`: {}", e.path(), e.inner()), body))
}

/// Converts times with field paths in the error, so a bad value is easy to find.
struct Ctx<'a> {
    offset: UtcOffset,
    body: &'a [u8],
}

impl Ctx<'_> {
    fn time(&self, field: &str, t: &Text) -> Result<Option<i64>, ApiError> {
        match &t.0 {
            None => Ok(None),
            Some(s) => parse_local(s, self.offset)
                .map_err(|e| ApiError::decode(format!("at `{field}`: {e}"), self.body)),
        }
    }

    fn required(&self, field: &str, v: Int) -> Result<i64, ApiError> {
        v.0.ok_or_else(|| ApiError::decode(format!("`{field}` is missing"), self.body))
    }

    fn instance(&self, field: &str, w: WireInstance) -> Result<Instance, ApiError> {
        Ok(Instance {
            instance_id: w.instance_id.0.unwrap_or_default(),
            instance_name: w.instance_name.0.unwrap_or_default(),
            strategy: w.strategy.0.unwrap_or_default(),
            rollback_time: self.time(&format!("{field}.rollbacktime"), &w.rollback_time)?,
            operator: w.operator.0.unwrap_or_default(),
            databases: w
                .dbs
                .0
                .into_iter()
                .map(|d| DatabaseRename {
                    name: d.name.0.unwrap_or_default(),
                    new_name: d.new_name.0.unwrap_or_default(),
                })
                .collect(),
        })
    }
}

/// Decodes a `GetCdbRollbackJobTask` answer.
pub fn job_detail(body: &[u8], offset: UtcOffset) -> Result<Job, ApiError> {
    check_envelope(body)?;
    let cx = Ctx { offset, body };
    let data = parse_data::<WireJobData>(body)?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::decode("`data` is empty", body))?;
    let info = data
        .job_info
        .0
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::decode("`data.jobInfo` is missing", body))?;
    let id = cx.required("data.jobInfo.jobId", info.job_id)?;
    let id = u64::try_from(id)
        .map_err(|_| ApiError::decode(format!("`data.jobInfo.jobId` is negative: {id}"), body))?;
    let instances = info
        .detail
        .0
        .into_iter()
        .enumerate()
        .map(|(i, w)| cx.instance(&format!("data.jobInfo.detail[{i}]"), w))
        .collect::<Result<_, _>>()?;
    let tasks = data
        .task_detail
        .0
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let at = format!("data.taskDetail[{i}]");
            let instance = match t.task_info.0.into_iter().next() {
                Some(w) => cx.instance(&format!("{at}.taskInfo"), w)?,
                None => Instance::default(),
            };
            Ok(Task {
                id: t.task_id.0.unwrap_or_else(|| i.to_string()),
                work_id: t.work_id.0.unwrap_or_default(),
                status: Status(cx.required(&format!("{at}.status"), t.status)?),
                progress: progress_ratio(t.progress.0.unwrap_or(0.0)),
                code: t.code.0.unwrap_or(0),
                message: t.message.0.unwrap_or_default(),
                start: cx.time(&format!("{at}.starttime"), &t.start)?,
                end: cx.time(&format!("{at}.endtime"), &t.end)?,
                instance,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Job {
        id,
        job_type: info.job_type.0.unwrap_or(0),
        status: Status(cx.required("data.jobInfo.status", info.status)?),
        progress: progress_ratio(info.progress.0.unwrap_or(0.0)),
        code: info.code.0.unwrap_or(0),
        message: info.message.0.unwrap_or_default(),
        start: cx.time("data.jobInfo.starttime", &info.start)?,
        end: cx.time("data.jobInfo.endtime", &info.end)?,
        instances,
        tasks,
    })
}

/// Decodes a `GetCdbRollbackJob` answer (one page of an instance's jobs).
pub fn job_page(body: &[u8], offset: UtcOffset) -> Result<JobPage, ApiError> {
    check_envelope(body)?;
    let cx = Ctx { offset, body };
    let data = parse_data::<WireListData>(body)?.into_iter().next();
    let Some(data) = data else {
        return Ok(JobPage {
            total: 0,
            jobs: Vec::new(),
        });
    };
    let jobs: Vec<JobSummary> = data
        .task_list
        .0
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let at = format!("data.taskList[{i}]");
            let id = cx.required(&format!("{at}.jobId"), s.job_id)?;
            Ok(JobSummary {
                id: u64::try_from(id).map_err(|_| {
                    ApiError::decode(format!("`{at}.jobId` is negative: {id}"), body)
                })?,
                job_type: s.job_type.0.unwrap_or(0),
                status: Status(cx.required(&format!("{at}.status"), s.status)?),
                progress: progress_ratio(s.progress.0.unwrap_or(0.0)),
                start: cx.time(&format!("{at}.startTime"), &s.start)?,
                end: cx.time(&format!("{at}.endTime"), &s.end)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let total = data
        .task_count
        .0
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(jobs.len() as u64);
    Ok(JobPage { total, jobs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::ErrorKind;
    use crate::rollback::State;

    pub const SEED: &str = include_str!("../../test-data/seed-answer.json");

    #[test]
    fn seed_answer_decodes_verbatim() {
        let job = job_detail(SEED.as_bytes(), UtcOffset::CST).unwrap();
        assert_eq!(job.id, 12782);
        assert_eq!(job.job_type, 10);
        assert_eq!(job.status, Status(2));
        assert_eq!(job.status.state(), State::Success);
        assert_eq!(job.progress, 1.0);
        assert_eq!(job.code, 0);
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
        assert_eq!(task.progress, 1.0);
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
        let a = job_detail(english.as_bytes(), UtcOffset::CST).unwrap();
        let b = job_detail(chinese.as_bytes(), UtcOffset::CST).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.status.state(), State::Running);
        assert_eq!(a.progress, 0.425);
        assert_eq!(a.end, None);
        assert_eq!(a.tasks[0].end, None);
        assert_eq!(a.tasks[0].id, "105");
        assert_eq!(a.instances[0].databases[0].new_name, "b");
    }

    #[test]
    fn timezone_is_configurable() {
        let job = job_detail(SEED.as_bytes(), UtcOffset::UTC).unwrap();
        assert_eq!(job.start, Some(1_462_960_709 + 8 * 3600));
    }

    #[test]
    fn auth_error_is_classified_and_not_retried() {
        let body = br#"{"code":4100,"message":"authentication failed","codeDesc":"AuthFailure"}"#;
        let err = job_detail(body, UtcOffset::CST).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert_eq!(err.retry(), crate::api::error::Retry::Never);
        assert_eq!(err.api_code(), Some(4100));
        let err =
            job_detail(br#"{"code":"5000","message":"","data":[]}"#, UtcOffset::CST).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ApiError);
    }

    #[test]
    fn truncated_and_html_bodies_are_decode_errors() {
        let truncated = &SEED.as_bytes()[..SEED.len() / 2];
        let err = job_detail(truncated, UtcOffset::CST).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        let html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        let err = job_detail(html, UtcOffset::CST).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.to_string().contains("502 Bad Gateway"), "{err}");
    }

    #[test]
    fn bad_values_name_their_field() {
        let body = SEED.replacen(r#""status":"2""#, r#""status":"two""#, 1);
        assert_ne!(body, SEED);
        let err = job_detail(body.as_bytes(), UtcOffset::CST)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("data.jobInfo.status") && err.contains("two"),
            "{err}"
        );
        let body = SEED.replace("2016-05-11 17:58:29", "yesterday");
        let err = job_detail(body.as_bytes(), UtcOffset::CST)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("data.jobInfo.starttime") && err.contains("yesterday"),
            "{err}"
        );
    }

    #[test]
    fn list_page_decodes() {
        let body = r#"{"code":"0","message":"","data":{"taskCount":"130","taskList":[
            {"jobId":"1","type":1,"status":"2","progress":"100","startTime":"2016-05-11 17:58:29","endTime":"2016-05-11 18:00:02",
             "taskContext":{"data":{"operator":"x","uInstanceId":"u","strategy":"db","rollbackTime":"2016-05-10 17:57:56","dbs":[],"tables":[]}}},
            {"jobid":2,"status":1,"progress":5,"starttime":"2016-05-11 17:58:29","endtime":"0000-00-00 00:00:00"}]}}"#;
        let page = job_page(body.as_bytes(), UtcOffset::CST).unwrap();
        assert_eq!(page.total, 130);
        assert_eq!(page.jobs.len(), 2);
        assert_eq!(page.jobs[0].end, Some(1_462_960_802));
        assert_eq!(page.jobs[1].id, 2);
        assert_eq!(page.jobs[1].end, None);
        assert_eq!(page.jobs[1].status.state(), State::Running);
    }
}
