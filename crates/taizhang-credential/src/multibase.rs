//! The two multibase encodings the standards here use: base58btc (prefix `z`) for keys
//! and signatures, base64url without padding (prefix `u`) for a status list.

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `bytes` as multibase base58btc: `z` and the Bitcoin alphabet, leading zero bytes as
/// `1`s.
pub fn base58btc(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    // Base-58 digits, least significant first.
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for &byte in &bytes[zeros..] {
        let mut carry = byte as u32;
        for digit in digits.iter_mut() {
            carry += (*digit as u32) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = String::with_capacity(1 + zeros + digits.len());
    out.push('z');
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(digits.iter().rev().map(|d| BASE58[*d as usize] as char));
    out
}

/// The bytes of a multibase base58btc string; `None` unless it starts with `z` and
/// uses only the alphabet.
pub fn from_base58btc(text: &str) -> Option<Vec<u8>> {
    let body = text.strip_prefix('z')?.as_bytes();
    let zeros = body.iter().take_while(|c| **c == b'1').count();
    // Bytes, least significant first.
    let mut bytes: Vec<u8> = Vec::with_capacity(body.len());
    for &c in &body[zeros..] {
        let mut carry = BASE58.iter().position(|a| *a == c)? as u32;
        for byte in bytes.iter_mut() {
            carry += (*byte as u32) * 58;
            *byte = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push(carry as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0; zeros];
    out.extend(bytes.iter().rev());
    Some(out)
}

/// `bytes` as multibase base64url without padding: `u` and the URL-safe alphabet.
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(1 + bytes.len().div_ceil(3) * 4);
    out.push('u');
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(BASE64URL[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// The bytes of a multibase base64url string (padding tolerated); `None` unless it
/// starts with `u` and uses only the alphabet.
pub fn from_base64url(text: &str) -> Option<Vec<u8>> {
    let body = text.strip_prefix('u')?.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= (BASE64URL.iter().position(|a| a == c)? as u32) << (18 - 6 * i);
        }
        out.extend((0..chunk.len() - 1).map(|i| (n >> (16 - 8 * i)) as u8));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58btc_reads_back_what_it_writes_and_matches_known_strings() {
        // The multibase specification's examples: "Hello World!" and leading zeros.
        assert_eq!(base58btc(b"Hello World!"), "z2NEpo7TZRRrLZSi2U");
        assert_eq!(base58btc(&[0, 0, 0x28, 0x7f, 0xb4, 0xcd]), "z11233QC4");
        assert_eq!(base58btc(&[]), "z");
        for bytes in [&b""[..], &[0], &[0, 0, 1], &[255; 40], b"taizhang"] {
            assert_eq!(from_base58btc(&base58btc(bytes)).as_deref(), Some(bytes));
        }
        assert_eq!(from_base58btc("z0OIl"), None, "not in the alphabet");
        assert_eq!(from_base58btc("2NEpo7TZRRrLZSi2U"), None, "no prefix");
    }

    #[test]
    fn base64url_reads_back_what_it_writes_and_matches_rfc_4648() {
        // RFC 4648 §10, without padding.
        for (clear, coded) in [("", "u"), ("f", "uZg"), ("fo", "uZm8"), ("foo", "uZm9v"), ("foobar", "uZm9vYmFy")] {
            assert_eq!(base64url(clear.as_bytes()), coded);
            assert_eq!(from_base64url(coded).as_deref(), Some(clear.as_bytes()));
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "u-_8");
        assert_eq!(from_base64url("uZg=="), Some(b"f".to_vec()));
        assert_eq!(from_base64url("uZ"), None);
        assert_eq!(from_base64url("u+/"), None);
    }
}
