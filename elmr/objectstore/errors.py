"""S3's errors: a code, a message and an HTTP status, serialised as S3's XML by the
api layer."""


class S3Error(Exception):
    def __init__(self, code: str, message: str, status: int, **details: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details  # BucketName, Key… echoed in the error body
        self.headers: dict = {}  # sent with the error (x-amz-delete-marker…)
