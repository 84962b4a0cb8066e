//! Reading the API's JSON whatever shape it comes in: numbers as numbers or strings, a
//! field under any of its spellings, one object or an array of them, unset times.
//! Both API versions decode through this; a value that is really wrong fails with the
//! field's path named.

use serde_json::{Map, Value};

use super::error::ApiError;
use crate::rollback::span;
use crate::time::{UtcOffset, parse_local};

pub type Obj = Map<String, Value>;

/// Whether a value counts as "not given": null or an empty string.
pub fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The first spelling present with a value, and the name it was found under.
pub fn field<'v>(o: &'v Obj, names: &[&'static str]) -> Option<(&'static str, &'v Value)> {
    names
        .iter()
        .find_map(|n| o.get(*n).filter(|v| !is_blank(v)).map(|v| (*n, v)))
}

fn float_to_int(v: f64) -> Option<i64> {
    (v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15).then_some(v as i64)
}

pub fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(float_to_int)),
        Value::String(s) => {
            let t = s.trim();
            t.parse()
                .ok()
                .or_else(|| t.parse::<f64>().ok().and_then(float_to_int))
        }
        _ => None,
    }
}

pub fn as_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads fields of one answer, naming the field's path in every error.
pub struct Reader<'a> {
    pub body: &'a [u8],
    pub offset: UtcOffset,
}

impl Reader<'_> {
    pub fn fail(&self, reason: String) -> ApiError {
        ApiError::decode(reason, self.body)
    }

    pub fn bad(&self, at: &str, name: &str, v: &Value, want: &str) -> ApiError {
        self.fail(format!("at `{at}.{name}`: {v} is not {want}"))
    }

    pub fn int(&self, o: &Obj, at: &str, names: &[&'static str]) -> Result<Option<i64>, ApiError> {
        match field(o, names) {
            None => Ok(None),
            Some((n, v)) => as_int(v)
                .map(Some)
                .ok_or_else(|| self.bad(at, n, v, "an integer")),
        }
    }

    pub fn required(&self, o: &Obj, at: &str, names: &[&'static str]) -> Result<i64, ApiError> {
        self.int(o, at, names)?
            .ok_or_else(|| self.fail(format!("`{at}.{}` is missing", names[0])))
    }

    pub fn id(&self, o: &Obj, at: &str, names: &[&'static str]) -> Result<u64, ApiError> {
        let id = self.required(o, at, names)?;
        u64::try_from(id).map_err(|_| self.fail(format!("`{at}.{}` is negative: {id}", names[0])))
    }

    pub fn float(
        &self,
        o: &Obj,
        at: &str,
        names: &[&'static str],
    ) -> Result<Option<f64>, ApiError> {
        match field(o, names) {
            None => Ok(None),
            Some((n, v)) => as_float(v)
                .map(Some)
                .ok_or_else(|| self.bad(at, n, v, "a number")),
        }
    }

    pub fn text(&self, o: &Obj, names: &[&'static str]) -> String {
        field(o, names)
            .and_then(|(_, v)| as_text(v))
            .unwrap_or_default()
    }

    pub fn time(&self, o: &Obj, at: &str, names: &[&'static str]) -> Result<Option<i64>, ApiError> {
        match field(o, names) {
            None => Ok(None),
            Some((n, Value::String(s))) => {
                parse_local(s, self.offset).map_err(|e| self.fail(format!("at `{at}.{n}`: {e}")))
            }
            Some((n, v)) => Err(self.bad(at, n, v, "a time")),
        }
    }

    /// A start and an end time, ordered as the model keeps them ([`span`]).
    pub fn span(
        &self,
        o: &Obj,
        at: &str,
        start: &[&'static str],
        end: &[&'static str],
    ) -> Result<(Option<i64>, Option<i64>), ApiError> {
        Ok(span(self.time(o, at, start)?, self.time(o, at, end)?))
    }

    /// An array of objects, a single object, or nothing.
    pub fn objects<'v>(
        &self,
        o: &'v Obj,
        at: &str,
        names: &[&'static str],
    ) -> Result<Vec<&'v Obj>, ApiError> {
        match field(o, names) {
            None => Ok(Vec::new()),
            Some((_, Value::Object(one))) => Ok(vec![one]),
            Some((n, Value::Array(items))) => items
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_null())
                .map(|(i, v)| {
                    v.as_object()
                        .ok_or_else(|| self.bad(at, &format!("{n}[{i}]"), v, "an object"))
                })
                .collect(),
            Some((n, v)) => Err(self.bad(at, n, v, "an object or an array")),
        }
    }
}

pub fn parse(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::decode(format!("not JSON: {e}"), body))
}
