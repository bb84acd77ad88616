//! Loom models of the facade itself: the modelled timeout lets a model see
//! both "notified before the deadline" and "timed out".
#![cfg(loom)]

use synclings::sync::{thread, Arc, Condvar, Instant, Mutex};

#[test]
fn modelled_timeout_explores_both_outcomes() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new((false, false)));
    let seen2 = seen.clone();
    loom::model(move || {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = pair.clone();
        let t = thread::spawn(move || {
            *p.0.lock() = true;
            p.1.notify_one();
        });
        let (flag, cv) = &*pair;
        let mut g = flag.lock();
        let mut timed_out = false;
        while !*g {
            let (g2, to) = cv.wait_until(g, Instant::now());
            g = g2;
            if to {
                timed_out = !*g;
                break;
            }
        }
        drop(g);
        t.join().unwrap();
        let mut s = seen2.lock().unwrap();
        if timed_out {
            s.1 = true;
        } else {
            s.0 = true;
        }
    });
    let s = *seen.lock().unwrap();
    assert!(s.0, "loom never explored the notify winning");
    assert!(s.1, "loom never explored the timeout winning");
}
