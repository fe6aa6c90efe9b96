//! The customer sender: an SQS trigger on the queue subscribed to the topic's alerts, telling each alert's
//! customer by SMS and email, each channel once. All behaviour lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_customers_sender().await
}
