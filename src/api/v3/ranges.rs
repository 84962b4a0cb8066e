//! `DescribeRollbackRangeTime`: the times instances can be rolled back to, several
//! instances a request. Field names and types are the official SDK's
//! (`InstanceRollbackRangeTime`, `RollbackTimeRange`); times are local wall-clock strings
//! like every other v3 time.

use serde_json::{Value, json};

use super::decode::{response, total};
use crate::api::error::ApiError;
use crate::api::json::{Reader, parse};
use crate::readiness::Range;
use crate::time::UtcOffset;

pub const ACTION: &str = "DescribeRollbackRangeTime";
/// The documented limit is 20 requests/s per account: stay under it.
pub const RATE: f64 = 18.0;
/// Instances per request to start with; the docs give no maximum.
pub const BATCH: usize = 100;

/// One instance's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeItem {
    pub instance_id: String,
    /// 0 fine; 1600009 instance not found, 1624001 database access error, ...
    pub code: i64,
    pub message: String,
    /// As listed: not merged, not checked.
    pub times: Vec<Range>,
    /// Ranges with a begin or an end unset, left out of `times`.
    pub unset: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangePage {
    pub total: u64,
    pub items: Vec<RangeItem>,
}

pub fn body(instance_ids: &[String]) -> Value {
    json!({ "InstanceIds": instance_ids })
}

/// Decodes an answer; items without an `InstanceId` are left out.
pub fn ranges_page(body: &[u8], offset: UtcOffset) -> Result<RangePage, ApiError> {
    let r = Reader { body, offset };
    let top = parse(body)?;
    let resp = response(&r, &top)?;
    let mut items = Vec::new();
    for (i, o) in r
        .objects(resp, "Response", &["Items"])?
        .into_iter()
        .enumerate()
    {
        let at = format!("Response.Items[{i}]");
        let instance_id = r.text(o, &["InstanceId"]).trim().to_string();
        if instance_id.is_empty() {
            continue;
        }
        let (mut times, mut unset) = (Vec::new(), 0);
        for (k, t) in r.objects(o, &at, &["Times"])?.into_iter().enumerate() {
            let at = format!("{at}.Times[{k}]");
            match (r.time(t, &at, &["Begin"])?, r.time(t, &at, &["End"])?) {
                (Some(begin), Some(end)) => times.push(Range { begin, end }),
                _ => unset += 1,
            }
        }
        items.push(RangeItem {
            instance_id,
            code: r.int(o, &at, &["Code"])?.unwrap_or(0),
            message: r.text(o, &["Message"]),
            times,
            unset,
        });
    }
    Ok(RangePage {
        total: total(&r, resp)?,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::ErrorKind;

    #[test]
    fn the_reference_example_decodes() {
        let body = r#"{"Response":{"TotalCount":2,"Items":[
            {"InstanceId":"cdb-fix44sxh","Message":"ok","Code":0,
             "Times":[{"Begin":"2017-08-21 02:06:20","End":"2017-08-25 17:52:05"}]},
            {"InstanceId":"cdb-2","Message":"db access error","Code":1624001,"Times":null}],
            "RequestId":"r"}}"#;
        let p = ranges_page(body.as_bytes(), UtcOffset::CST).unwrap();
        assert_eq!(p.total, 2);
        let a = &p.items[0];
        assert_eq!((a.instance_id.as_str(), a.code), ("cdb-fix44sxh", 0));
        // 2017-08-21 02:06:20 +08:00 is 2017-08-20 18:06:20 UTC.
        assert_eq!(
            a.times,
            [Range {
                begin: 1_503_252_380,
                end: 1_503_654_725
            }]
        );
        let b = &p.items[1];
        assert_eq!((b.code, b.message.as_str()), (1_624_001, "db access error"));
        assert!(b.times.is_empty());
    }

    #[test]
    fn unset_times_are_counted_not_kept() {
        let body = r#"{"Response":{"TotalCount":1,"Items":[{"InstanceId":"cdb-1","Code":"0",
            "Times":[{"Begin":"2026-11-28 10:00:00","End":""},{"Begin":"2026-11-27 10:00:00","End":"2026-11-28 09:00:00"}]},
            {"Code":0,"Times":[]}],"RequestId":"r"}}"#;
        let p = ranges_page(body.as_bytes(), UtcOffset::CST).unwrap();
        assert_eq!(p.items.len(), 1, "an item without an id is left out");
        assert_eq!((p.items[0].times.len(), p.items[0].unset), (1, 1));
    }

    #[test]
    fn bad_answers_are_errors() {
        let body = br#"{"Response":{"Error":{"Code":"InvalidParameter","Message":"too many"},"RequestId":"r"}}"#;
        let e = ranges_page(body, UtcOffset::CST).unwrap_err();
        assert_eq!(e.api_code(), Some("InvalidParameter"));
        let body = br#"{"Response":{"Items":[{"InstanceId":"cdb-1","Times":[{"Begin":"yesterday","End":"2026-11-28 09:00:00"}]}]}}"#;
        let e = ranges_page(body, UtcOffset::CST).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(e.to_string().contains("Times[0].Begin"), "{e}");
    }

    #[test]
    fn the_request_lists_the_ids() {
        let ids = vec!["cdb-1".to_string(), "cdb-2".to_string()];
        assert_eq!(body(&ids), json!({"InstanceIds": ["cdb-1", "cdb-2"]}));
    }
}
