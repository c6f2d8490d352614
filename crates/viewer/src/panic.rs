//! A Rust panic in wasm reaches JavaScript as a bare `RuntimeError: unreachable`. The hook
//! keeps the panic's message so the page can say what went wrong (and restart the worker:
//! after a panic the instance's state cannot be trusted).
//!
//! In the threaded build a panic on one of the pool's threads never reaches the worker's
//! own thread, which stays blocked waiting for the panicked thread's share of the work. So
//! the hook also posts the message on a `BroadcastChannel` that the page listens to, and the
//! page replaces the worker.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The page's channel for panics on the pool's threads (set once per worker).
#[cfg(feature = "threads")]
static POOL_PANICS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Installs the hook (once is enough; later calls replace it with the same).
pub fn remember_panics() {
    std::panic::set_hook(Box::new(|info| {
        // Also to the console: a panic inside an awaited future never reaches a promise.
        console_error(&info.to_string());
        // The page shows the message alone: the site's build leaves out source locations
        // (`-Zlocation-detail=none` in scripts/site.sh), which would read `<redacted>`.
        let message = info.payload_as_str().map_or_else(|| info.to_string(), str::to_owned);
        #[cfg(feature = "threads")]
        if let (Some(_), Some(channel)) = (rayon::current_thread_index(), POOL_PANICS.get()) {
            broadcast(channel, &message);
        }
        LAST.with(|last| *last.borrow_mut() = Some(message));
    }));
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// The message of the last panic, if any.
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST.with(|last| last.borrow().clone())
}

/// Has panics on the pool's threads posted on the `BroadcastChannel` named `channel`.
#[cfg(feature = "threads")]
#[wasm_bindgen(js_name = reportPoolPanicsTo)]
pub fn report_pool_panics_to(channel: String) {
    // A worker loads the viewer once, so the first name is the only one.
    let _ = POOL_PANICS.set(channel);
}

#[cfg(feature = "threads")]
fn broadcast(channel: &str, message: &str) {
    if let Ok(channel) = web_sys::BroadcastChannel::new(channel) {
        let _ = channel.post_message(&JsValue::from_str(message));
        channel.close();
    }
}

/// Panics on one of the pool's threads while this thread waits for it, as a bug in a
/// parallel kernel would. The browser tests call it to check that the page recovers.
#[cfg(feature = "threads")]
#[wasm_bindgen(js_name = panicOnPoolThread)]
pub fn panic_on_pool_thread() {
    rayon::join(|| (), || panic!("a panic on a pool thread, asked for by panicOnPoolThread"));
}
