"""ListObjectVersions: every version of every key under a prefix, keys in order and
each key's versions newest first: its current object (in any bucket: the only
version, `null`, of a bucket that never had versioning), then the versions kept and
delete markers (versions.py). Bucket clean-up in many tools lists versions before
anything else, versioned bucket or not."""

from dataclasses import dataclass
from datetime import datetime

from elmr.objectstore import objects, versions
from elmr.objectstore.context import StoreContext

ALL = 10 ** 9


@dataclass
class Entry:
    key: str
    version_id: str
    is_latest: bool
    delete_marker: bool
    etag: str
    size: int
    last_modified: datetime
    checksum: dict | None


@dataclass
class VersionListing:
    entries: list  # [Entry]
    common_prefixes: list  # [str]
    truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


def _entries_of(key: str, current: objects.ObjectView | None, kept: list) -> list[Entry]:
    entries = []
    if current is not None:
        entries.append(Entry(key, versions.wire_id(current.version_id), False, False, current.etag, current.size,
                             current.last_modified, current.checksum))
    entries += [Entry(key, version.version_id, False, version.delete_marker, version.etag, version.size,
                      version.last_modified, version.checksum) for version in kept]
    if entries:
        entries[0].is_latest = True
    return entries


def list_versions(ctx: StoreContext, bucket: str, prefix: str = "", delimiter: str = "", key_marker: str = "",
                  version_id_marker: str = "", max_keys: int = 1000) -> VersionListing:
    current = {view.key: view for view in objects.list_objects(ctx, bucket, prefix, max_keys=ALL).contents}
    with ctx.store.core_transaction() as connection:
        kept = versions.noncurrent(connection, bucket, prefix)
    listing = VersionListing([], [], False, None, None)
    for key in sorted(current.keys() | kept.keys()):
        if key < key_marker or (key == key_marker and not version_id_marker):
            continue
        rest = key[len(prefix):]
        if delimiter and delimiter in rest:
            common = key[:len(prefix) + rest.index(delimiter) + len(delimiter)]
            if common in listing.common_prefixes or common <= key_marker:
                continue
            if not _room_for(listing, max_keys, common, None):
                break
            listing.common_prefixes.append(common)
            continue
        entries = _entries_of(key, current.get(key), kept.get(key, []))
        if key == key_marker:
            ids = [entry.version_id for entry in entries]
            entries = entries[ids.index(version_id_marker) + 1:] if version_id_marker in ids else []
        for entry in entries:
            if not _room_for(listing, max_keys, key, entry.version_id):
                return listing
            listing.entries.append(entry)
    return listing


def _room_for(listing: VersionListing, max_keys: int, key: str, version_id: str | None) -> bool:
    """Whether another entry fits in the page; else the page is marked truncated
    after the last one it holds."""
    if len(listing.entries) + len(listing.common_prefixes) < max_keys:
        return True
    if max_keys > 0:
        listing.truncated = True
        last = listing.entries[-1] if listing.entries else None
        if last is not None and (not listing.common_prefixes or last.key > listing.common_prefixes[-1]):
            listing.next_key_marker, listing.next_version_id_marker = last.key, last.version_id
        else:
            listing.next_key_marker = listing.common_prefixes[-1]
    return False
