//! `DescribeDBInstances`: a region's CDB instances, up to 2000 a page, with their names,
//! zones, types and tags (the inventory).

use serde_json::{Value, json};

use super::decode::{response, total};
use crate::api::ApiError;
use crate::api::json::{Obj, Reader, as_text, field, parse};
use crate::inventory::{Instance, InstanceType};
use crate::time::UtcOffset;

pub const ACTION: &str = "DescribeDBInstances";
/// The largest `Limit` DescribeDBInstances takes.
pub const PAGE_LIMIT: u64 = 2000;

/// One page of DescribeDBInstances.
#[derive(Clone, Debug, PartialEq)]
pub struct InstancePage {
    pub total: u64,
    /// Rows read from this page: the next page's `Offset` moves by this.
    pub rows: u64,
    pub instances: Vec<Instance>,
}

/// The request body of one page: masters, disaster-recovery and read-only instances alike.
pub fn body(offset: u64, limit: u64) -> Value {
    json!({"Offset": offset, "Limit": limit})
}

/// `TagList`: `{TagKey, TagValue}` objects; entries without a key are skipped.
fn tags(r: &Reader<'_>, o: &Obj, at: &str) -> Result<Vec<(String, String)>, ApiError> {
    Ok(r.objects(o, at, &["TagList", "tagList"])?
        .into_iter()
        .filter_map(|t| {
            let key = field(t, &["TagKey", "tagKey"]).and_then(|(_, v)| as_text(v))?;
            let value = t
                .get("TagValue")
                .or_else(|| t.get("tagValue"))
                .and_then(as_text)
                .unwrap_or_default();
            Some((key, value))
        })
        .collect())
}

fn instance(r: &Reader<'_>, o: &Obj, at: &str) -> Result<Instance, ApiError> {
    let id = r.text(o, &["InstanceId", "instanceId"]);
    if id.trim().is_empty() {
        return Err(r.fail(format!("`{at}.InstanceId` is missing")));
    }
    Ok(Instance {
        id: id.trim().to_string(),
        name: r.text(o, &["InstanceName", "instanceName"]),
        zone: r.text(o, &["Zone", "zone"]),
        instance_type: r
            .int(o, at, &["InstanceType", "instanceType"])?
            .map(InstanceType::from_code),
        engine_version: r.text(o, &["EngineVersion", "engineVersion"]),
        project_id: r.int(o, at, &["ProjectId", "projectId"])?,
        status: r.int(o, at, &["Status", "status"])?,
        tags: tags(r, o, at)?,
    })
}

/// Decodes a DescribeDBInstances answer.
pub fn instances_page(body: &[u8]) -> Result<InstancePage, ApiError> {
    let r = Reader {
        body,
        offset: UtcOffset::CST,
    };
    let top = parse(body)?;
    let resp = response(&r, &top)?;
    let items = r.objects(resp, "Response", &["Items", "items"])?;
    let instances = items
        .iter()
        .enumerate()
        .map(|(i, o)| instance(&r, o, &format!("Response.Items[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(InstancePage {
        total: total(&r, resp)?,
        rows: items.len() as u64,
        instances,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorKind;

    #[test]
    fn an_instance_with_tags_and_one_without() {
        let body = r#"{"Response":{"TotalCount":3,"Items":[
            {"InstanceId":"cdb-c1nl9rpv","InstanceName":"orders-prod-primary","Region":"ap-guangzhou",
             "Zone":"ap-guangzhou-3","ZoneId":100003,"InstanceType":1,"EngineVersion":"8.0",
             "ProjectId":0,"Status":1,"TaskStatus":6,
             "TagList":[{"TagKey":"team","TagValue":"payments"},{"TagKey":"负责人","TagValue":"张三"}]},
            {"InstanceId":"cdb-ro000001","InstanceName":"","Zone":"ap-guangzhou-4",
             "InstanceType":"3","EngineVersion":"5.7","ProjectId":"1001","TagList":null}],
            "RequestId":"r-1"}}"#;
        let p = instances_page(body.as_bytes()).unwrap();
        assert_eq!((p.total, p.rows), (3, 2));
        let a = &p.instances[0];
        assert_eq!(a.name, "orders-prod-primary");
        assert_eq!(a.instance_type, Some(InstanceType::Master));
        assert_eq!((a.project_id, a.status), (Some(0), Some(1)));
        assert_eq!(a.tag("负责人"), Some("张三"));
        assert_eq!(a.tag("Team"), None, "keys compare exactly");
        let b = &p.instances[1];
        assert_eq!(b.instance_type, Some(InstanceType::Ro));
        assert_eq!(b.project_id, Some(1001));
        assert!(b.tags.is_empty());
    }

    #[test]
    fn errors_and_broken_rows() {
        let err = r#"{"Response":{"Error":{"Code":"UnauthorizedOperation","Message":"no"},"RequestId":"r"}}"#;
        let e = instances_page(err.as_bytes()).unwrap_err();
        assert_eq!(e.api_code(), Some("UnauthorizedOperation"));
        let no_id = r#"{"Response":{"TotalCount":1,"Items":[{"InstanceName":"x"}]}}"#;
        let e = instances_page(no_id.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(e.to_string().contains("Items[0].InstanceId"), "{e}");
        let bad_type = r#"{"Response":{"TotalCount":1,"Items":[{"InstanceId":"cdb-1","InstanceType":"master"}]}}"#;
        assert_eq!(
            instances_page(bad_type.as_bytes()).unwrap_err().kind(),
            ErrorKind::Decode
        );
    }
}
