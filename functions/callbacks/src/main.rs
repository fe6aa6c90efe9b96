//! Partner callbacks API: register, list and delete callback URLs, fire echoes. All behaviour lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_callbacks().await
}
