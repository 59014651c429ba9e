mod common;
use common::*;

#[tokio::test]
async fn publish_then_replay() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let results = publish(
        &mut client,
        "orders",
        vec![event("A", "1"), event("B", "2")],
    )
    .await;
    assert_eq!(
        results.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![0, 1]
    );
    let mut request = from_offset("orders", 0);
    request.stop_at_end = true;
    let mut stream = subscribe(&mut client, request).await;
    let responses = read_to_end(&mut stream).await;
    let events: Vec<_> = responses.iter().flat_map(|r| r.events.clone()).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(responses.last().unwrap().next_offset, 2);
    assert!(responses.last().unwrap().caught_up);
}
