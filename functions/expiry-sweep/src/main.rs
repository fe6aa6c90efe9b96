//! Scheduled expiry sweep: raises the expiry alert of every eSIM whose validity ends within the window, for
//! providers that never warn before a bundle ends (eSIM Go, Roamify). All behaviour lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_sweep().await
}
