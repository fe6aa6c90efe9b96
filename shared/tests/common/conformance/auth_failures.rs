//! `AuthFailures`: one counter per subject (a source address, a presented partner id) and five-minute window,
//! counted together by concurrent callers; a new window starts from nothing. (Only the current window is
//! asked about: the memory counter keeps no other.)

use chrono::{DateTime, Utc};
use shared::callbacks::throttle::{AuthFailures, Subject, Window};

macro_rules! contracts {
    ($port:expr, [$($ignored:tt)*]) => {
        crate::common::conformance::emit!(auth_failures, $port, [
            failures_are_counted_per_subject_and_window,
        ], [$($ignored)*]);
    };
}
pub(crate) use contracts;

pub async fn failures_are_counted_per_subject_and_window<F: AuthFailures + ?Sized>(failures: &F, now: DateTime<Utc>) {
    let source = Subject::source("198.51.100.7".parse().expect("an address"));
    let partner = Subject::partner("acme");
    let window = Window::at(now);
    assert_eq!(failures.count(&source, window).await.unwrap(), 0);
    let adds = (0..5).map(|_| failures.add(&source, window));
    for added in futures_util::future::join_all(adds).await {
        added.unwrap();
    }
    assert_eq!(
        failures.count(&source, window).await.unwrap(),
        5,
        "concurrent adds all count"
    );
    assert_eq!(failures.count(&partner, window).await.unwrap(), 0, "per subject");
    failures.add(&partner, window).await.unwrap();
    assert_eq!(failures.count(&partner, window).await.unwrap(), 1);
    assert_eq!(
        failures
            .count(&Subject::source("198.51.100.8".parse().expect("an address")), window)
            .await
            .unwrap(),
        0
    );

    let next = Window::at(window.end());
    assert_ne!(next, window);
    assert_eq!(failures.count(&source, next).await.unwrap(), 0, "a new window");
    failures.add(&source, next).await.unwrap();
    assert_eq!(failures.count(&source, next).await.unwrap(), 1);
    assert_eq!(failures.count(&partner, next).await.unwrap(), 0);
}
