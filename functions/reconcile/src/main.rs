//! Asking the providers' APIs, deployed twice from this one binary: on its schedule it queues the due eSIMs,
//! on its queue it asks them (docs/reconcile.md). All behaviour lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_reconcile().await
}
