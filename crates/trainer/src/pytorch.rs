//! PyTorch checkpoints in: fastai's `learn.save` files (`{'model': state_dict, 'opt': ..}`),
//! plain state dicts such as torchvision's ImageNet weights, and safetensors state dicts
//! (what `woofcam export --format safetensors` writes).
//!
//! [`inspect`] reads only the key names and shapes and works out what the checkpoint is:
//! where its state dict sits, whose key names it uses (torchvision's or fastai's), which
//! ResNet it is and how many classes its head has. [`load_torch_pth`] then loads it into a
//! model; the training loop's `--pretrained` uses it with `body_only` to take an ImageNet
//! body and leave the head as initialised.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::store::pytorch_reader::PytorchReader;
use burn::store::{ModuleStore, PathFilter, PytorchStore};
use woofcam::model::ResNet;
use woofcam::weights::{TorchLayout, apply_torch_tensors, check_torch_load};

/// The container a checkpoint's tensors came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// `torch.save` (zip or legacy pickle), including fastai's `learn.save`.
    Pth,
    /// A safetensors file.
    Safetensors,
}

/// What a checkpoint holds, worked out from its key names and shapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub container: Container,
    /// The entry of the pickled dict that holds the state dict: `model` for fastai's
    /// `learn.save(.., with_opt=True)`, `state_dict` for many training scripts.
    pub top_level_key: Option<String>,
    pub layout: TorchLayout,
    /// `resnet34` or `resnet18`.
    pub architecture: &'static str,
    /// Rows of the last linear layer; `None` for a checkpoint without a head.
    pub num_classes: Option<usize>,
    /// Tensors in the state dict (BatchNorm counters included).
    pub tensors: usize,
    /// Element types of the floating-point tensors, e.g. `["f32"]`.
    pub float_types: Vec<String>,
}

/// Top-level entries that hold a state dict in common checkpoint files.
const STATE_DICT_KEYS: [&str; 2] = ["model", "state_dict"];

/// Works out what the checkpoint at `path` is, reading only its header or pickle.
pub fn inspect(path: &Path) -> Result<Checkpoint> {
    let container = container(path)?;
    let (top_level_key, entries, float_types) = match container {
        Container::Pth => read_pth_keys(path)?,
        Container::Safetensors => {
            let (entries, float_types) = read_safetensors_keys(path)?;
            (None, entries, float_types)
        }
    };
    let (layout, architecture, num_classes) = identify(&entries).with_context(|| format!("in {}", path.display()))?;
    Ok(Checkpoint { container, top_level_key, layout, architecture, num_classes, tensors: entries.len(), float_types })
}

/// Loads the PyTorch `.pth` checkpoint at `path` (a state dict, or fastai's `learn.save`
/// dict holding one under `model`) with `layout`'s key names into `model`. f16 and bf16
/// weights are widened to f32.
///
/// With `body_only`, only the body's parameters are taken (the head is left as it is and
/// every tensor of the file outside the body is ignored), e.g. torchvision's ImageNet
/// ResNet34 into a model with fastai's head. Otherwise every parameter of the model must be
/// in the file and every tensor of the file must have a place in the model (BatchNorm's
/// `num_batches_tracked` counters aside).
pub fn load_torch_pth(mut model: ResNet, path: &Path, layout: TorchLayout, body_only: bool) -> Result<ResNet> {
    let (top_level_key, _, _) = read_pth_keys(path)?;
    let mut store = PytorchStore::from_file(path).remap(layout.key_remapper()?).map_indices_contiguous(false);
    if let Some(key) = &top_level_key {
        store = store.with_top_level_key(key);
    }
    let tensors = store
        .get_all_tensors()
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
        .values()
        .cloned()
        .collect();
    let filter = body_only.then(|| PathFilter::new().with_regex(r"^body\."));
    let result = apply_torch_tensors(&mut model, tensors, filter);
    let prefix = if body_only { "body." } else { "" };
    check_torch_load(&result, prefix, !body_only)
        .with_context(|| format!("loading {} with {} key names", path.display(), layout.name()))?;
    Ok(model)
}

/// Tells a `torch.save` file from a safetensors file by their first bytes.
fn container(path: &Path) -> Result<Container> {
    use std::io::Read;
    let mut head = [0u8; 9];
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read the checkpoint {}", path.display()))?;
    let read = file.read(&mut head).with_context(|| format!("cannot read {}", path.display()))?;
    match &head[..read] {
        // A zip archive (PyTorch >= 1.6), or a pickle (protocol 2+) for the legacy format.
        [b'P', b'K', ..] | [0x80, ..] => Ok(Container::Pth),
        // An 8-byte little-endian header length, then the JSON header.
        [.., b'{'] if read == 9 => Ok(Container::Safetensors),
        _ => bail!(
            "{} is neither a PyTorch checkpoint (.pth/.pt, as torch.save writes) nor a safetensors file",
            path.display()
        ),
    }
}

