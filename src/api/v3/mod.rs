//! Tencent Cloud API 3.0 (`cdb.tencentcloudapi.com`, version 2017-03-20): JSON over POST,
//! signed with TC3-HMAC-SHA256. `DescribeTasks` lists a region's rollback jobs 100 at a
//! time; `DescribeRollbackTaskDetail` gives one instance's part of a job;
//! `DescribeDBInstances` lists the instances themselves (the inventory);
//! `DescribeRollbackRangeTime` the times instances can be rolled back to.

pub mod codes;
pub mod decode;
pub mod instances;
pub mod ranges;

use std::sync::Arc;

use serde_json::{Map, Value, json};

pub use self::decode::{DetailPage, TaskPage};
pub use self::instances::InstancePage;
pub use self::ranges::RangePage;
use super::transport::Call;
use super::{
    ApiError, BuildError, ClientConfig, Credentials, CredentialsHandle, Priority, Recorder,
    RequestBudget, Transport,
};
use crate::net::tc3::{Target, request};
use crate::time::{UtcOffset, format_local};

pub const DEFAULT_ENDPOINT: &str = "https://cdb.tencentcloudapi.com/";
pub const VERSION: &str = "2017-03-20";
pub const ACTIONS: [&str; 4] = [
    "DescribeTasks",
    "DescribeRollbackTaskDetail",
    instances::ACTION,
    ranges::ACTION,
];
/// The largest `Limit` the two rollback job actions take.
pub const PAGE_LIMIT: u64 = 100;
/// `TaskTypes` of rollbacks: 1 a database rollback, 10 a batch rollback.
pub const ROLLBACK_TYPES: [i64; 2] = [1, 10];
/// DescribeRollbackTaskDetail's own limit is 20 requests/s per account: stay under it
/// whatever `api.max_requests_per_second` allows.
pub const DETAIL_RATE: f64 = 18.0;
/// A DescribeTasks request: rollback jobs of a region, optionally narrowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskQuery {
    pub instance_id: Option<String>,
    pub async_request_id: Option<String>,
    /// `TaskStatus` numbers to keep; empty keeps all.
    pub statuses: Vec<i64>,
    /// Unix time: only jobs started at or after it.
    pub start_begin: Option<i64>,
    pub offset: u64,
}

impl TaskQuery {
    fn body(&self, tz: UtcOffset) -> Value {
        let mut o = Map::new();
        o.insert("TaskTypes".into(), json!(ROLLBACK_TYPES));
        if let Some(id) = &self.instance_id {
            o.insert("InstanceId".into(), json!(id));
        }
        if let Some(id) = &self.async_request_id {
            o.insert("AsyncRequestId".into(), json!(id));
        }
        if !self.statuses.is_empty() {
            o.insert("TaskStatus".into(), json!(self.statuses));
        }
        if let Some(t) = self.start_begin {
            o.insert("StartTimeBegin".into(), json!(format_local(t, tz)));
        }
        o.insert("Offset".into(), json!(self.offset));
        o.insert("Limit".into(), json!(PAGE_LIMIT));
        Value::Object(o)
    }
}

/// The signed v3 client, for every region. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Client {
    transport: Transport,
    timezone: UtcOffset,
    detail_budget: RequestBudget,
    /// DescribeRollbackRangeTime's own limit, held like the detail's.
    range_budget: RequestBudget,
}

impl Client {
    pub fn new(
        cfg: &ClientConfig,
        creds: CredentialsHandle,
        recorder: Arc<dyn Recorder>,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            transport: Transport::new(&cfg.transport(), creds, recorder)?,
            timezone: cfg.timezone,
            detail_budget: RequestBudget::per_second(DETAIL_RATE),
            range_budget: RequestBudget::per_second(ranges::RATE),
        })
    }

    /// One page of a region's rollback jobs.
    pub async fn describe_tasks(
        &self,
        region: &str,
        query: &TaskQuery,
        priority: Priority,
    ) -> Result<TaskPage, ApiError> {
        let tz = self.timezone;
        let body = query.body(tz);
        self.call(ACTIONS[0], region, priority, &body, |b| {
            decode::tasks_page(b, tz)
        })
        .await
    }

    /// One instance's part of a rollback job.
    pub async fn rollback_task_detail(
        &self,
        region: &str,
        instance_id: &str,
        async_request_id: &str,
        priority: Priority,
    ) -> Result<DetailPage, ApiError> {
        let tz = self.timezone;
        self.detail_budget.acquire(Priority::Normal).await;
        let mut body = json!({"InstanceId": instance_id, "Offset": 0, "Limit": PAGE_LIMIT});
        if !async_request_id.is_empty() {
            body["AsyncRequestId"] = json!(async_request_id);
        }
        self.call(ACTIONS[1], region, priority, &body, |b| {
            decode::rollback_detail(b, tz, instance_id)
        })
        .await
    }

    /// The times some instances of a region can be rolled back to.
    pub async fn rollback_range_time(
        &self,
        region: &str,
        instance_ids: &[String],
        priority: Priority,
    ) -> Result<RangePage, ApiError> {
        let tz = self.timezone;
        self.range_budget.acquire(Priority::Normal).await;
        let body = ranges::body(instance_ids);
        self.call(ranges::ACTION, region, priority, &body, |b| {
            ranges::ranges_page(b, tz)
        })
        .await
    }

    /// One page of a region's instances (the inventory), `limit` at most 2000.
    pub async fn describe_db_instances(
        &self,
        region: &str,
        offset: u64,
        limit: u64,
        priority: Priority,
    ) -> Result<InstancePage, ApiError> {
        let body = instances::body(offset, limit.clamp(1, instances::PAGE_LIMIT));
        self.call(
            ACTIONS[2],
            region,
            priority,
            &body,
            instances::instances_page,
        )
        .await
    }

    async fn call<T>(
        &self,
        action: &'static str,
        region: &str,
        priority: Priority,
        body: &Value,
        decode: impl Fn(&[u8]) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let bytes = body.to_string().into_bytes();
        let target = Target {
            service: "cdb",
            version: VERSION,
            host: self.transport.host(),
        };
        let url = self.transport.endpoint().clone();
        let build = |http: &reqwest::Client, creds: &Credentials, timestamp: u64| {
            request(
                http,
                url.clone(),
                target,
                action,
                region,
                bytes.clone(),
                Some(creds.keys()),
                timestamp,
            )
        };
        let call = Call {
            action,
            region,
            priority,
        };
        self.transport.call(call, build, decode).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_query_body() {
        let q = TaskQuery {
            statuses: vec![0, 1],
            start_begin: Some(1_795_831_200),
            offset: 200,
            ..TaskQuery::default()
        };
        assert_eq!(
            q.body(UtcOffset::CST),
            json!({"TaskTypes": [1, 10], "TaskStatus": [0, 1],
                   "StartTimeBegin": "2026-11-28 10:00:00", "Offset": 200, "Limit": 100})
        );
        let q = TaskQuery {
            instance_id: Some("cdb-1".into()),
            async_request_id: Some("a-1".into()),
            ..TaskQuery::default()
        };
        assert_eq!(
            q.body(UtcOffset::CST),
            json!({"TaskTypes": [1, 10], "InstanceId": "cdb-1", "AsyncRequestId": "a-1",
                   "Offset": 0, "Limit": 100})
        );
    }
}
