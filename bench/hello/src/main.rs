//! The smallest `lambda_http` function, built with the workspace's release profile: the reference the
//! esimhooks bootstraps' start-up and memory are compared with (scripts/coldstart.py).

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
