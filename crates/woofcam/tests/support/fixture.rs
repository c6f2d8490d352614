//! Reading the golden fixtures written by `tests/reference/make_golden.py`.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/golden")
}

/// Every tensor of a safetensors fixture as (shape, f32 values).
pub struct Fixture(pub BTreeMap<String, (Vec<usize>, Vec<f32>)>);

impl Fixture {
    pub fn open(name: &str) -> Self {
        let path = fixtures_dir().join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
        let tensors = file
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
                let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
                (name, (view.shape().to_vec(), values))
            })
            .collect();
        Self(tensors)
    }

    pub fn values(&self, name: &str) -> &[f32] {
        &self.0.get(name).unwrap_or_else(|| panic!("fixture has no `{name}`")).1
    }

    pub fn shape(&self, name: &str) -> &[usize] {
        &self.0.get(name).unwrap_or_else(|| panic!("fixture has no `{name}`")).0
    }
}

/// The state-dict keys and shapes of a model, as listed by the fixture script.
pub fn state_dict_keys(name: &str) -> BTreeMap<String, Vec<usize>> {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("key list is a JSON object of key -> shape")
}
