//! The simulated API 3.0 (`POST /`): checks TC3-HMAC-SHA256 signatures and the clock,
//! and answers DescribeTasks and DescribeRollbackTaskDetail from the same story as the v2
//! simulator (and DescribeDBInstances from [`super::inventory`]),
//! in the shapes of the reference: errors inside HTTP 200, status names,
//! progress in percent, zero dates. It ignores `TaskTypes` on purpose and mixes other
//! task types into every listing, so that the exporter's own filter is what keeps them out.

use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use super::story::{
    Answer, DEMO_SECRET_ID, DEMO_SECRET_KEY, INSTANCES, MAX_SKEW, REGION, SimJob, SimTask, View,
    jobs_at,
};
use crate::net::tc3;
use crate::time::{UtcOffset, format_local, parse_local};

fn error(code: &str, message: &str, request_id: &str) -> Value {
    json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}})
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Checks the signature as Tencent describes it; `Err((code, message))` as the API says.
pub fn verify(headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), (&'static str, String)> {
    let auth = header_text(headers, header::AUTHORIZATION.as_str());
    let rest = auth.strip_prefix("TC3-HMAC-SHA256 ").ok_or((
        "AuthFailure.SignatureFailure",
        "not a TC3-HMAC-SHA256 signature".to_string(),
    ))?;
    let part = |key: &str| {
        rest.split(", ")
            .find_map(|p| p.strip_prefix(key))
            .unwrap_or_default()
    };
    let credential: Vec<&str> = part("Credential=").split('/').collect();
    let [id, date, service, "tc3_request"] = credential[..] else {
        return Err((
            "AuthFailure.SignatureFailure",
            "malformed Credential".into(),
        ));
    };
    if id != DEMO_SECRET_ID {
        return Err((
            "AuthFailure.SecretIdNotFound",
            format!("SecretId {id} does not exist"),
        ));
    }
    let ts = header_text(headers, "x-tc-timestamp");
    let timestamp: u64 = ts
        .parse()
        .map_err(|_| ("MissingParameter", "X-TC-Timestamp is missing".to_string()))?;
    if now.abs_diff(timestamp as i64) > MAX_SKEW as u64 {
        return Err((
            "AuthFailure.SignatureExpire",
            format!("X-TC-Timestamp {ts} is too far from the server's clock"),
        ));
    }
    let request = tc3::Request {
        service,
        host: header_text(headers, header::HOST.as_str()),
        content_type: header_text(headers, header::CONTENT_TYPE.as_str()),
        body,
        timestamp,
    };
    let signature = tc3::signature(DEMO_SECRET_KEY, &request);
    if date != tc3::date(timestamp)
        || service != "cdb"
        || part("SignedHeaders=") != tc3::SIGNED_HEADERS
        || part("Signature=") != signature
    {
        return Err(("AuthFailure.SignatureFailure", "signature mismatch".into()));
    }
    Ok(())
}

/// Answers one request, given what arrived on the wire.
pub fn answer(t0: i64, headers: &HeaderMap, body: &[u8], now: i64) -> Value {
    let request_id = format!("demo-{now}-{}", fastrand::u32(..));
    if let Err((code, message)) = verify(headers, body, now) {
        return error(code, &message, &request_id);
    }
    if header_text(headers, "x-tc-version") != crate::api::v3::VERSION {
        return error(
            "InvalidParameterValue",
            "X-TC-Version must be 2017-03-20",
            &request_id,
        );
    }
    let Ok(params) = serde_json::from_slice::<Value>(body) else {
        return error("InvalidParameter", "the body is not JSON", &request_id);
    };
    let region = header_text(headers, "x-tc-region");
    let jobs = if region == REGION {
        jobs_at(t0, now)
    } else {
        Vec::new()
    };
    let result = match header_text(headers, "x-tc-action") {
        "DescribeTasks" => describe_tasks(&jobs, &params, now),
        "DescribeRollbackTaskDetail" => rollback_detail(&jobs, &params, now),
        "DescribeRollbackRangeTime" => {
            let fleet = &super::inventory::FLEET;
            let known = |id: &str| region == REGION && fleet.iter().any(|i| i.id == id);
            super::ranges::rollback_range_time(&jobs, &params, &known, now)
        }
        "DescribeDBInstances" => super::inventory::describe_db_instances(&params, region == REGION),
        other => Err((
            "InvalidAction",
            format!("action {other} is not supported by the simulator"),
        )),
    };
    match result {
        Ok(mut v) => {
            v["RequestId"] = json!(request_id);
            json!({ "Response": v })
        }
        Err((code, message)) => error(code, &message, &request_id),
    }
}

fn time(t: Option<i64>) -> String {
    t.map_or_else(
        || "0000-00-00 00:00:00".into(),
        |t| format_local(t, UtcOffset::CST),
    )
}

