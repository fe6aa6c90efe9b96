//! The send slots of a rate-limited endpoint on DynamoDB: one item per URL holds its theoretical arrival time
//! (`tat`, epoch ms; the rules are `callbacks::rate`), moved by one conditional update, with no read first. A
//! busy endpoint (its `tat` not behind now) gives the slot at `tat` and moves it a step on; an idle one (no
//! `tat`, or one gone by) gives now and starts again from there. Concurrent senders on the busy branch queue
//! up inside DynamoDB; only the idle branch can race, and its loser tries again, then finds it busy.

use crate::callbacks::rate::{at_ms, reserve, step_ms};
use crate::store::dynamodb::{get_n, item_key, n, unavailable, Item};
use crate::store::keys::RATE_SK;
use crate::store::StoreError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};

/// Tries before giving up: each lost race means another sender took a slot meanwhile.
const TRIES: usize = 5;

/// How long the item outlives its last use (clean-up only): longer than any job waits on its queue.
const KEEP: Duration = Duration::days(30);

/// One way of moving `tat`: the update, the condition it needs and the placeholders they use.
struct Move {
    update: &'static str,
    condition: &'static str,
}

const NAMES: [(&str, &str); 2] = [("#tat", "tat"), ("#ttl", "ttl")];

/// The slot after the ones taken: `tat` itself (returned moved on a step).
const BUSY: Move = Move {
    update: "SET #tat = #tat + :step, #ttl = :ttl",
    condition: "#tat >= :now",
};

/// Nothing taken ahead of now: the slot is now, the next a step later.
const IDLE: Move = Move {
    update: "SET #tat = :next, #ttl = :ttl",
    condition: "attribute_not_exists(#tat) OR #tat < :now",
};

/// The values `movement` uses, given the step, now and the next `tat` from now (all epoch ms).
fn values(movement: &Move, step: i64, now: i64, next: i64, ttl: i64) -> Vec<(&'static str, AttributeValue)> {
    let all = [(":step", step), (":now", now), (":next", next), (":ttl", ttl)];
    all.into_iter()
        .filter(|(placeholder, _)| movement.update.contains(placeholder) || movement.condition.contains(placeholder))
        .map(|(placeholder, value)| (placeholder, n(value)))
        .collect()
}

/// Takes the next send slot of the endpoint whose key is `pk`, at `rate` a second.
pub(super) async fn reserve_slot(
    client: &Client,
    table: &str,
    pk: &str,
    rate: u32,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, StoreError> {
    let now_ms = now.timestamp_millis();
    let step = step_ms(rate);
    let idle = reserve(None, now_ms, rate);
    let ttl = (now + KEEP).timestamp();
    for _ in 0..TRIES {
        for movement in [&BUSY, &IDLE] {
            let mut request = client
                .update_item()
                .table_name(table)
                .set_key(Some(item_key(pk.to_string(), RATE_SK)))
                .update_expression(movement.update)
                .condition_expression(movement.condition)
                .return_values(ReturnValue::UpdatedNew);
            for (placeholder, name) in NAMES {
                request = request.expression_attribute_names(placeholder, name);
            }
            for (placeholder, value) in values(movement, step, now_ms, idle.tat_ms, ttl) {
                request = request.expression_attribute_values(placeholder, value);
            }
            match request.send().await {
                Ok(output) => {
                    let tat = output
                        .attributes
                        .as_ref()
                        .and_then(|item: &Item| get_n(item, "tat"))
                        .ok_or_else(|| StoreError::Corrupt("a send-slot item without tat".into()))?;
                    return Ok(at_ms(tat - step));
                }
                Err(error)
                    if matches!(
                        error.as_service_error(),
                        Some(UpdateItemError::ConditionalCheckFailedException(_))
                    ) => {}
                Err(error) => return Err(unavailable(error)),
            }
        }
    }
    Err(StoreError::Unavailable(
        "an endpoint's send slots changed under every try".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_defined_and_used() {
        for movement in [&BUSY, &IDLE] {
            let text = format!("{} {}", movement.update, movement.condition);
            let used: Vec<&str> = text
                .split(|c: char| !(c.is_alphanumeric() || c == ':' || c == '#' || c == '_'))
                .filter(|word| word.starts_with(':'))
                .collect();
            let defined: Vec<&str> = values(movement, 1, 2, 3, 4).iter().map(|(p, _)| *p).collect();
            for placeholder in &used {
                assert!(defined.contains(placeholder), "{placeholder} in {text}");
            }
            for placeholder in &defined {
                assert!(used.contains(placeholder), "{placeholder} unused in {text}");
            }
            for (name, _) in NAMES {
                assert!(text.contains(name), "{name} unused in {text}");
            }
        }
    }
}
