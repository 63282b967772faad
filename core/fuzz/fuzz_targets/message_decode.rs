//! Any bytes into `Message::decode`: it must never panic, and whatever it
//! accepts must re-encode to exactly the same bytes (one value, one encoding).

#![no_main]

use celluler_core::message::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(message) = Message::decode(bytes) {
        assert_eq!(message.encode(), bytes, "accepted a non-canonical encoding");
        // Verification of arbitrary proofs and signatures must not panic either.
        let _ = message.verify();
    }
});
