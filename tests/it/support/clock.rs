//! The one clock of the fakes and tests: Unix seconds now, and times as the API writes
//! them.

use cdb_rollback_exporter::time::{UtcOffset, format_local};

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `unix` seconds as China Standard Time text, as the API writes times.
pub fn cst(unix: i64) -> String {
    format_local(unix, UtcOffset::CST)
}
