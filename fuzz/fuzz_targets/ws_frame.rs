//! The WebSocket frame decoder: any text a client sends decodes to a
//! frame or to one of the documented error codes, never a panic; a frame
//! that decodes survives encoding and decoding again unchanged.

#![no_main]

use chat_core::protocol::decode_client_frame;
use libfuzzer_sys::fuzz_target;

/// The codes docs/protocol.md documents for undecodable frames.
const CODES: [&str; 4] = [
    "INVALID_JSON",
    "UNKNOWN_TYPE",
    "INVALID_MESSAGE",
    "INVALID_TEXT",
];

fuzz_target!(|data: &[u8]| {
    // The gateway hands the decoder text frames, which WebSocket requires
    // to be UTF-8 (the socket layer refuses anything else).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match decode_client_frame(text) {
        Ok(frame) => {
            let again = serde_json::to_string(&frame).expect("a decoded frame encodes");
            let round = decode_client_frame(&again).expect("an encoded frame decodes");
            assert_eq!(round, frame);
        }
        Err(e) => assert!(CODES.contains(&e.code), "undocumented code {}", e.code),
    }
});
