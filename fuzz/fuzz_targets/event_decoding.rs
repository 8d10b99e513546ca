//! Event decoding: any bytes read back as a stored envelope are decoded, hashed, re-encoded and
//! projected without a panic; what decodes re-encodes to an envelope with the same hash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = serde_json::from_slice::<isms_store::Envelope>(data) else { return };
    let hash = isms_store::chain::envelope_hash(&envelope);
    let again: isms_store::Envelope = serde_json::from_slice(&serde_json::to_vec(&envelope).unwrap()).unwrap();
    assert_eq!(isms_store::chain::envelope_hash(&again), hash, "encoding round trip changed the hash");
    // A projection may refuse an event it cannot apply, but must never panic on one.
    let mut registers = isms_projections::Registers::default();
    let _ = registers.apply_owned(envelope);
});
