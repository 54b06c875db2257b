//! Checking a client's credentials against the configured [`Auth`].
//!
//! Secrets are compared in constant time so response timing does not leak how much of a
//! guess was right.

use subtle::ConstantTimeEq;

use crate::options::Auth;

/// Credentials a client sent in CONNECT.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Credentials<'a> {
    pub user: Option<&'a str>,
    pub pass: Option<&'a str>,
    pub token: Option<&'a str>,
}

fn secret_eq(a: &str, b: &str) -> bool {
    // `ct_eq` on slices of different length returns false without comparing contents; the
    // length of a secret is not considered secret here (as in nats-server).
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Whether `stored` (plain, or a bcrypt hash as nats-server accepts) admits `sent`.
fn password_ok(sent: &str, stored: &str) -> bool {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        // A malformed hash admits nobody.
        bcrypt::verify(sent, stored).unwrap_or(false)
    } else {
        secret_eq(sent, stored)
    }
}

/// As [`check`], but a client that sends no credentials at all is taken as `no_auth_user`
/// (nats-server's `no_auth_user`) when that user is configured.
pub(crate) fn check_or_default<'a>(
    auth: &'a Auth,
    creds: &Credentials<'_>,
    no_auth_user: Option<&str>,
) -> Result<Option<&'a str>, ()> {
    if let (None, None, None, Some(name), Auth::Users(users)) =
        (creds.user, creds.pass, creds.token, no_auth_user, auth)
    {
        return users
            .iter()
            .find(|u| u.username == name)
            .map(|u| Some(u.username.as_str()))
            .ok_or(());
    }
    check(auth, creds)
}

/// Whether `creds` satisfy `auth`. Returns the authenticated user name, if any.
pub(crate) fn check<'a>(auth: &'a Auth, creds: &Credentials<'_>) -> Result<Option<&'a str>, ()> {
    match auth {
        Auth::None => Ok(None),
        Auth::Token(token) => match creds.token {
            Some(sent) if password_ok(sent, token) => Ok(None),
            _ => Err(()),
        },
        Auth::Users(users) => {
            let (Some(user), Some(pass)) = (creds.user, creds.pass) else {
                return Err(());
            };
            // Compare against every user so timing does not reveal which names exist.
            let mut found = None;
            for candidate in users {
                let name_ok = secret_eq(user, &candidate.username);
                // bcrypt is slow by design: only checked for the user named.
                let pass_ok = name_ok && password_ok(pass, &candidate.password);
                if name_ok & pass_ok && found.is_none() {
                    found = Some(candidate.username.as_str());
                }
            }
            found.map(Some).ok_or(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::User;

    fn creds<'a>(
        user: Option<&'a str>,
        pass: Option<&'a str>,
        token: Option<&'a str>,
    ) -> Credentials<'a> {
        Credentials { user, pass, token }
    }

    #[test]
    fn no_auth_accepts_anything() {
        assert_eq!(check(&Auth::None, &creds(None, None, None)), Ok(None));
    }

    #[test]
    fn token_must_match_exactly() {
        let auth = Auth::Token("s3cret".into());
        assert!(check(&auth, &creds(None, None, Some("s3cret"))).is_ok());
        assert!(check(&auth, &creds(None, None, Some("s3cre"))).is_err());
        assert!(check(&auth, &creds(None, None, Some("s3cret!"))).is_err());
        assert!(check(&auth, &creds(Some("s3cret"), Some("s3cret"), None)).is_err());
    }

    #[test]
    fn users_need_a_matching_pair() {
        let auth = Auth::Users(vec![User::new("alice", "a"), User::new("bob", "b")]);
        assert_eq!(
            check(&auth, &creds(Some("bob"), Some("b"), None)),
            Ok(Some("bob"))
        );
        assert!(check(&auth, &creds(Some("bob"), Some("a"), None)).is_err());
        assert!(check(&auth, &creds(Some("carol"), Some("a"), None)).is_err());
        assert!(check(&auth, &creds(Some("alice"), None, None)).is_err());
        assert!(check(&auth, &creds(None, None, Some("a"))).is_err());
    }

    #[test]
    fn bcrypt_hashes_and_no_auth_user() {
        let hash = bcrypt::hash("s3cret", 4).expect("hash");
        let auth = Auth::Users(vec![User::new("alice", hash), User::new("bob", "b")]);
        assert!(check(&auth, &creds(Some("alice"), Some("s3cret"), None)).is_ok());
        assert!(check(&auth, &creds(Some("alice"), Some("s3cre"), None)).is_err());
        let none = creds(None, None, None);
        assert_eq!(check_or_default(&auth, &none, Some("bob")), Ok(Some("bob")));
        assert!(check_or_default(&auth, &none, None).is_err());
        let wrong = creds(Some("bob"), Some("x"), None);
        assert!(check_or_default(&auth, &wrong, Some("bob")).is_err());
    }
}
