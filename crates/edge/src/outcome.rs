//! Refusals and failures as FHIR `OperationOutcome`s.
//!
//! Every message is fixed text chosen by the edge: nothing from the request
//! or the origin is ever quoted back (an error that echoes a search
//! parameter or an upstream body is a leak).

use serde_json::json;

/// Why the edge answers without (or instead of) a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the request is malformed (bad path, bad parameter, bad body).
    BadRequest,
    /// 401: no token, or a token that does not verify.
    Unauthenticated,
    /// 403: an operation the edge does not support (bulk export,
    /// whole-system history, an unknown operation) or a request spanning
    /// patients.
    Forbidden,
    /// 403: the viewer may not do this (no current training, purpose not
    /// permitted, not a practitioner).
    NotPermitted,
    /// 403: break glass refused (no reason, unknown reason, expired).
    BreakGlassRefused,
    /// 404: no such resource, or one the viewer may not see (the same body).
    NotFound,
    /// 405: writes are not supported.
    MethodNotAllowed,
    /// 409: the action does not fit the current state (e.g. closing a
    /// break-glass case that has no explanation yet).
    Conflict,
    /// 422: a patient search that is too broad.
    TooCostly,
    /// 502: the origin failed or answered something the edge cannot read,
    /// or redaction failed.
    BadGateway,
    /// 503: audit (or another required store) could not be written.
    Unavailable,
    /// 504: the origin did not answer in time.
    GatewayTimeout,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthenticated => 401,
            Self::Forbidden | Self::NotPermitted | Self::BreakGlassRefused => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::TooCostly => 422,
            Self::BadGateway => 502,
            Self::Unavailable => 503,
            Self::GatewayTimeout => 504,
        }
    }

    /// The FHIR issue type.
    pub fn code(self) -> &'static str {
        match self {
            Self::BadRequest => "invalid",
            Self::Unauthenticated => "login",
            Self::Forbidden | Self::MethodNotAllowed => "not-supported",
            Self::NotPermitted | Self::BreakGlassRefused => "forbidden",
            Self::NotFound => "not-found",
            Self::Conflict => "conflict",
            Self::TooCostly => "too-costly",
            Self::BadGateway => "exception",
            Self::Unavailable => "transient",
            Self::GatewayTimeout => "timeout",
        }
    }

    /// Fixed, input-free text.
    pub fn diagnostics(self) -> &'static str {
        match self {
            Self::BadRequest => "The request is not valid",
            Self::Unauthenticated => "Authentication required",
            Self::Forbidden => "This request is not supported",
            Self::NotPermitted => "Access is not permitted",
            Self::BreakGlassRefused => "Break glass refused: state a reason from the policy's list",
            Self::NotFound => "Resource not found",
            Self::MethodNotAllowed => "Only reads are supported",
            Self::Conflict => "This cannot be done in the current state",
            Self::TooCostly => {
                "Search too broad: give an NHS number, or a name with a date of birth"
            }
            Self::BadGateway => "The record could not be retrieved",
            Self::Unavailable => "Service unavailable",
            Self::GatewayTimeout => "The record source did not answer in time",
        }
    }

    /// The OperationOutcome body. `NotFound` is byte-identical to core's
    /// [`tiergate_core::not_found_body`], so a withheld resource and a
    /// missing one read the same.
    pub fn body(self) -> Vec<u8> {
        if self == Self::NotFound {
            return tiergate_core::not_found_body();
        }
        let v = json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": self.code(), "diagnostics": self.diagnostics()}]
        });
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// The audit outcome code (FHIR `AuditEventOutcome`): 4 minor failure
    /// for refusals of the caller, 8 serious failure for origin or edge
    /// failures.
    pub fn audit_outcome(self) -> &'static str {
        match self {
            Self::BadGateway | Self::Unavailable | Self::GatewayTimeout => "8",
            _ => "4",
        }
    }

    /// A short, stable name for logs and audit.
    pub fn name(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotPermitted => "not_permitted",
            Self::BreakGlassRefused => "break_glass_refused",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::TooCostly => "too_costly",
            Self::BadGateway => "bad_gateway",
            Self::Unavailable => "unavailable",
            Self::GatewayTimeout => "gateway_timeout",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_core() {
        assert_eq!(Refusal::NotFound.body(), tiergate_core::not_found_body());
    }

    #[test]
    fn every_body_is_an_operation_outcome() {
        for r in [
            Refusal::BadRequest,
            Refusal::Unauthenticated,
            Refusal::Forbidden,
            Refusal::NotPermitted,
            Refusal::BreakGlassRefused,
            Refusal::NotFound,
            Refusal::MethodNotAllowed,
            Refusal::Conflict,
            Refusal::TooCostly,
            Refusal::BadGateway,
            Refusal::Unavailable,
            Refusal::GatewayTimeout,
        ] {
            let v: serde_json::Value = serde_json::from_slice(&r.body()).unwrap_or_default();
            assert_eq!(v["resourceType"], "OperationOutcome", "{r:?}");
            assert!(r.status() >= 400);
        }
    }
}
