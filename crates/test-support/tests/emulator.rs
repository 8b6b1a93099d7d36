//! The emulator keeps DynamoDB's promise that each request is atomic (see
//! scripts/emulator_server.py): moto alone undoes concurrent writes when a transaction fails.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use common::aws::dynamo::{KeyAttribute, TableSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_transaction_never_undoes_a_concurrent_write() {
    let endpoint = test_support::emulator::endpoint();
    let client = common::aws::dynamodb(&common::aws::load_sdk_config(Some(&endpoint)).await);
    let prefix = test_support::emulator::unique_prefix();
    let spec = TableSpec {
        name: "items",
        hash_key: KeyAttribute::string("id"),
        range_key: None,
        ttl_attribute: None,
        global_secondary_indexes: vec![],
    };
    common::aws::dynamo::ensure_table(&client, &prefix, &spec)
        .await
        .unwrap();
    let table = spec.full_name(&prefix);
    let id = |id: &str| AttributeValue::S(id.to_owned());
    client
        .put_item()
        .table_name(&table)
        .item("id", id("taken"))
        .send()
        .await
        .unwrap();

    // Writers put items while transactions on the same table keep failing their condition.
    let writers = (0..4).map(|writer| {
        let (client, table) = (client.clone(), table.clone());
        tokio::spawn(async move {
            for n in 0..40 {
                client
                    .put_item()
                    .table_name(&table)
                    .item("id", id(&format!("w{writer}-{n}")))
                    .send()
                    .await
                    .unwrap();
            }
        })
    });
    let failing = (0..4).map(|_| {
        let (client, table) = (client.clone(), table.clone());
        tokio::spawn(async move {
            for _ in 0..40 {
                // New items first, then one whose condition fails: all or nothing.
                // Large items keep moto busy inside the transaction for many milliseconds.
                let put = |key: String, condition: &str| {
                    let put = Put::builder()
                        .table_name(&table)
                        .item("id", id(&key))
                        .item("padding", id(&"x".repeat(100_000)))
                        .condition_expression(condition)
                        .build()
                        .unwrap();
                    TransactWriteItem::builder().put(put).build()
                };
                let mut items: Vec<_> = (0..24)
                    .map(|_| put(uuid::Uuid::new_v4().to_string(), "attribute_not_exists(id)"))
                    .collect();
                items.push(put("taken".into(), "attribute_not_exists(id)"));
                let result = client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await;
                assert!(result.is_err(), "the last item exists: the condition fails");
            }
        })
    });
    let tasks: Vec<_> = writers.chain(failing).collect();
    for task in tasks {
        task.await.unwrap();
    }

    let stored = client
        .scan()
        .table_name(&table)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .count;
    assert_eq!(stored, 1 + 4 * 40, "every acknowledged put is still there");
}