/// A tensor's name and shape.
type Entry = (String, Vec<usize>);

/// The state dict's keys and shapes, after finding where in the file it sits.
fn read_pth_keys(path: &Path) -> Result<(Option<String>, Vec<Entry>, Vec<String>)> {
    let reader = PytorchReader::new(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let keys = reader.keys();
    // Nested dicts come flattened with dots: fastai's file has `model.0.0.weight` and
    // `opt.state.0.grad_avg`.
    let top_level_key = STATE_DICT_KEYS
        .into_iter()
        .find(|top| {
            let prefix = format!("{top}.");
            keys.iter().any(|k| k.starts_with(&prefix) && k.ends_with(".weight"))
                && !keys.iter().any(|k| k == "conv1.weight" || k == "0.0.weight")
        })
        .map(str::to_string);
    let prefix = top_level_key.as_ref().map(|k| format!("{k}.")).unwrap_or_default();
    let mut float_types = Vec::new();
    let mut entries = Vec::new();
    for (name, tensor) in reader.tensors() {
        let Some(key) = name.strip_prefix(&prefix) else { continue };
        let dtype = format!("{:?}", tensor.dtype()).to_lowercase();
        if dtype.starts_with('f') || dtype.starts_with("bf") {
            float_types.push(dtype);
        }
        entries.push((key.to_string(), tensor.shape().to_vec()));
    }
    float_types.sort();
    float_types.dedup();
    Ok((top_level_key, entries, float_types))
}

/// The keys and shapes in a safetensors header.
fn read_safetensors_keys(path: &Path) -> Result<(Vec<Entry>, Vec<String>)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut length = [0u8; 8];
    file.read_exact(&mut length).with_context(|| format!("{} is cut short", path.display()))?;
    let length = u64::from_le_bytes(length);
    if length > 100 << 20 {
        bail!("{}: a safetensors header of {length} bytes is not plausible", path.display());
    }
    let mut header = vec![0u8; length as usize];
    file.read_exact(&mut header).with_context(|| format!("{} is cut short in its header", path.display()))?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).with_context(|| format!("{}: bad safetensors header", path.display()))?;
    let mut float_types = Vec::new();
    let mut entries = Vec::new();
    for (key, info) in header.iter().filter(|(k, _)| *k != "__metadata__") {
        let shape = info["shape"].as_array().map(|dims| dims.iter().filter_map(|d| d.as_u64()).map(|d| d as usize));
        let dtype = info["dtype"].as_str().unwrap_or_default().to_lowercase();
        if dtype.starts_with('f') || dtype.starts_with("bf") {
            float_types.push(dtype);
        }
        entries.push((key.clone(), shape.map(Iterator::collect).unwrap_or_default()));
    }
    float_types.sort();
    float_types.dedup();
    Ok((entries, float_types))
}

