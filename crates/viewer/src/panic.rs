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
        let message = info.to_string();
        // Also to the console: a panic inside an awaited future never reaches a promise.
        console_error(&message);
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
