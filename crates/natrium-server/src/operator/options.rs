//! Operator-mode settings, as options and configuration files give them.

/// Operator-mode settings: `operator`, `system_account`, `resolver: MEMORY` and
/// `resolver_preload`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorOptions {
    /// The trusted operators' JWTs (the tokens themselves; the configuration reader reads
    /// files named by `operator`).
    pub operators: Vec<String>,
    /// `system_account`: the public key of the account whose users see the server's events
    /// (see [`crate::ServerOptions::system_account`]).
    pub system_account: Option<String>,
    /// The memory resolver's account JWTs, by account public key, in file order.
    pub accounts: Vec<(String, String)>,
}
