//! A Rust panic in wasm reaches JavaScript as a bare `RuntimeError: unreachable`. The hook
//! keeps the panic's message so the page can say what went wrong (and restart the worker:
//! after a panic the instance's state cannot be trusted).

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook (once is enough; later calls replace it with the same).
pub fn remember_panics() {
    std::panic::set_hook(Box::new(|info| {
        // Also to the console: a panic inside an awaited future never reaches a promise.
        console_error(&info.to_string());
        // The page shows the message alone: the site's build leaves out source locations
        // (`-Zlocation-detail=none` in scripts/site.sh), which would read `<redacted>`.
        let message = info.payload_as_str().map_or_else(|| info.to_string(), str::to_owned);
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
