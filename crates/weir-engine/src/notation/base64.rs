//! Standard base64 (RFC 4648 §4) decoding, for the notations that carry bytes as text: XML's
//! `xs:base64Binary`, Protobuf schemas that a registry holds as a base64 descriptor. (The
//! encoder JSON writes `bytes` with is `json::base64`.)

/// Decodes `text`, with or without `=` padding. `None` when it is not base64: a character
/// outside the alphabet (whitespace included), or a length no encoding gives.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let body = text.strip_suffix("==").or_else(|| text.strip_suffix('=')).unwrap_or(text);
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode;
    use crate::notation::json::base64;

    #[test]
    fn decodes_what_the_encoder_writes_and_refuses_the_rest() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            let text = base64(&bytes);
            assert_eq!(decode(&text), Some(bytes.clone()), "{text}");
            assert_eq!(decode(text.trim_end_matches('=')), Some(bytes), "unpadded {text}");
        }
        assert_eq!(decode("Zm9vYmFy"), Some(b"foobar".to_vec()));
        for bad in ["Z", "Zm9v!", "Zm 9v", "Zm9vY==="] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
