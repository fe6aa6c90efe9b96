//! Roamify webhook receiver. All behaviour lives in `shared`; this binary only names its provider.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(shared::model::ProviderId::Roamify).await
}
