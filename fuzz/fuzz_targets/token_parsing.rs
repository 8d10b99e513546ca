//! Token parsing: any bytes as a bearer token are refused or accepted without a panic, and a
//! token is only ever accepted if it is a well-formed HS256 JWT signed with the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let authenticator =
        isms_api::Authenticator::hs256(b"fuzzing-secret-fuzzing-secret-32", "isms-local", "isms-ledger");
    if let Ok(token) = std::str::from_utf8(data) {
        if authenticator.verify(token).is_ok() {
            panic!("an unsigned fuzz input was accepted as a token: {token}");
        }
    }
});
