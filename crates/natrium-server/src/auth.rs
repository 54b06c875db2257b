//! Checking a client's credentials against the configured [`Auth`].
//!
//! Secrets are compared in constant time so response timing does not leak how much of a
//! guess was right.

use subtle::ConstantTimeEq;

use crate::options::{Auth, User};

/// Credentials a client sent in CONNECT, and the nonce its INFO carried.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Credentials<'a> {
    pub user: Option<&'a str>,
    pub pass: Option<&'a str>,
    pub token: Option<&'a str>,
    /// An nkey user's public key.
    pub nkey: Option<&'a str>,
    /// The nonce, signed with the nkey's seed (base64, URL alphabet as the clients send it).
    pub sig: Option<&'a str>,
    /// The nonce this server sent in INFO.
    pub nonce: Option<&'a str>,
}

impl Credentials<'_> {
    fn is_empty(&self) -> bool {
        self.user.is_none() && self.pass.is_none() && self.token.is_none() && self.nkey.is_none()
    }
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

/// Whether `sig` is `public_key`'s signature of `nonce`. Clients send it in base64 with the
/// URL alphabet and no padding; nats-server also takes the standard alphabet.
pub(crate) fn nonce_signed(public_key: &str, nonce: &str, sig: &str) -> bool {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let Ok(sig) = URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| STANDARD.decode(sig))
    else {
        return false;
    };
    nkeys::KeyPair::from_public_key(public_key)
        .and_then(|key| key.verify(nonce.as_bytes(), &sig))
        .is_ok()
}

/// As [`check`], but a client that sends no credentials at all is taken as `no_auth_user`
/// (nats-server's `no_auth_user`) when that user is configured.
pub(crate) fn check_or_default<'a>(
    auth: &'a Auth,
    creds: &Credentials<'_>,
    no_auth_user: Option<&str>,
) -> Result<Option<&'a User>, ()> {
    if let (true, Some(name), Auth::Users(users)) = (creds.is_empty(), no_auth_user, auth) {
        return users
            .iter()
            .find(|u| u.username == name)
            .map(Some)
            .ok_or(());
    }
    check(auth, creds)
}

/// Whether `creds` satisfy `auth`. Returns the authenticated user, if any.
pub(crate) fn check<'a>(auth: &'a Auth, creds: &Credentials<'_>) -> Result<Option<&'a User>, ()> {
    match auth {
        Auth::None => Ok(None),
        Auth::Token(token) => match creds.token {
            Some(sent) if password_ok(sent, token) => Ok(None),
            _ => Err(()),
        },
        Auth::Users(users) => {
            if let Some(key) = creds.nkey {
                // As nats-server: a client naming an nkey is checked as that nkey only.
                let user = users
                    .iter()
                    .find(|u| u.nkey.as_deref() == Some(key))
                    .ok_or(())?;
                let (Some(nonce), Some(sig)) = (creds.nonce, creds.sig) else {
                    return Err(());
                };
                return if nonce_signed(key, nonce, sig) {
                    Ok(Some(user))
                } else {
                    Err(())
                };
            }
            let (Some(user), Some(pass)) = (creds.user, creds.pass) else {
                return Err(());
            };
            // Compare against every user so timing does not reveal which names exist.
            let mut found = None;
            for candidate in users.iter().filter(|u| u.nkey.is_none()) {
                let name_ok = secret_eq(user, &candidate.username);
                // bcrypt is slow by design: only checked for the user named.
                let pass_ok = name_ok && password_ok(pass, &candidate.password);
                if name_ok & pass_ok && found.is_none() {
                    found = Some(candidate);
                }
            }
            found.map(Some).ok_or(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds<'a>(
        user: Option<&'a str>,
        pass: Option<&'a str>,
        token: Option<&'a str>,
    ) -> Credentials<'a> {
        Credentials {
            user,
            pass,
            token,
            ..Credentials::default()
        }
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
        let name = |r: Result<Option<&User>, ()>| r.map(|u| u.map(|u| u.username.clone()));
        assert_eq!(
            name(check(&auth, &creds(Some("bob"), Some("b"), None))),
            Ok(Some("bob".to_string()))
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
        assert_eq!(
            check_or_default(&auth, &none, Some("bob")).map(|u| u.map(|u| u.username.as_str())),
            Ok(Some("bob"))
        );
        assert!(check_or_default(&auth, &none, None).is_err());
        let wrong = creds(Some("bob"), Some("x"), None);
        assert!(check_or_default(&auth, &wrong, Some("bob")).is_err());
    }

    #[test]
    fn nkey_users_must_sign_the_nonce() {
        use base64::Engine as _;
        let key = nkeys::KeyPair::new_user();
        let other = nkeys::KeyPair::new_user();
        let auth = Auth::Users(vec![User::nkey(key.public_key()), User::new("a", "b")]);
        let nonce = "abcdefghijk";
        let sign = |k: &nkeys::KeyPair| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(k.sign(nonce.as_bytes()).unwrap())
        };
        let pk = key.public_key();
        let good_sig = sign(&key);
        let bad_sig = sign(&other);
        fn with<'a>(pk: &'a str, nonce: &'a str, sig: &'a str) -> Credentials<'a> {
            Credentials {
                nkey: Some(pk),
                sig: Some(sig),
                nonce: Some(nonce),
                ..Credentials::default()
            }
        }
        let user = check(&auth, &with(&pk, nonce, &good_sig)).unwrap().unwrap();
        assert_eq!(user.nkey.as_deref(), Some(pk.as_str()));
        assert!(check(&auth, &with(&pk, nonce, &bad_sig)).is_err());
        assert!(check(&auth, &with(&pk, nonce, "not base64!")).is_err());
        // The nkey is not a password: naming it as a user does not log in.
        assert!(check(&auth, &creds(Some(&pk), Some(""), None)).is_err());
        let unknown = other.public_key();
        let stranger = Credentials {
            nkey: Some(&unknown),
            ..with(&pk, nonce, &good_sig)
        };
        assert!(check(&auth, &stranger).is_err());
    }
}