/// The status names: DescribeTasks says `SUCCEED`, DescribeRollbackTaskDetail `SUCCESS`.
fn status_name(status: i64, success: &'static str) -> &'static str {
    match status {
        0 => "INITIAL",
        1 => "RUNNING",
        2 => success,
        3 => "FAILED",
        _ => "UNDEFINED",
    }
}

pub fn async_request_id(job_id: u64) -> String {
    format!("{job_id:08x}-2a1c-4d5e-9f00-demo{job_id:08}")
}

fn page(params: &Value) -> Result<(usize, usize), (&'static str, String)> {
    let offset = params["Offset"].as_u64().unwrap_or(0) as usize;
    let limit = params["Limit"].as_u64().unwrap_or(20) as usize;
    if limit > 100 {
        return Err((
            "InvalidParameterValue",
            format!("Limit {limit} is above 100"),
        ));
    }
    Ok((offset, limit))
}

/// Tasks of other types, listed whatever `TaskTypes` asks: the exporter must skip them.
fn other_tasks(t0: i64) -> Vec<Value> {
    (0..3)
        .map(|k| {
            let kind = ["RESTART", "MODIFY PARAM", "UPGRADE"][k as usize];
            json!({"JobId": 90001 + k, "AsyncRequestId": "", "TaskType": kind,
                   "TaskStatus": "RUNNING", "Progress": 10, "Code": 0, "Message": "",
                   "StartTime": time(Some(t0 - 60 * k)), "EndTime": time(None),
                   "InstanceIds": [INSTANCES[k as usize].id], "TaskAttachInfo": []})
        })
        .collect()
}

fn task_row(j: &SimJob, v: &View) -> Value {
    let instances: Vec<&str> = j.instances().map(|i| INSTANCES[i].id).collect();
    json!({
        "JobId": j.id, "AsyncRequestId": async_request_id(j.id),
        "TaskType": if instances.len() > 1 { "BATCH ROLLBACK" } else { "ROLLBACK" },
        "TaskStatus": status_name(v.status, "SUCCEED"), "Progress": v.progress,
        "Code": v.code, "Message": v.message, "StartTime": time(v.start), "EndTime": time(v.end),
        "InstanceIds": instances, "TaskAttachInfo": [],
    })
}

pub fn describe_tasks(jobs: &[SimJob], params: &Value, now: i64) -> Answer {
    let (offset, limit) = page(params)?;
    let instance = params["InstanceId"].as_str();
    let async_id = params["AsyncRequestId"].as_str();
    let statuses: Option<Vec<i64>> = params["TaskStatus"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect());
    let since = match params["StartTimeBegin"].as_str() {
        Some(s) => parse_local(s, UtcOffset::CST)
            .map_err(|e| ("InvalidParameterValue", format!("StartTimeBegin: {e}")))?,
        None => None,
    };
    let mut rows: Vec<(i64, Value)> = Vec::new();
    for j in jobs {
        let v = j.view(now);
        let Some(start) = v.start else { continue };
        let keep = instance.is_none_or(|i| j.instances().any(|k| INSTANCES[k].id == i))
            && async_id.is_none_or(|a| a == async_request_id(j.id))
            && statuses.as_ref().is_none_or(|s| s.contains(&v.status))
            && since.is_none_or(|t| start >= t);
        if keep {
            rows.push((start, task_row(j, &v)));
        }
    }
    if async_id.is_none() && instance.is_none() && !jobs.is_empty() {
        let t0 = jobs
            .iter()
            .filter_map(|j| j.tasks.first())
            .map(|t| t.start)
            .max()
            .unwrap_or(now);
        rows.extend(other_tasks(t0.min(now)).into_iter().map(|v| (now, v)));
    }
    rows.sort_by_key(|(start, v)| (std::cmp::Reverse(*start), v["JobId"].as_u64()));
    let total = rows.len();
    let items: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    Ok(json!({"TotalCount": total, "Items": items}))
}

fn instance_detail(task: &SimTask) -> Value {
    let inst = &INSTANCES[task.instance];
    let db = format!("{}_main", inst.name.trim_end_matches("-db"));
    let tables: Vec<Value> = (1..=1 + task.instance)
        .map(|k| json!({"TableName": format!("t{k}"), "NewTableName": format!("t{k}_bak")}))
        .collect();
    json!({"InstanceId": inst.id, "Strategy": "table", "RollbackTime": time(Some(task.target())),
           "Databases": [{"DatabaseName": db, "NewDatabaseName": format!("{db}_bak")}],
           "Tables": [{"Database": db, "Table": tables}]})
}

pub fn rollback_detail(jobs: &[SimJob], params: &Value, now: i64) -> Answer {
    let (offset, limit) = page(params)?;
    let Some(instance) = params["InstanceId"].as_str() else {
        return Err(("MissingParameter", "InstanceId is required".into()));
    };
    let Some(index) = INSTANCES.iter().position(|i| i.id == instance) else {
        return Err((
            "ResourceNotFound.InstanceNotFound",
            format!("instance {instance} does not exist"),
        ));
    };
    let async_id = params["AsyncRequestId"].as_str();
    let mut items: Vec<(i64, Value)> = Vec::new();
    for j in jobs {
        if async_id.is_some_and(|a| a != async_request_id(j.id)) {
            continue;
        }
        let Some(task) = j.tasks.iter().find(|t| t.instance == index) else {
            continue;
        };
        let v = task.view(now);
        let Some(start) = v.start else { continue };
        let detail: Vec<Value> = j.tasks.iter().map(instance_detail).collect();
        items.push((start, json!({
            "Status": status_name(v.status, "SUCCESS"), "Progress": v.progress,
            "StartTime": time(v.start), "EndTime": time(v.end), "Info": v.message, "Detail": detail,
        })));
    }
    items.sort_by_key(|(start, _)| std::cmp::Reverse(*start));
    let total = items.len();
    let items: Vec<Value> = items
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    // The API writes a missing list as null.
    let items = if items.is_empty() {
        Value::Null
    } else {
        Value::Array(items)
    };
    Ok(json!({"TotalCount": total, "Items": items}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v3::decode;
    use crate::net::tc3::CONTENT_TYPE;
    use crate::rollback::State;

    fn signed(action: &str, body: &str, key: &str, ts: i64) -> HeaderMap {
        let host = "127.0.0.1:1";
        let r = tc3::Request {
            service: "cdb",
            host,
            content_type: CONTENT_TYPE,
            body: body.as_bytes(),
            timestamp: ts as u64,
        };
        let mut h = HeaderMap::new();
        let auth = tc3::authorization(DEMO_SECRET_ID, key, &r);
        for (k, v) in [
            ("authorization", auth.as_str()),
            ("host", host),
            ("content-type", CONTENT_TYPE),
            ("x-tc-action", action),
            ("x-tc-version", "2017-03-20"),
            ("x-tc-region", REGION),
            ("x-tc-timestamp", &ts.to_string()),
        ] {
            h.insert(k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn signatures_and_clock_are_checked() {
        let now = 2_000_000_000;
        let body = r#"{"Limit":100}"#;
        let ok = answer(
            now,
            &signed("DescribeTasks", body, DEMO_SECRET_KEY, now),
            body.as_bytes(),
            now,
        );
        assert!(ok["Response"]["Error"].is_null(), "{ok}");
        let bad = answer(
            now,
            &signed("DescribeTasks", body, "wrong", now),
            body.as_bytes(),
            now,
        );
        assert_eq!(
            bad["Response"]["Error"]["Code"],
            "AuthFailure.SignatureFailure"
        );
        let tampered = answer(
            now,
            &signed("DescribeTasks", body, DEMO_SECRET_KEY, now),
            b"{\"Limit\":99}",
            now,
        );
        assert_eq!(
            tampered["Response"]["Error"]["Code"],
            "AuthFailure.SignatureFailure"
        );
        let old = answer(
            now,
            &signed("DescribeTasks", body, DEMO_SECRET_KEY, now - 301),
            body.as_bytes(),
            now,
        );
        assert_eq!(
            old["Response"]["Error"]["Code"],
            "AuthFailure.SignatureExpire"
        );
    }

    #[test]
    fn listing_pages_past_100_and_mixes_in_other_tasks() {
        let t0 = 2_000_000_000;
        let jobs = jobs_at(t0, t0 + 10);
        let first = describe_tasks(&jobs, &json!({"Offset": 0, "Limit": 100}), t0 + 10).unwrap();
        let total = first["TotalCount"].as_u64().unwrap();
        assert!(total > 100, "{total}");
        let body = json!({"Response": first}).to_string();
        let p = decode::tasks_page(body.as_bytes(), UtcOffset::CST).unwrap();
        assert_eq!(p.rows, 100);
        let all: Vec<Value> = (0..2)
            .flat_map(|k| {
                let v = describe_tasks(&jobs, &json!({"Offset": k * 100, "Limit": 100}), t0 + 10)
                    .unwrap();
                v["Items"].as_array().cloned().unwrap_or_default()
            })
            .collect();
        assert_eq!(all.len() as u64, total);
        assert!(all.iter().any(|v| v["TaskType"] == "RESTART"));
        let batch = all.iter().find(|v| v["JobId"] == 30004).unwrap();
        assert_eq!(batch["TaskType"], "BATCH ROLLBACK");
        assert_eq!(batch["InstanceIds"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn detail_of_the_failing_instance() {
        let t0 = 2_000_000_000;
        let jobs = jobs_at(t0, t0 + 60);
        let q = json!({"InstanceId": INSTANCES[2].id, "AsyncRequestId": async_request_id(30004)});
        let v = rollback_detail(&jobs, &q, t0 + 60).unwrap();
        let body = json!({"Response": v}).to_string();
        let t = decode::rollback_detail(body.as_bytes(), UtcOffset::CST, INSTANCES[2].id)
            .unwrap()
            .task
            .unwrap();
        assert_eq!(t.status.state(), State::Failed);
        assert_eq!(t.instance.tables, Some(3));
        let q = json!({"InstanceId": INSTANCES[1].id, "AsyncRequestId": async_request_id(30004)});
        let v = rollback_detail(&jobs, &q, t0 + 60).unwrap();
        let body = json!({"Response": v}).to_string();
        let t = decode::rollback_detail(body.as_bytes(), UtcOffset::CST, INSTANCES[1].id)
            .unwrap()
            .task
            .unwrap();
        assert_eq!(t.status.state(), State::Success);
    }
}
