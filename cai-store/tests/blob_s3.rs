//! [`S3BlobStore`] against a real S3-compatible server: cai-core's blob conformance
//! suite, a 64 MiB sealed file through multipart uploads with bounded memory, and
//! failed multipart uploads that leave neither an object nor an open upload.
//!
//! `scripts/test-all.sh` starts `moto` in server mode on 127.0.0.1 and exports its URL
//! as `CAI_TEST_S3_ENDPOINT`. Without it these tests fail, naming the script — they
//! never pass by skipping. Each store gets a bucket of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]

mod sealed;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use cai_core::conformance::blobs::{FailingSource, pattern};
use cai_core::id::{BlobId, TenantId};
use cai_core::ports::{BlobError, BlobStore, BytesChunks, DynBlobStore};
use cai_store::blobs::{MIN_PART_LEN, S3BlobStore};
use object_store::aws::AmazonS3Builder;

const ENDPOINT_VAR: &str = "CAI_TEST_S3_ENDPOINT";

fn endpoint() -> String {
    std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!(
            "{ENDPOINT_VAR} is not set: the S3 tests need the S3-compatible server \
             (moto) that scripts/test-all.sh starts; run them through that script, or \
             start `python3 -m moto.server -H 127.0.0.1 -p <port>` and set \
             {ENDPOINT_VAR}=http://127.0.0.1:<port>"
        )
    })
}

/// One plain HTTP request to the test server (which checks no signatures); returns
/// the status line and body.
fn raw_request(method: &str, path: &str) -> (String, String) {
    let endpoint = endpoint();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A fresh bucket and a store on it (5 MiB parts, the smallest S3 allows).
fn s3_store() -> (String, S3BlobStore) {
    let bucket = format!("cai-{}", hex::encode(BlobId::random().unwrap().as_bytes()));
    let (status, body) = raw_request("PUT", &format!("/{bucket}"));
    assert!(
        status.contains(" 200 "),
        "creating the bucket: {status} {body}"
    );
    let s3 = AmazonS3Builder::new()
        .with_endpoint(endpoint())
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(&bucket)
        .with_access_key_id("cai-test")
        .with_secret_access_key("cai-test")
        .build()
        .unwrap();
    let store = S3BlobStore::new(Arc::new(s3), "cai/blobs")
        .unwrap()
        .with_part_len(MIN_PART_LEN);
    (bucket, store)
}

/// Multipart uploads the bucket still holds open.
fn open_uploads(bucket: &str) -> usize {
    let (status, body) = raw_request("GET", &format!("/{bucket}?uploads"));
    assert!(status.contains(" 200 "), "listing uploads: {status} {body}");
    body.matches("<UploadId>").count()
}

cai_core::blob_conformance_tests!(async { Arc::new(s3_store().1) as DynBlobStore });

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_64_mib_multipart_with_bounded_memory() {
    let (bucket, store) = s3_store();
    sealed::round_trip(Arc::new(store), 64 << 20, 64 << 20).await;
    assert_eq!(open_uploads(&bucket), 0);
}

#[tokio::test]
async fn failed_multipart_uploads_are_aborted() {
    let (bucket, store) = s3_store();
    let (t, b) = (TenantId::random().unwrap(), BlobId::random().unwrap());

    // The source breaks after two full parts have gone up.
    let mut source = FailingSource::new(pattern(1, 2 * MIN_PART_LEN + 1000));
    let error = store.put(t, b, u64::MAX, &mut source).await.unwrap_err();
    assert!(matches!(error, BlobError::Source(_)), "{error:?}");
    assert!(store.get(t, b).await.unwrap().is_none());
    assert_eq!(open_uploads(&bucket), 0, "the multipart upload was aborted");

    // Past the limit in the middle of a multipart upload.
    let limit = (MIN_PART_LEN as u64) * 3 / 2;
    let mut source = BytesChunks::new(pattern(2, 2 * MIN_PART_LEN));
    assert_eq!(
        store.put(t, b, limit, &mut source).await,
        Err(BlobError::TooLarge { limit })
    );
    assert!(store.get(t, b).await.unwrap().is_none());
    assert_eq!(open_uploads(&bucket), 0);
    assert!(store.list(t, None, 10).await.unwrap().is_empty());

    // A multipart blob of exactly the limit is stored.
    let mut source = BytesChunks::new(pattern(3, limit as usize));
    assert_eq!(store.put(t, b, limit, &mut source).await.unwrap(), limit);
    assert_eq!(store.size(t, b).await.unwrap(), Some(limit));
}
