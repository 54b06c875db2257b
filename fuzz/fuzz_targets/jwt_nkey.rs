//! JWT and nkey input: operator-mode JWTs (operator, account, user) and nkey nonce
//! signatures as the server checks them. Any input is accepted or refused with an error,
//! never a panic.
//!
//! Input: NUL-separated parts `mode, operator, account, user, nonce, signature`. With mode
//! bit 0 (operator), 1 (account) and 2 (user) set, that part is a claims JSON the target
//! signs with fixed keys into a real token, so the fuzzer gets past signature checks to the
//! claims; `$O`, `$A`, `$U` and `$S` in it become the operator's, account's, user's and
//! account signing key's public keys. Otherwise the part is the token itself. Mode bit 3:
//! the user's key signs the nonce (else the signature part is used as is); bit 4: the
//! account's signing key, not the account key, signs the user JWT; bit 5: a header with
//! another algorithm.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use natrium_server::OperatorOptions;
use natrium_server::fuzzing;
use nkeys::{KeyPair, KeyPairType};

struct Keys {
    operator: KeyPair,
    account: KeyPair,
    signing: KeyPair,
    user: KeyPair,
}

/// Fixed keys, so a crash input reproduces.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        operator: KeyPair::new_from_raw(KeyPairType::Operator, [1; 32]).unwrap(),
        account: KeyPair::new_from_raw(KeyPairType::Account, [2; 32]).unwrap(),
        signing: KeyPair::new_from_raw(KeyPairType::Account, [3; 32]).unwrap(),
        user: KeyPair::new_from_raw(KeyPairType::User, [4; 32]).unwrap(),
    })
}

fn expand(text: &str) -> String {
    let k = keys();
    text.replace("$O", &k.operator.public_key())
        .replace("$A", &k.account.public_key())
        .replace("$S", &k.signing.public_key())
        .replace("$U", &k.user.public_key())
}

fn token(claims: &str, signer: &KeyPair, other_alg: bool) -> String {
    let alg = if other_alg { "HS256" } else { "ed25519-nkey" };
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"typ":"JWT","alg":"{alg}"}}"#));
    let body = URL_SAFE_NO_PAD.encode(expand(claims));
    let signed = format!("{header}.{body}");
    let sig = URL_SAFE_NO_PAD.encode(signer.sign(signed.as_bytes()).unwrap());
    format!("{signed}.{sig}")
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let mode = parts.next().unwrap_or_default().bytes().next().unwrap_or(0);
    let mut part = || parts.next().unwrap_or_default().to_string();
    let (operator, account, user, nonce, sig) = (part(), part(), part(), part(), part());
    let k = keys();
    let other_alg = mode & 32 != 0;
    let make = |bit: u8, claims: String, signer: &KeyPair| {
        if mode & bit != 0 { token(&claims, signer, other_alg) } else { expand(&claims) }
    };
    let operator = make(1, operator, &k.operator);
    let account = make(2, account, &k.operator);
    let user_signer = if mode & 16 != 0 { &k.signing } else { &k.account };
    let user = make(4, user, user_signer);
    let sig = if mode & 8 != 0 {
        URL_SAFE_NO_PAD.encode(k.user.sign(nonce.as_bytes()).unwrap())
    } else {
        sig
    };
    let opts = OperatorOptions {
        operators: vec![operator],
        system_account: None,
        accounts: vec![(k.account.public_key(), account)],
    };
    let _ = fuzzing::operator_trust(&opts, &user, &nonce, &sig);
    let _ = fuzzing::nonce_signed(&k.user.public_key(), &nonce, &sig);
    let _ = fuzzing::nonce_signed(&expand(&nonce), &nonce, &sig);
});
