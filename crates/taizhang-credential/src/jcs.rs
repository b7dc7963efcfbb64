//! The JSON Canonicalization Scheme (RFC 8785): the one byte string a JSON value
//! signs as, whatever order or spacing it was written in.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// `value` in canonical form: no whitespace, object members sorted by their names'
/// UTF-16 code units, strings escaped as ECMAScript's `JSON.stringify` does and
/// numbers written as its `Number.prototype.toString` does.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The object `members` in canonical form, leaving out the member named `skip` (a
/// signed document's `proof`, without copying the document to remove it).
pub fn canonical_object(members: &Map<String, Value>, skip: Option<&str>) -> String {
    let mut out = String::new();
    object(members, skip, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => number(n, out),
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => object(members, None, out),
    }
}

fn object(members: &Map<String, Value>, skip: Option<&str>, out: &mut String) {
    let mut sorted: Vec<(&String, &Value)> = members.iter().filter(|(name, _)| Some(name.as_str()) != skip).collect();
    sorted.sort_by(|a, b| utf16_order(a.0, b.0));
    out.push('{');
    for (i, (name, item)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(name, out);
        out.push(':');
        write(item, out);
    }
    out.push('}');
}

fn utf16_order(a: &str, b: &str) -> Ordering {
    // Below U+E000, UTF-8 byte order is UTF-16 order: most names compare as bytes.
    let simple = |s: &str| s.bytes().all(|b| b < 0xEE);
    if simple(a) && simple(b) {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// Escapes as `JSON.stringify`: `"` and `\`, the five control characters with short
/// forms, every other one below U+0020 as `\u00xx` in lower case; the rest as is.
fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn number(n: &Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else {
        out.push_str(&es6_number(n.as_f64().unwrap_or(0.0)));
    }
}

/// ECMAScript's `Number.prototype.toString` for a finite double: the shortest digits
/// that read back as the same double (Rust's own formatting finds them), placed as
/// ECMAScript places them: plain from 1e-6 up to 1e21, with an exponent outside.
fn es6_number(x: f64) -> String {
    if x == 0.0 {
        return "0".to_owned();
    }
    let scientific = format!("{:e}", x.abs());
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` writes an exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    let k = digits.len() as i32;
    let n = exponent + 1;
    let sign = if x < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e = if e < 0 { format!("-{}", -e) } else { format!("+{e}") };
        match digits.split_at(1) {
            (first, "") => format!("{first}e{e}"),
            (first, rest) => format!("{first}.{rest}e{e}"),
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_written_as_ecmascript_writes_them() {
        // The examples of RFC 8785, appendix B.
        let cases: [(u64, &str); 12] = [
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0xc3e0000000000000, "-9223372036854776000"),
            (0x4430000000000000, "295147905179352830000"),
        ];
        for (bits, expected) in cases {
            assert_eq!(es6_number(f64::from_bits(bits)), expected, "{bits:#x}");
        }
    }

    #[test]
    fn members_sort_by_utf16_code_units_and_strings_escape_as_json_stringify() {
        // RFC 8785 §3.2.3: "\u{10000}" sorts before "\u{fb33}" in UTF-16.
        let value = json!({"\u{fb33}": 1, "\u{10000}": 2, "\r": 3, "1": 4, "\u{80}": 5, "a": "\u{1f}\"\\\u{7f}é"});
        assert_eq!(
            canonical(&value),
            "{\"\\r\":3,\"1\":4,\"a\":\"\\u001f\\\"\\\\\u{7f}é\",\"\u{80}\":5,\"\u{10000}\":2,\"\u{fb33}\":1}"
        );
        assert_eq!(canonical(&json!([1.5, -0.0, 1e30, true, null, {}])), "[1.5,0,1e+30,true,null,{}]");
    }
}
