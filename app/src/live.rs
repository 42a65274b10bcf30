//! The tab's one stream of live updates, `GET /events` (src/events.rs): opened by the
//! first component that listens and shared by every page after it, so a tab holds one
//! connection however many live parts it shows (the bell, a board, the review queue).

/// Calls `on` for each `kind` event ("deal", "notice", "review") while the calling
/// component lives: with the event's data, or with `None` when updates may have been
/// missed (the stream reconnected or fell behind), so the caller re-reads everything.
pub fn on_event(kind: &'static str, on: impl Fn(Option<String>) + 'static) {
    #[cfg(feature = "hydrate")]
    imp::on_event(kind, on);
    #[cfg(not(feature = "hydrate"))]
    let _ = (kind, on);
}

#[cfg(feature = "hydrate")]
mod imp {
    use leptos::prelude::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    thread_local! {
        static SOURCE: RefCell<Option<web_sys::EventSource>> = const { RefCell::new(None) };
        /// How many times the stream has opened: past the first, each is a reconnect.
        static OPENS: Cell<u32> = const { Cell::new(0) };
    }

    fn source() -> Option<web_sys::EventSource> {
        SOURCE.with(|cell| {
            if cell.borrow().is_none() {
                let source = web_sys::EventSource::new("/events").ok()?;
                // Registered first, so it counts an open before any listener asks.
                let count = Closure::<dyn Fn()>::new(|| OPENS.with(|n| n.set(n.get() + 1)));
                source
                    .add_event_listener_with_callback("open", count.as_ref().unchecked_ref())
                    .ok()?;
                count.forget();
                *cell.borrow_mut() = Some(source);
            }
            cell.borrow().clone()
        })
    }

    type Listener = Closure<dyn Fn(web_sys::Event)>;

    pub fn on_event(kind: &'static str, on: impl Fn(Option<String>) + 'static) {
        let Some(source) = source() else {
            return;
        };
        let on = Rc::new(on);
        let data = on.clone();
        let event: Listener = Closure::new(move |ev: web_sys::Event| {
            let text = ev
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|m| m.data().as_string());
            data(Some(text.unwrap_or_default()));
        });
        let gap: Listener = Closure::new(move |ev: web_sys::Event| {
            if ev.type_() == "resync" || OPENS.with(|n| n.get()) > 1 {
                on(None);
            }
        });
        let gap = Rc::new(gap);
        let listeners: Vec<(&'static str, Rc<Listener>)> = vec![
            (kind, Rc::new(event)),
            ("open", gap.clone()),
            ("resync", gap),
        ];
        for (name, listener) in &listeners {
            let _ = source
                .add_event_listener_with_callback(name, (**listener).as_ref().unchecked_ref());
        }
        let held = StoredValue::new_local((source, listeners));
        on_cleanup(move || {
            held.try_with_value(|(source, listeners)| {
                for (name, listener) in listeners {
                    let _ = source.remove_event_listener_with_callback(
                        name,
                        (**listener).as_ref().unchecked_ref(),
                    );
                }
            });
        });
    }
}
