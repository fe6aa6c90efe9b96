//! The partner callback sender: an SQS trigger that fans notifications out to partners' endpoints and
//! delivers each with retries. All behaviour lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_callback_sender().await
}
