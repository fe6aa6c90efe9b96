//! Airalo webhook receiver (POST deliveries and the HEAD opt-in check). All behaviour lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(shared::model::ProviderId::Airalo).await
}
