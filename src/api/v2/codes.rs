//! v2's error table: numeric codes, their kind and retry policy.

use crate::api::error::{ErrorKind, Retry};

/// Kind and retry policy of a v2 error code.
pub fn classify(code: i64) -> (ErrorKind, Retry) {
    match code {
        4100..=4110 | 4300 => (ErrorKind::Auth, Retry::Never),
        4400 => (ErrorKind::Throttled, Retry::Backoff),
        4500 => (ErrorKind::ApiError, Retry::Immediate),
        6000 | 6200 => (ErrorKind::ApiError, Retry::Backoff),
        _ => (ErrorKind::ApiError, Retry::Never),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Code(i64);

    impl Code {
        fn kind(&self) -> ErrorKind {
            classify(self.0).0
        }
        fn retry(&self) -> Retry {
            classify(self.0).1
        }
    }

    fn api(code: i64) -> Code {
        Code(code)
    }

    #[test]
    fn classification_follows_the_error_table() {
        for code in [4100, 4101, 4102, 4103, 4104, 4105, 4110, 4300] {
            assert_eq!(api(code).kind(), ErrorKind::Auth, "{code}");
            assert_eq!(api(code).retry(), Retry::Never, "{code}");
        }
        for code in [4000, 5000, 6100, 9003, 9590] {
            assert_eq!(api(code).kind(), ErrorKind::ApiError, "{code}");
            assert_eq!(api(code).retry(), Retry::Never, "{code}");
        }
        for code in [4400, 6000, 6200] {
            assert_eq!(api(code).retry(), Retry::Backoff, "{code}");
        }
        assert_eq!(api(4400).kind(), ErrorKind::Throttled);
        assert_eq!(api(4500).retry(), Retry::Immediate);
    }
}