/// Layout, architecture and class count from the key names and shapes.
fn identify(entries: &[Entry]) -> Result<(TorchLayout, &'static str, Option<usize>)> {
    let has = |key: &str| entries.iter().any(|(k, _)| k == key);
    let layout = if has("conv1.weight") {
        TorchLayout::Torchvision
    } else if has("0.0.weight") {
        TorchLayout::Fastai
    } else {
        let shown: Vec<&str> = entries.iter().take(4).map(|(k, _)| k.as_str()).collect();
        bail!(
            "the state dict has neither torchvision's key names (conv1.weight, ..) nor fastai's (0.0.weight, ..); \
             its first keys are {shown:?}"
        );
    };
    if entries.iter().any(|(k, _)| k.ends_with(".conv3.weight")) {
        bail!("this is a Bottleneck ResNet (resnet50 or larger); Woofcam has resnet18 and resnet34");
    }
    let mut blocks = [0usize; 4];
    for (stage, count) in blocks.iter_mut().enumerate() {
        let prefix = match layout {
            TorchLayout::Torchvision => format!("layer{}.", stage + 1),
            TorchLayout::Fastai => format!("0.{}.", stage + 4),
        };
        let mut indices: Vec<&str> =
            entries.iter().filter_map(|(k, _)| k.strip_prefix(&prefix)?.split('.').next()).collect();
        indices.sort_unstable();
        indices.dedup();
        *count = indices.len();
    }
    let architecture = match blocks {
        [3, 4, 6, 3] => "resnet34",
        [2, 2, 2, 2] => "resnet18",
        other => bail!(
            "a ResNet with {other:?} blocks per stage; Woofcam has resnet18 [2, 2, 2, 2] and resnet34 [3, 4, 6, 3]"
        ),
    };
    let last = match layout {
        TorchLayout::Torchvision => "fc.weight",
        TorchLayout::Fastai => "1.8.weight",
    };
    let num_classes = entries.iter().find(|(k, _)| k == last).and_then(|(_, shape)| shape.first().copied());
    Ok((layout, architecture, num_classes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(keys: &[&str]) -> Vec<Entry> {
        keys.iter().map(|k| (k.to_string(), if k.ends_with("fc.weight") { vec![7, 512] } else { vec![4] })).collect()
    }

    #[test]
    fn identifies_layout_architecture_and_classes() {
        let mut keys = vec!["conv1.weight", "fc.weight", "fc.bias"];
        let blocks: Vec<String> = [2, 2, 2, 2]
            .iter()
            .enumerate()
            .flat_map(|(stage, &n)| (0..n).map(move |b| format!("layer{}.{b}.conv1.weight", stage + 1)))
            .collect();
        keys.extend(blocks.iter().map(String::as_str));
        let (layout, arch, classes) = identify(&entries(&keys)).unwrap();
        assert_eq!((layout, arch, classes), (TorchLayout::Torchvision, "resnet18", Some(7)));

        let error = identify(&entries(&["encoder.weight"])).unwrap_err().to_string();
        assert!(error.contains("neither torchvision's key names"), "{error}");
        let error = identify(&entries(&["conv1.weight", "layer1.0.conv3.weight"])).unwrap_err().to_string();
        assert!(error.contains("Bottleneck"), "{error}");
        let error = identify(&entries(&["0.0.weight", "0.4.0.conv1.weight"])).unwrap_err().to_string();
        assert!(error.contains("[1, 0, 0, 0] blocks"), "{error}");
    }

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/torch").join(name)
    }

    fn values<const D: usize>(tensor: burn::tensor::Tensor<D>) -> Vec<f32> {
        tensor.into_data().convert::<f32>().try_to_vec().unwrap()
    }

    #[test]
    fn inspects_fastai_and_torchvision_checkpoints() {
        let fastai = inspect(&fixture("fastai_resnet34.pth")).unwrap();
        assert_eq!(fastai.top_level_key.as_deref(), Some("model"));
        assert_eq!(
            (fastai.layout, fastai.architecture, fastai.num_classes),
            (TorchLayout::Fastai, "resnet34", Some(10))
        );
        assert_eq!((fastai.tensors, fastai.float_types.clone()), (228, vec!["f32".to_string()]));
        let torchvision = inspect(&fixture("torchvision_resnet34.pth")).unwrap();
        assert_eq!(torchvision.top_level_key, None);
        assert_eq!(torchvision.layout, TorchLayout::Torchvision);
        assert_eq!(torchvision.float_types, ["f16"]);
    }

    /// `--pretrained`: a torchvision state dict's body into a model with fastai's head.
    #[test]
    fn body_only_takes_the_body_and_leaves_the_head() {
        use burn::tensor::Device;
        use woofcam::model::{Head, ResNetConfig};

        let device = Device::flex();
        let path = fixture("torchvision_resnet34.pth");
        let full = load_torch_pth(
            ResNetConfig::torchvision_resnet34(10).init(&device),
            &path,
            TorchLayout::Torchvision,
            false,
        )
        .unwrap();
        let fresh = ResNetConfig::fastai_resnet34(10).init(&device);
        let head_before = match &fresh.head {
            Head::Fastai(head) => values(head.linear2.weight.val()),
            Head::Torchvision(_) => unreachable!(),
        };
        let model = load_torch_pth(fresh, &path, TorchLayout::Torchvision, true).unwrap();
        assert_eq!(values(model.body.conv1.weight.val()), values(full.body.conv1.weight.val()));
        let last = |m: &ResNet| values(m.body.layer4[2].bn2.running_var.value());
        assert_eq!(last(&model), last(&full));
        match &model.head {
            Head::Fastai(head) => assert_eq!(values(head.linear2.weight.val()), head_before),
            Head::Torchvision(_) => unreachable!(),
        }

        // The whole file into a model with fastai's head: the head is missing.
        let error =
            load_torch_pth(ResNetConfig::fastai_resnet34(10).init(&device), &path, TorchLayout::Torchvision, false)
                .unwrap_err();
        assert!(format!("{error:#}").contains("parameters are missing from the checkpoint"), "{error:#}");
    }
}
