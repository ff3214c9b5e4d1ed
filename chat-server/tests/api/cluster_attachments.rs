//! Attachments across two instances over one PostgreSQL database, one
//! Redis and one S3 bucket (a real S3-protocol server, moto): a file
//! uploaded through one instance is sent, received, downloaded and
//! deleted through the other, and either instance's sweep removes its
//! bytes from the bucket.

use std::io::Cursor;
use std::sync::Arc;

use chat_blob_store::testkit::ThrowawayS3;
use chat_core::store::{BlobKey, BlobStore};
use image::{ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::json;

use crate::cluster::{Cluster, ClusterSettings};

#[tokio::test]
async fn a_file_crosses_instances_through_postgres_and_s3() {
    let Some(s3) = ThrowawayS3::start().await else {
        return;
    };
    let blobs: Arc<dyn BlobStore> = Arc::new(s3.store("cluster"));
    let settings = ClusterSettings {
        blobs: Some(blobs.clone()),
        ..ClusterSettings::default()
    };
    let Some(c) = Cluster::start(2, settings).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let bob = b.signup("bob").await;
    let mut bob_ws = b.ws(&bob.access).await;

    // Uploaded through A: an image, so B serves its preview too.
    let mut png = Cursor::new(Vec::new());
    RgbImage::from_pixel(640, 480, Rgb([9, 99, 199]))
        .write_to(&mut png, ImageFormat::Png)
        .expect("encode");
    let png = png.into_inner();
    let r = a
        .http
        .post(a.url("/api/v1/attachments?filename=photo.png"))
        .bearer_auth(&alice.access)
        .body(png.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::CREATED);
    let file: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        (file["width"].clone(), file["preview"].clone()),
        (json!(640), json!(true))
    );
    let id = file["attachment_id"].as_str().expect("id").to_owned();

    // Sent through B, received live on B.
    let (status, sent) = b
        .post_as(
            &alice.access,
            "/api/v1/messages/send",
            json!({"recipient_id": bob.user_id, "attachments": [id]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let live = bob_ws.next_of("message.new").await;
    assert_eq!(live["attachments"], json!([file]));

    // Downloaded through both.
    for node in [a, b] {
        let r = node
            .http
            .get(node.url(&format!("/api/v1/attachments/{id}")))
            .bearer_auth(&bob.access)
            .send()
            .await
            .expect("download");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await.expect("bytes").to_vec(), png);
    }
    let r = b
        .http
        .get(b.url(&format!("/api/v1/attachments/{id}/preview")))
        .bearer_auth(&bob.access)
        .send()
        .await
        .expect("preview");
    assert_eq!(r.status(), StatusCode::OK);

    // Deleted through A: gone on B, and B's sweep clears the bucket.
    let path = format!(
        "/api/v1/conversations/{}/messages/{}",
        sent["conversation_id"].as_str().expect("conversation"),
        sent["message_id"].as_str().expect("message")
    );
    let (status, _) = a
        .call(reqwest::Method::DELETE, &path, &alice.access, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = b
        .get_as(&bob.access, &format!("/api/v1/attachments/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let prefix = BlobKey::new("attachments").expect("key");
    assert_eq!(
        blobs.list(&prefix).await.expect("list").len(),
        2,
        "file and preview"
    );
    let report = b.engine.attachments().sweep().await.expect("sweep");
    assert_eq!(report.blobs_removed, 1);
    assert!(blobs.list(&prefix).await.expect("list").is_empty());
    c.teardown().await;
}
