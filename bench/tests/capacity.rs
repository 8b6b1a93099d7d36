//! The emulator's capacity meter (scripts/emulator_capacity.py), which the bench's scale
//! mode reads: items read and capacity units per request, computed from item sizes as
//! DynamoDB bills them. Each case writes items of known size to a fresh table and checks
//! what `GET /__emulator/stats` says the requests cost.
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ScalarAttributeType, Select, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use serde_json::Value;

/// 2,000 bytes of padding: with the key and names, each item is just over 2 KB (2 write
/// units), two make one 4 KB read unit.
const PAD: usize = 2000;

struct Table {
    client: Client,
    name: String,
    endpoint: String,
}

impl Table {
    async fn create() -> Self {
        let endpoint = test_support::emulator::endpoint();
        let config = common::aws::load_sdk_config(Some(&endpoint)).await;
        let client = common::aws::dynamodb(&config);
        let name = format!("{}capacity", test_support::emulator::unique_prefix());
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .unwrap()
        };
        let string = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap()
        };
        client
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string("id"))
            .attribute_definitions(string("group"))
            .key_schema(key("id", KeyType::Hash))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("by-group")
                    .key_schema(key("group", KeyType::Hash))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        Self {
            client,
            name,
            endpoint,
        }
    }

    /// `count` padded items `i0`, `i1`, ...; the first `grouped` carry the index key.
    async fn fill(&self, count: usize, grouped: usize) {
        for i in 0..count {
            let mut item = HashMap::from([
                ("id".to_owned(), AttributeValue::S(format!("i{i}"))),
                ("pad".to_owned(), AttributeValue::S("x".repeat(PAD))),
            ]);
            if i < grouped {
                item.insert("group".to_owned(), AttributeValue::S("g".to_owned()));
            }
            self.client
                .put_item()
                .table_name(&self.name)
                .set_item(Some(item))
                .send()
                .await
                .unwrap();
        }
    }

    /// What the emulator says this table stores.
    async fn sizes(&self) -> Value {
        let url = format!("{}/__emulator/sizes?prefix={}", self.endpoint, self.name);
        let sizes: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        sizes[&self.name].clone()
    }

    /// This table's counts for `operation`, since it was created.
    async fn stats(&self, operation: &str) -> Value {
        let stats: Value = reqwest::get(format!("{}/__emulator/stats", self.endpoint))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["dynamodb"][&self.name][operation].clone()
    }
}

fn key(id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("id".to_owned(), AttributeValue::S(id.to_owned()))])
}

#[tokio::test]
async fn a_filtered_scan_bills_every_item_it_read_not_only_those_it_returned() {
    let table = Table::create().await;
    table.fill(10, 0).await;
    let scan = table
        .client
        .scan()
        .table_name(&table.name)
        .filter_expression("id = :id")
        .expression_attribute_values(":id", AttributeValue::S("i1".to_owned()))
        .send()
        .await
        .unwrap();
    assert_eq!(scan.count, 1);
    let counts = table.stats("Scan").await;
    assert_eq!(counts["items_read"], 10, "{counts}");
    assert_eq!(counts["items_returned"], 1, "{counts}");
    // 10 items of ~2 KB: 20 KB read, 5 units of 4 KB, halved (eventually consistent).
    assert_eq!(counts["read_units"], 2.5, "{counts}");

    // A page of 4 reads 4, whatever the table holds; counting costs the same as reading.
    table
        .client
        .scan()
        .table_name(&table.name)
        .limit(4)
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    let counts = table.stats("Scan COUNT").await;
    assert_eq!(counts["items_read"], 4, "{counts}");
    assert_eq!(counts["read_units"], 1.0, "{counts}");
}

#[tokio::test]
async fn an_index_query_reads_only_the_items_under_its_key() {
    let table = Table::create().await;
    table.fill(10, 3).await;
    table
        .client
        .query()
        .table_name(&table.name)
        .index_name("by-group")
        .key_condition_expression("#g = :g")
        .expression_attribute_names("#g", "group")
        .expression_attribute_values(":g", AttributeValue::S("g".to_owned()))
        .send()
        .await
        .unwrap();
    let counts = table.stats("Query@by-group").await;
    assert_eq!(counts["items_read"], 3, "{counts}");
    assert_eq!(counts["read_units"], 1.0, "{counts}");
}

#[tokio::test]
async fn a_get_costs_one_unit_per_4_kb_and_a_miss_costs_the_minimum() {
    let table = Table::create().await;
    table.fill(1, 0).await;
    let get = |id: &'static str, consistent: bool| {
        table
            .client
            .get_item()
            .table_name(&table.name)
            .set_key(Some(key(id)))
            .consistent_read(consistent)
            .send()
    };
    get("i0", true).await.unwrap();
    get("missing", false).await.unwrap();
    let counts = table.stats("GetItem").await;
    assert_eq!(counts["calls"], 2, "{counts}");
    assert_eq!(counts["items_read"], 1, "{counts}");
    assert_eq!(counts["read_units"], 1.5, "{counts}");
}

#[tokio::test]
async fn writes_bill_per_kb_with_index_writes_and_transactions_twice() {
    let table = Table::create().await;
    // 10 items of ~2 KB (2 units each), 3 of them also written to the index (2 each).
    table.fill(10, 3).await;
    assert_eq!(table.stats("PutItem").await["write_units"], 26.0);

    // Putting the index key on an item adds its index entry: 2 + 2.
    table
        .client
        .update_item()
        .table_name(&table.name)
        .set_key(Some(key("i4")))
        .update_expression("SET #g = :g")
        .expression_attribute_names("#g", "group")
        .expression_attribute_values(":g", AttributeValue::S("h".to_owned()))
        .send()
        .await
        .unwrap();
    assert_eq!(table.stats("UpdateItem").await["write_units"], 4.0);

    // A small item in a transaction: 2 x 1 unit, plus its index entry.
    let put = Put::builder()
        .table_name(&table.name)
        .item("id", AttributeValue::S("t".to_owned()))
        .item("group", AttributeValue::S("g".to_owned()))
        .build()
        .unwrap();
    table
        .client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .send()
        .await
        .unwrap();
    assert_eq!(table.stats("TransactWriteItems").await["write_units"], 3.0);
}

#[tokio::test]
async fn storage_is_counted_per_table_and_index_in_item_bytes() {
    let table = Table::create().await;
    table.fill(10, 3).await;
    let sizes = table.sizes().await;
    // `id` + `i0` + `pad` + 2,000 bytes = 2,007 per item; `group` + `g` = 6 more on three.
    assert_eq!(sizes["items"], 10, "{sizes}");
    assert_eq!(sizes["bytes"], 10 * 2007 + 3 * 6, "{sizes}");
    assert_eq!(sizes["indexes"]["by-group"]["items"], 3, "{sizes}");
    assert_eq!(sizes["indexes"]["by-group"]["bytes"], 3 * 2013, "{sizes}");
}
