//! The integration tests against moto (DynamoDB, SNS, SQS, SES on loopback, started by scripts/test.sh) and
//! against loopback HTTP receivers: the production code path as deployed. One binary, so the test build links
//! the AWS SDK once (`cargo test -p shared --test moto`).

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/moto_rig.rs"]
mod moto_rig;
#[path = "../common/receiver.rs"]
mod receiver;

mod callback_http;
mod callback_queue;
mod callback_sender;
mod callbacks;
mod conformance;
mod customers;
mod faults;
mod hostile;
mod layout;
mod migrate;
mod notify;
mod pipeline;
mod providers;
