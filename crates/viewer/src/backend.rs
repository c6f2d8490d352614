//! Where the network runs: WebGPU when the browser offers a working GPU device, else the
//! CPU (Burn's flex backend compiled to wasm). The page shows which one, and why a fallback
//! happened.

use burn::tensor::Device;

/// The device a session runs on, and why it is not the one asked for (if it is not).
pub struct Choice {
    pub device: Device,
    /// `"webgpu"` or `"cpu"`.
    pub name: &'static str,
    pub fallback: Option<String>,
}

/// Picks the device: `"webgpu"` tries WebGPU first, anything else means the CPU.
pub async fn choose(wanted: &str) -> Choice {
    if wanted != "webgpu" {
        return cpu(None);
    }
    match webgpu().await {
        Ok(device) => Choice { device, name: "webgpu", fallback: None },
        Err(reason) => cpu(Some(reason)),
    }
}

fn cpu(fallback: Option<String>) -> Choice {
    Choice { device: Device::flex(), name: "cpu", fallback }
}

/// Initialises WebGPU and proves it with one small computation read back asynchronously
/// (an adapter can exist and still fail on first use).
#[cfg(all(target_family = "wasm", feature = "webgpu"))]
async fn webgpu() -> Result<Device, String> {
    use burn::tensor::Tensor;
    let device = Device::wgpu_options().init_async().await.map_err(|e| format!("WebGPU is unavailable: {e}"))?;
    let sum = Tensor::<1>::ones([4], &device).sum().into_data_async().await;
    match sum.map(|d| d.try_to_vec::<f32>()) {
        Ok(Ok(v)) if v == [4.0] => Ok(device),
        other => Err(format!("WebGPU gave a wrong answer on a test sum: {other:?}")),
    }
}

/// Natively the viewer's code runs for tests and reference numbers only, on the CPU; the
/// threaded build has no WebGPU (the page loads it only when it wants the CPU).
#[cfg(not(all(target_family = "wasm", feature = "webgpu")))]
async fn webgpu() -> Result<Device, String> {
    Err(if cfg!(target_family = "wasm") {
        "this build of the viewer has no WebGPU"
    } else {
        "WebGPU is only used in a browser"
    }
    .into())
}
