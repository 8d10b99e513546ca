//! Evidence pack verification: `isms verify-pack` reads archives from anyone; any bytes are
//! reported as failed checks, never a panic, and random bytes never pass.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let verification = isms_evidence::verify(data, None);
    assert!(!verification.passed() || data.len() > 64, "a tiny input passed verification");
});
