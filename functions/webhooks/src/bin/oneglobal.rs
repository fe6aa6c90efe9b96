//! A provider's webhook receiver: serves the provider this binary is named after. All behaviour is in `shared`.
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_named(env!("CARGO_BIN_NAME")).await
}
