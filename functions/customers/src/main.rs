//! Customer directory API: the reseller's order system registers a sold eSIM's contact. All behaviour lives in
//! `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_customers().await
}
