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

/// Whether `creds` satisfy `auth`. Returns the authenticated user name, if any.
pub(crate) fn check<'a>(auth: &'a Auth, creds: &Credentials<'_>) -> Result<Option<&'a str>, ()> {
    match auth {
        Auth::None => Ok(None),
        Auth::Token(token) => match creds.token {
            Some(sent) if secret_eq(sent, token) => Ok(None),
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
                let pass_ok = secret_eq(pass, &candidate.password);
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
}
