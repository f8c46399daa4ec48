"""Markers for EMR's paged List* operations. Opaque to clients; a marker that does not
decode is the client's error (InvalidRequestException), never a 500."""

import base64
import json
from datetime import datetime

from elmr.service.errors import InvalidRequestException


def encode_keyset_marker(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_keyset_marker(marker: str) -> tuple[datetime, str]:
    try:
        created, row_id = json.loads(base64.urlsafe_b64decode(marker.encode()))
        return datetime.fromisoformat(created), str(row_id)
    except (ValueError, TypeError):
        raise InvalidRequestException(f"Marker '{marker}' is not valid.") from None


def offset_page(items: list, marker: str | None, page_size: int) -> tuple[list, str | None]:
    """A page of an already ordered, small list; the marker is the next offset."""
    start = 0
    if marker:
        try:
            start = int(marker)
        except ValueError:
            raise InvalidRequestException(f"Marker '{marker}' is not valid.") from None
        if not 0 <= start <= len(items):
            raise InvalidRequestException(f"Marker '{marker}' is not valid.")
    end = start + page_size
    return items[start:end], (str(end) if end < len(items) else None)
