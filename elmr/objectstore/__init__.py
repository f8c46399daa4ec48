"""The embedded object store: S3's semantics over files in DATA_DIR/buckets, with the
metadata in the store. Free of HTTP; elmr/api/s3.py speaks the protocol."""
