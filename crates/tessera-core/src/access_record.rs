//! The per-request record the access log is written from.
//!
//! The server makes one [`AccessRecord`] per request and makes it current on the thread that
//! runs the request's work ([`AccessRecord::enter`]); the authorizer writes the caller and the
//! engine's decision into the current record ([`note_decision`]), so that the decision leaves
//! the operation without being threaded through every function. The policy engine stays pure:
//! only [`crate::Services`]' authorizer notes its results here. Nothing secret is ever put in a
//! record: the caller's ARN, account and access key id only.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};

use tessera_policy::{Decision, EvalDecision, PolicyType};

use crate::Call;

/// What a request's access-log line says, filled in as the request is served.
#[derive(Debug, Clone, Default)]
pub struct AccessFields {
    /// The request id the response carries.
    pub request_id: Option<String>,
    /// The service (its signing name: `iam`, `sts`, `s3`, ...; or `imds`, `console`, `tessera`).
    pub service: Option<String>,
    /// The operation (`CreateUser`, `GetObject`, ...).
    pub operation: Option<String>,
    /// The caller's ARN (empty: anonymous).
    pub principal: Option<String>,
    /// The caller's account.
    pub account: Option<String>,
    /// The access key id the request was signed with (never its secret).
    pub access_key_id: Option<String>,
    /// The deciding authorization: the first denial, else the last allow.
    pub decision: Option<EvalDecision>,
    /// The policy type that decided a denial (or granted an allow).
    pub decided_by: Option<PolicyType>,
}

/// One request's record, shared by the server and the threads that serve it.
#[derive(Debug, Default)]
pub struct AccessRecord {
    fields: Mutex<AccessFields>,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<AccessRecord>>> = const { RefCell::new(None) };
}

/// Restores the thread's previous current record when dropped.
#[must_use = "the record is current only while the guard lives"]
pub struct Entered {
    previous: Option<Arc<AccessRecord>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

impl AccessRecord {
    /// A new, empty record.
    pub fn new() -> Arc<AccessRecord> {
        Arc::new(AccessRecord::default())
    }

    /// Make this record the current thread's until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> Entered {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(self)));
        Entered { previous }
    }

    /// Change the record's fields.
    pub fn update(&self, f: impl FnOnce(&mut AccessFields)) {
        f(&mut self.fields.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// A copy of the record's fields.
    pub fn fields(&self) -> AccessFields {
        self.fields.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Record the caller of `call` (its ARN, account, access key id and operation), keeping
    /// what the server already recorded.
    pub fn note_call(&self, call: &Call) {
        self.update(|f| {
            f.principal.get_or_insert_with(|| call.caller.arn.clone());
            f.account.get_or_insert_with(|| call.caller.account.clone());
            f.access_key_id.get_or_insert_with(|| call.caller.access_key_id.clone());
            f.operation.get_or_insert_with(|| call.operation.clone());
            f.request_id.get_or_insert_with(|| call.meta.request_id.clone());
        });
    }
}

/// Run `f` with the current thread's record, if it has one.
pub fn with_current(f: impl FnOnce(&AccessRecord)) {
    CURRENT.with(|c| {
        if let Some(r) = c.borrow().as_ref() {
            f(r)
        }
    });
}

/// Note an authorization of `call` in the current record: the first denial decides the
/// request's line; an allow counts only while nothing has denied.
pub fn note_decision(call: &Call, decision: &Decision) {
    with_current(|r| {
        r.note_call(call);
        r.update(|f| {
            let denied_before = matches!(f.decision, Some(d) if d != EvalDecision::Allowed);
            if !denied_before {
                f.decision = Some(decision.decision);
                f.decided_by = decision.decided_by;
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_current_only_while_entered_and_nests() {
        let outer = AccessRecord::new();
        let inner = AccessRecord::new();
        {
            let _g = outer.enter();
            {
                let _g = inner.enter();
                with_current(|r| r.update(|f| f.service = Some("inner".into())));
            }
            with_current(|r| r.update(|f| f.service = Some("outer".into())));
        }
        with_current(|_| panic!("no record is current"));
        assert_eq!(outer.fields().service.as_deref(), Some("outer"));
        assert_eq!(inner.fields().service.as_deref(), Some("inner"));
    }
}
