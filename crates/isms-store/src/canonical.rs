//! Canonical JSON for hashing: object keys sorted by their UTF-8 bytes, no whitespace,
//! strings and numbers as serde_json writes them (the RFC 8785 forms for the integers and
//! strings the log holds). Written out by hand rather than relying on `serde_json::Value`'s
//! map order, which a dependency could switch to insertion order through a cargo feature.

use serde_json::Value;

pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                write_value(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    write_serialized(value, out);
}

fn write_str(text: &str, out: &mut Vec<u8>) {
    write_serialized(text, out);
}

/// Appends the JSON of a value without nested objects (a scalar, a string, a timestamp).
pub(crate) fn write_serialized<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Serializing these into a Vec cannot fail.
    serde_json::to_writer(&mut *out, value).expect("scalar JSON serialization");
}

/// Appends `"key":` for a canonical object member.
pub(crate) fn write_key(key: &str, first: bool, out: &mut Vec<u8>) {
    if !first {
        out.push(b',');
    }
    write_str(key, out);
    out.push(b':');
}

/// Appends the canonical form of any JSON value.
pub(crate) fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    write_value(value, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_at_every_depth_without_whitespace() {
        let value = serde_json::json!({"b": 1, "a": {"d": [true, null, "x\"y"], "c": -2}});
        assert_eq!(canonical_json(&value), br#"{"a":{"c":-2,"d":[true,null,"x\"y"]},"b":1}"#.to_vec());
    }
}
