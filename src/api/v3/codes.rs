//! v3's error table: dotted string codes, their kind and retry policy.

use crate::api::error::{ErrorKind, Retry};

/// Kind and retry policy of a v3 error code, judged on its first part.
pub fn classify(code: &str) -> (ErrorKind, Retry) {
    let head = code.split('.').next().unwrap_or(code);
    match head {
        "RequestLimitExceeded" => (ErrorKind::Throttled, Retry::Backoff),
        "InternalError" | "ServiceUnavailable" | "ResourceUnavailable" => {
            (ErrorKind::ApiError, Retry::Backoff)
        }
        "AuthFailure" if code == "AuthFailure.SignatureExpire" => {
            (ErrorKind::Auth, Retry::Immediate)
        }
        "AuthFailure" | "UnauthorizedOperation" => (ErrorKind::Auth, Retry::Never),
        _ => (ErrorKind::ApiError, Retry::Never),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Code(&'static str);

    impl Code {
        fn kind(&self) -> ErrorKind {
            classify(self.0).0
        }
        fn retry(&self) -> Retry {
            classify(self.0).1
        }
    }

    fn api(code: &'static str) -> Code {
        Code(code)
    }

    #[test]
    fn v3_throttling_and_faults_are_retried_with_back_off() {
        for code in [
            "RequestLimitExceeded",
            "RequestLimitExceeded.UinLimitExceeded",
            "RequestLimitExceeded.IPLimitExceeded",
            "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
        ] {
            assert_eq!(api(code).kind(), ErrorKind::Throttled, "{code}");
            assert_eq!(api(code).retry(), Retry::Backoff, "{code}");
        }
        for code in [
            "InternalError",
            "InternalError.DBError",
            "ServiceUnavailable",
            "ResourceUnavailable",
        ] {
            assert_eq!(
                (api(code).kind(), api(code).retry()),
                (ErrorKind::ApiError, Retry::Backoff),
                "{code}"
            );
        }
    }

    #[test]
    fn v3_auth_codes_are_never_retried_but_clock_skew_once() {
        assert_eq!(
            (
                api("AuthFailure.SignatureExpire").kind(),
                api("AuthFailure.SignatureExpire").retry()
            ),
            (ErrorKind::Auth, Retry::Immediate)
        );
        for code in [
            "AuthFailure.SignatureFailure",
            "AuthFailure.SecretIdNotFound",
            "AuthFailure.InvalidSecretId",
            "AuthFailure.TokenFailure",
            "AuthFailure.UnauthorizedOperation",
            "UnauthorizedOperation",
        ] {
            assert_eq!(
                (api(code).kind(), api(code).retry()),
                (ErrorKind::Auth, Retry::Never),
                "{code}"
            );
        }
    }

    #[test]
    fn v3_configuration_codes_are_never_retried() {
        for code in [
            "InvalidParameter",
            "InvalidParameterValue.X",
            "MissingParameter",
            "UnknownParameter",
            "InvalidAction",
            "UnsupportedRegion",
            "ResourceNotFound.InstanceNotFound",
            "FailedOperation.X",
            "CdbError.TaskError",
            "SomethingNew",
        ] {
            assert_eq!(
                (api(code).kind(), api(code).retry()),
                (ErrorKind::ApiError, Retry::Never),
                "{code}"
            );
        }
    }
}
