//! One conditional change to one item, built up attribute by attribute: what to set, what to remove, and the
//! attributes that must still be as they were read. Placeholders are made only for what is used (DynamoDB
//! rejects unused ones).

use crate::store::dynamodb::{built, Item};
use crate::store::StoreError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use std::collections::{BTreeMap, HashMap};

/// The edit's condition and placeholders on a request builder: every kind of write names those setters alike.
macro_rules! expressed {
    ($builder:expr, $edit:expr) => {
        $builder
            .set_condition_expression($edit.condition())
            .set_expression_attribute_names($edit.names())
            .set_expression_attribute_values($edit.values())
    };
}

#[derive(Debug, Default)]
pub(super) struct Edit {
    set: Vec<String>,
    remove: Vec<String>,
    conditions: Vec<String>,
    /// Attribute name to its placeholder.
    names: BTreeMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Edit {
    /// An edit of an item that must exist.
    pub(super) fn existing() -> Self {
        let mut edit = Self::default();
        let pk = edit.name("pk");
        edit.conditions.push(format!("attribute_exists({pk})"));
        edit
    }

    fn name(&mut self, attribute: &str) -> String {
        let next = format!("#a{}", self.names.len());
        self.names.entry(attribute.to_string()).or_insert(next).clone()
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(super) fn set(&mut self, attribute: &str, value: AttributeValue) {
        let (name, value) = (self.name(attribute), self.value(value));
        self.set.push(format!("{name} = {value}"));
    }

    pub(super) fn remove(&mut self, attribute: &str) {
        let name = self.name(attribute);
        self.remove.push(name);
    }

    /// A condition: `attribute` is still as it is in `read` (or still absent).
    pub(super) fn unchanged(&mut self, read: &Item, attribute: &str) {
        let name = self.name(attribute);
        let condition = match read.get(attribute) {
            Some(value) => format!("{name} = {}", self.value(value.clone())),
            None => format!("attribute_not_exists({name})"),
        };
        self.conditions.push(condition);
    }

    /// A condition: `attribute` is absent.
    pub(super) fn absent(&mut self, attribute: &str) {
        let name = self.name(attribute);
        self.conditions.push(format!("attribute_not_exists({name})"));
    }

    fn update_expression(&self) -> String {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            parts.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        parts.join(" ")
    }

    fn condition(&self) -> Option<String> {
        (!self.conditions.is_empty()).then(|| self.conditions.join(" AND "))
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.iter().map(|(name, p)| (p.clone(), name.clone())).collect())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    pub(super) fn on_update(self, request: UpdateItemFluentBuilder) -> UpdateItemFluentBuilder {
        expressed!(request.update_expression(self.update_expression()), self)
    }

    /// The edit as one update of a transaction.
    pub(super) fn update(self, table: &str, key: Item) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder().table_name(table).set_key(Some(key));
        let update = expressed!(update.update_expression(self.update_expression()), self);
        Ok(TransactWriteItem::builder().update(built(update.build())?).build())
    }

    /// The conditions alone, on a put of the whole `item`, in a transaction.
    pub(super) fn put(self, table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = expressed!(Put::builder().table_name(table).set_item(Some(item)), self);
        Ok(TransactWriteItem::builder().put(built(put.build())?).build())
    }

    /// The conditions alone, on deleting the item at `key`, in a transaction.
    pub(super) fn delete(self, table: &str, key: Item) -> Result<TransactWriteItem, StoreError> {
        let delete = expressed!(Delete::builder().table_name(table).set_key(Some(key)), self);
        Ok(TransactWriteItem::builder().delete(built(delete.build())?).build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamodb::{item_key, s};

    #[test]
    fn every_placeholder_is_defined_once_and_used() {
        let mut read = item_key("EVENT#x#1".into(), "EVENT");
        read.insert("event".into(), s("{}"));
        let mut edit = Edit::existing();
        edit.absent("doc");
        edit.set("doc", AttributeValue::B(vec![1].into()));
        edit.unchanged(&read, "event");
        edit.remove("event");
        edit.unchanged(&read, "gsi1pk");
        let (update, condition) = (edit.update_expression(), edit.condition());
        assert_eq!(update, "SET #a1 = :v0 REMOVE #a2");
        assert_eq!(
            condition.unwrap(),
            "attribute_exists(#a0) AND attribute_not_exists(#a1) AND #a2 = :v1 AND attribute_not_exists(#a3)"
        );
        let names = edit.names().unwrap();
        assert_eq!(names.len(), 4);
        assert_eq!(names["#a3"], "gsi1pk");
        assert_eq!(edit.values().unwrap().len(), 2);
        let bare = Edit::default();
        assert!(bare.condition().is_none() && bare.names().is_none() && bare.values().is_none());
    }
}
