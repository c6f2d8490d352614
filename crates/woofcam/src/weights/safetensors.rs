//! The safetensors container: an 8-byte little-endian header length, the JSON header and the
//! tensors' bytes. Written here; read by the `safetensors` crate's users and by Burn's store.

use std::collections::BTreeMap;

/// One tensor of a safetensors file: its key, dtype name, shape and little-endian bytes.
pub(super) struct SafetensorsEntry {
    pub(super) key: String,
    pub(super) dtype: &'static str,
    pub(super) shape: Vec<usize>,
    pub(super) bytes: Vec<u8>,
}

/// The safetensors format: an 8-byte little-endian header length, the JSON header (padded
/// with spaces to a multiple of 8 bytes) and the tensors' bytes. The widest dtypes come
/// first, so every tensor starts at a multiple of its element size, as the official
/// writer arranges it.
pub(super) fn write_safetensors(mut entries: Vec<SafetensorsEntry>, metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let width = |dtype: &str| {
        if dtype == "I64" {
            8
        } else if dtype == "F32" {
            4
        } else {
            2
        }
    };
    entries.sort_by(|a, b| width(b.dtype).cmp(&width(a.dtype)).then_with(|| a.key.cmp(&b.key)));
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!(metadata));
    let mut offset = 0;
    for entry in &entries {
        let end = offset + entry.bytes.len();
        let info = serde_json::json!({"dtype": entry.dtype, "shape": entry.shape, "data_offsets": [offset, end]});
        header.insert(entry.key.clone(), info);
        offset = end;
    }
    let mut text = serde_json::Value::Object(header).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + offset);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    for entry in entries {
        out.extend_from_slice(&entry.bytes);
    }
    out
}
