"""`AuditLog`: append-only, hash-chained, HMAC-signed records in the store: the synchronous core.

It chains, appends (one transaction per call or per batch), reads, verifies and exports; it
never touches an event loop. The gateway appends through `AuditWriter` (the async group-commit
writer, an `AuditSink`), which calls this core on its thread; the CLI calls the core directly.

Appending locks the single chain-head row (`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite
SQLite's one writer lock, taken by `BEGIN IMMEDIATE` on the async writer's path or else by a
write as the transaction's first statement), reads the head, inserts the records and moves the
head, all in one transaction. Every process that
shares the database therefore appends to one chain, in one order, with no forks; a crash rolls
the whole transaction back, so a half-written record can never exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from releasegate._util import ed25519
from releasegate.audit._chain import (
    GENESIS_HASH,
    AuditRecord,
    ChainChecker,
    StrictJsonError,
    VerifyResult,
    canonical_json,
    content_sha256,
    record_hash_from_json,
    record_hmac,
    strict_loads,
)
from releasegate.audit._checkpoint import (
    Checkpoint,
    read_checkpoint_file,
    sign_checkpoint,
    write_checkpoint_file,
)
from releasegate.audit._sql import AppendStatements
from releasegate.store.tables.audit import (
    AuditCheckpointRow,
    AuditHeadRow,
    AuditRecordRow,
    StoreMetaRow,
)

StoreContent = Literal["full", "hash"]

MAX_KIND = 50
MAX_ACTOR = 200
_VERIFY_PAGE = 1000


@dataclass(frozen=True)
class PendingEntry:
    """An entry validated and ready to be chained (the payload already in its final form)."""

    kind: str
    actor: str
    payload: dict[str, Any]
    payload_json: str  # canonical_json(payload): hashed and stored as is


class AuditLog:
    """The audit log of one store.

    Args:
        session_factory: from `releasegate.store.open_store` (or `make_session_factory`).
        hmac_key: the server key for record HMACs (`resolve_audit_hmac_key(settings)`).
        store_content: "full" keeps the `content` passed to `append` (prompts, outputs) as is;
            "hash" keeps only the SHA-256 of each content field.
        checkpoint_key: the Ed25519 key that signs checkpoints (`checkpoint`, `export`) and
            whose checkpoints `verify` trusts; None: no checkpoints are written or checked.
        checkpoint_file: where a copy of the latest checkpoint is kept outside the database (the
            key directory), so cutting the log short there is caught too.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        hmac_key: bytes,
        store_content: StoreContent = "hash",
        *,
        checkpoint_key: Ed25519PrivateKey | None = None,
        checkpoint_file: Path | None = None,
    ) -> None:
        if not hmac_key:
            raise ValueError("the audit HMAC key is empty")
        if store_content not in ("full", "hash"):
            raise ValueError(f"store_content must be 'full' or 'hash', not {store_content!r}")
        self._sessions = session_factory
        bind = session_factory.kw.get("bind")
        if not isinstance(bind, Engine):
            raise ValueError(
                "the session factory must be bound to an engine (make_session_factory)"
            )
        self._engine: Engine = bind
        self._key = hmac_key
        self.store_content: StoreContent = store_content
        self._checkpoint_key = checkpoint_key
        self.checkpoint_public_key = (
            ed25519.public_key_b64(checkpoint_key) if checkpoint_key is not None else None
        )
        self.checkpoint_file = checkpoint_file

    # -- appending ---------------------------------------------------------------------------

    def prepare(
        self,
        kind: str,
        actor: str,
        payload: Mapping[str, Any],
        content: Mapping[str, Any] | None = None,
    ) -> PendingEntry:
        """Validate an entry and apply the content setting, without writing anything.

        Raises:
            ValueError, TypeError: an empty or too long kind/actor, a payload JSON cannot hold,
                or a payload that already has a `content` / `content_sha256` key.
        """
        if not kind or len(kind) > MAX_KIND:
            raise ValueError(f"audit kind must be 1..{MAX_KIND} characters: {kind!r}")
        if len(actor) > MAX_ACTOR:
            raise ValueError(f"audit actor is longer than {MAX_ACTOR} characters")
        data = dict(payload)
        if content is not None:
            if "content" in data or "content_sha256" in data:
                raise ValueError("pass prompts/outputs as `content`, not inside the payload")
            if self.store_content == "full":
                data["content"] = dict(content)
            else:
                data["content_sha256"] = {k: content_sha256(v) for k, v in content.items()}
        # Round-trip through canonical JSON now, so what is hashed is exactly what is stored and
        # read back (tuples become lists, and unrepresentable values fail here, not mid-batch).
        payload_json = canonical_json(data)
        return PendingEntry(kind, actor, json.loads(payload_json), payload_json)

    def append(
        self,
        kind: str,
        actor: str,
        payload: Mapping[str, Any],
        content: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Append one record in its own transaction; returns once it is committed.

        Args:
            kind: what happened, e.g. "request", "admin".
            actor: who did it, e.g. a key id or "cli:alice".
            payload: JSON-serialisable details.
            content: prompts/outputs, stored in full or as hashes per `store_content`.
        """
        return self.append_batch([self.prepare(kind, actor, payload, content)])[0]

    def append_batch(self, entries: Sequence[PendingEntry]) -> list[AuditRecord]:
        """Append prepared entries, in order, in ONE transaction (the group commit)."""
        if not entries:
            return []
        with self._engine.begin() as connection:
            return self.append_on(connection, entries)

    def append_on(
        self, connection: Connection, entries: Sequence[PendingEntry]
    ) -> list[AuditRecord]:
        """Append prepared entries inside the caller's open transaction on `connection`.

        The caller commits; the writer thread uses this with a connection it keeps open, which
        saves the pool checkout (and PostgreSQL's pre-ping round trip) on every batch. This is the
        gateway's hot path: plain SQL on the driver's cursor (`AppendStatements`), in the
        transaction SQLAlchemy opened.
        """
        if not entries:
            return []
        statements = AppendStatements.for_connection(connection)
        if statements is None:
            return self._append_core(connection, entries)
        cursor = connection.connection.cursor()
        try:
            head_seq, head_hash = statements.lock_head(cursor)
            return self._write_rows(cursor, statements, entries, head_seq, head_hash)
        finally:
            cursor.close()

    def append_on_sqlite(
        self, driver_connection: sqlite3.Connection, entries: Sequence[PendingEntry]
    ) -> list[AuditRecord]:
        """Append prepared entries in a transaction of their own on a `sqlite3` connection.

        The async writer's path on SQLite, and the gateway's hot path. It begins and commits on
        the driver connection itself, without SQLAlchemy's transaction bookkeeping, and
        `BEGIN IMMEDIATE` takes the writer lock before the head is read, where `append_on`
        needs a touch UPDATE first: together ≈10 µs of a lone append's ≈78 µs in the gateway.
        The connection must be outside any transaction (as its SQLAlchemy `Connection`
        believes it is), and is left outside one: every failure rolls back before it is
        raised, so nothing half-written remains.

        Raises:
            sqlite3.OperationalError: with `SQLITE_BUSY` when another connection held the
                writer lock past the busy timeout (nothing was written); or any other error.
        """
        if not entries:
            return []
        statements = AppendStatements.for_sqlite()
        cursor = driver_connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            head_seq, head_hash = statements.read_head(cursor)
            records = self._write_rows(cursor, statements, entries, head_seq, head_hash)
            cursor.execute("COMMIT")
        except BaseException:
            # Also when COMMIT itself failed: SQLite then leaves the transaction open.
            driver_connection.rollback()
            raise
        finally:
            cursor.close()
        return records

    def _write_rows(
        self,
        cursor: Any,
        statements: AppendStatements,
        entries: Sequence[PendingEntry],
        head_seq: int,
        head_hash: str,
    ) -> list[AuditRecord]:
        records = self._chain(entries, head_seq, head_hash)
        rows = [_row_tuple(r, e.payload_json) for r, e in zip(records, entries, strict=True)]
        statements.write(cursor, rows, *_last(records))
        return records

    def _chain(
        self, entries: Sequence[PendingEntry], head_seq: int, head_hash: str
    ) -> list[AuditRecord]:
        """Chain the entries onto the head: seq, time, hash and HMAC of each new record."""
        records: list[AuditRecord] = []
        for entry in entries:
            seq = head_seq + 1
            time = datetime.now(UTC).isoformat(timespec="microseconds")
            digest = record_hash_from_json(
                head_hash, seq, time, entry.kind, entry.actor, entry.payload_json
            )
            records.append(
                AuditRecord(
                    seq=seq,
                    time=time,
                    kind=entry.kind,
                    actor=entry.actor,
                    payload=entry.payload,
                    prev_hash=head_hash,
                    hash=digest,
                    hmac=record_hmac(self._key, digest),
                )
            )
            head_seq, head_hash = seq, digest
        return records

    def _append_core(
        self, connection: Connection, entries: Sequence[PendingEntry]
    ) -> list[AuditRecord]:
        # Drivers whose parameter style `AppendStatements` does not write: the same
        # transaction through SQLAlchemy Core.
        head_seq, head_hash = _lock_head(connection)
        records = self._chain(entries, head_seq, head_hash)
        rows = [
            {**r.to_dict(), "payload": e.payload_json}
            for r, e in zip(records, entries, strict=True)
        ]
        connection.execute(_RECORDS.insert(), rows)
        seq, digest = _last(records)
        connection.execute(_HEAD_UPDATE, {"seq": seq, "hash": digest})
        return records

    @property
    def engine(self) -> Engine:
        """The engine the log writes through."""
        return self._engine

    # -- the key id and checkpoints ----------------------------------------------------------

    @property
    def key_id(self) -> str:
        """A short id of the HMAC key (not the key): what the store records as its key."""
        return audit_key_id(self._key)

    def claim_key(self) -> None:
        """Check that the store's log is signed with this process's HMAC key, recording the key's
        id on first use; every process of a fleet calls it at start.

        Raises:
            AuditKeyMismatch: the store was started with another key.
        """
        mine = self.key_id
        with self._sessions() as session:
            row = session.get(StoreMetaRow, AUDIT_KEY_ID)
            if row is None:
                session.add(StoreMetaRow(name=AUDIT_KEY_ID, value=mine))
                try:
                    session.commit()
                except IntegrityError:  # another process recorded its key first
                    session.rollback()
                row = session.get(StoreMetaRow, AUDIT_KEY_ID)
            stored = row.value if row is not None else mine
        if stored != mine:
            raise AuditKeyMismatch(
                f"this process's audit HMAC key (id {mine}) is not the key the store's log is "
                f"signed with (id {stored}); every process that shares a store must use the same "
                "key (RELEASEGATE_AUDIT_HMAC_KEY, or the same key directory)"
            )

    def checkpoint(self, upto: tuple[int, str] | None = None) -> Checkpoint | None:
        """Sign the chain's current state (or `upto` = (seq, hash)), store it and keep a copy in
        `checkpoint_file`; None without a checkpoint key."""
        if self._checkpoint_key is None:
            return None
        seq, digest = upto if upto is not None else self.head()
        latest = self.latest_checkpoint()
        if latest is not None and latest.seq == seq and upto is None:
            checkpoint = latest  # nothing appended since: no new row
        else:
            checkpoint = sign_checkpoint(self._checkpoint_key, seq, digest)
            with self._sessions() as session:
                session.add(AuditCheckpointRow(**checkpoint.to_dict()))
                try:
                    session.commit()
                except IntegrityError:  # this seq is signed already (another process)
                    session.rollback()
        if self.checkpoint_file is not None:
            write_checkpoint_file(self.checkpoint_file, checkpoint)
        return checkpoint

    def latest_checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint of the longest chain, or None."""
        with self._sessions() as session:
            row = session.scalars(
                select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq.desc()).limit(1)
            ).first()
        return None if row is None else _checkpoint_of(row)

    def _check_checkpoints(self, result: VerifyResult, head_seq: int) -> VerifyResult:
        """A verified chain must still reach every checkpoint this key signed."""
        public = self.checkpoint_public_key
        if public is None:
            return result
        found: list[tuple[str, Checkpoint]] = []
        with self._sessions() as session:
            rows = session.scalars(
                select(AuditCheckpointRow)
                .where(AuditCheckpointRow.key_id == ed25519.key_id(public))
                .order_by(AuditCheckpointRow.seq.desc())
                .limit(1)
            ).all()
        found += [("the store", _checkpoint_of(row)) for row in rows]
        if self.checkpoint_file is not None:
            try:
                kept = read_checkpoint_file(self.checkpoint_file)
            except ValueError as exc:
                return _failed(result, None, f"the kept checkpoint is damaged: {exc}")
            if kept is not None:
                found.append((str(self.checkpoint_file), kept))
        for where, checkpoint in found:
            problem = self._checkpoint_problem(checkpoint, public, head_seq)
            if problem is not None:
                seq, reason = problem
                return _failed(result, seq, f"{reason} (checkpoint in {where})")
        return result

    def _checkpoint_problem(
        self, checkpoint: Checkpoint, public: str, head_seq: int
    ) -> tuple[int | None, str] | None:
        if not checkpoint.signed_by(public):
            return None, (
                f"the checkpoint at seq {checkpoint.seq} is not signed by this log's checkpoint "
                "key (forged, or made with another key directory)"
            )
        if checkpoint.seq > head_seq:
            return head_seq + 1, (
                f"records {head_seq + 1}..{checkpoint.seq} were cut off the end: a checkpoint "
                f"signed at {checkpoint.time} covers {checkpoint.seq} records, the log ends at "
                f"{head_seq}"
            )
        expected = GENESIS_HASH
        if checkpoint.seq > 0:
            record = self.get(checkpoint.seq)
            expected = record.hash if record is not None else ""
        if expected != checkpoint.hash:
            return checkpoint.seq, (
                f"record {checkpoint.seq} is not the record the checkpoint signed at "
                f"{checkpoint.time} covers (the chain was rewritten)"
            )
        return None

    # -- reading -----------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """The chain head: (seq of the last record, its hash); (0, genesis) when empty."""
        with self._sessions() as session:
            row = session.execute(
                select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1)
            ).one()
            return int(row[0]), str(row[1])

    def records(self, after_seq: int = 0, upto_seq: int | None = None) -> Iterator[AuditRecord]:
        """Stored records in seq order, read in pages (constant memory).

        Args:
            after_seq: start after this seq.
            upto_seq: stop at this seq (default: whatever is there as the pages are read).
        """
        last = after_seq
        while True:
            with self._sessions() as session:
                stmt = select(AuditRecordRow).where(AuditRecordRow.seq > last)
                if upto_seq is not None:
                    stmt = stmt.where(AuditRecordRow.seq <= upto_seq)
                rows = session.scalars(stmt.order_by(AuditRecordRow.seq).limit(_VERIFY_PAGE)).all()
            if not rows:
                return
            for row in rows:
                yield _to_record(row)
            last = rows[-1].seq

    def get(self, seq: int) -> AuditRecord | None:
        """The record with this seq, or None."""
        with self._sessions() as session:
            row = session.get(AuditRecordRow, seq)
            return None if row is None else _to_record(row)

    def verify(self) -> VerifyResult:
        """Check the whole chain: seq continuity, prev_hash links, hashes, HMACs and the head.

        Returns:
            ok, how many records checked out, and the first bad record with the reason.
        """
        checker = ChainChecker(self._key)
        # The head is read first and only records up to it are checked: records and head move
        # together in one transaction, so everything up to the head read here is committed, and
        # records that live gateways append meanwhile are simply newer than this check.
        head_seq, head_hash = self.head()
        for record in self._raw_records(head_seq):
            if not checker.check(*record):
                break
        result = checker.result(head_seq, head_hash)
        if result.ok:
            result = self._check_checkpoints(result, head_seq)
        if result.ok:
            stray = self._stray_after_head()
            if stray is not None:
                return VerifyResult(
                    ok=False,
                    checked=result.checked,
                    first_bad_seq=stray,
                    reason=f"record {stray} lies beyond the chain head (inserted outside the log)",
                    head_seq=head_seq,
                )
        return result

    def _stray_after_head(self) -> int | None:
        """The first record no head covers, if any (inserted behind the log's back).

        Max seq is read before the head: a record is committed together with the head that
        covers it, and the head only grows, so a committed record above a head read *later*
        was not written by `append`.
        """
        with self._sessions() as session:
            top = session.scalar(select(func.max(AuditRecordRow.seq)))
        head_seq = self.head()[0]
        if top is None or int(top) <= head_seq:
            return None
        with self._sessions() as session:
            return session.scalar(
                select(func.min(AuditRecordRow.seq)).where(AuditRecordRow.seq > head_seq)
            )

    def _raw_records(
        self, upto_seq: int
    ) -> Iterator[tuple[int, str, str, str, Any, str, str, str]]:
        last = -(2**62)
        while True:
            with self._sessions() as session:
                rows = session.execute(
                    select(
                        AuditRecordRow.seq,
                        AuditRecordRow.time,
                        AuditRecordRow.kind,
                        AuditRecordRow.actor,
                        AuditRecordRow.payload,
                        AuditRecordRow.prev_hash,
                        AuditRecordRow.hash,
                        AuditRecordRow.hmac,
                    )
                    .where(AuditRecordRow.seq > last, AuditRecordRow.seq <= upto_seq)
                    .order_by(AuditRecordRow.seq)
                    .limit(_VERIFY_PAGE)
                ).all()
            if not rows:
                return
            for seq, time, kind, actor, payload, prev, digest, mac in rows:
                try:
                    data: Any = strict_loads(payload)
                except StrictJsonError:
                    data = payload  # unparsable: the hash check will name this record
                yield int(seq), time, kind, actor, data, prev, digest, mac
            last = int(rows[-1][0])

    def export(self, out: str | os.PathLike[str] | IO[str]) -> int:
        """Write every record as JSON Lines, in seq order.

        Args:
            out: a path (written to a temporary file, then renamed: never half-written) or an
                open text file.

        Returns:
            The number of records written.
        """
        if not isinstance(out, str | os.PathLike):
            return self._write_jsonl(out)
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                count = self._write_jsonl(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return count

    def _write_jsonl(self, handle: IO[str]) -> int:
        count = 0
        head = self.head()
        for record in self.records(upto_seq=head[0]):  # a consistent cut of a live log
            handle.write(canonical_json(record.to_dict()) + "\n")
            count += 1
        # The last line: a checkpoint signed for exactly these records, so a copy cut short
        # (or extended) no longer verifies.
        checkpoint = self.checkpoint(upto=head)
        if checkpoint is not None:
            handle.write(canonical_json({"checkpoint": checkpoint.to_dict()}) + "\n")
        return count


def verify_jsonl(
    lines: Iterable[str],
    hmac_key: bytes,
    checkpoint_key: str | None = None,
    *,
    require_checkpoint: bool = True,
) -> VerifyResult:
    """Verify an exported chain (JSON Lines, as `AuditLog.export` writes it) offline.

    Every line is parsed strictly (a duplicate key, NaN or an infinity is an error) and every
    field is type-checked; any problem is a failed result naming the line, never an exception.

    Args:
        lines: the file's lines.
        hmac_key: the server key the records' HMACs were made with.
        checkpoint_key: the public key (base64) the closing checkpoint must be signed with.
        require_checkpoint: a file without a signed checkpoint fails (it may have been cut
            short); False checks the chain alone.
    """
    checker = ChainChecker(hmac_key)
    checkpoint: Checkpoint | None = None
    number = 0
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if checkpoint is not None:
                return _failed(
                    checker.result(), None, f"line {number}: a line after the checkpoint"
                )
            item = strict_loads(line)
            if isinstance(item, dict) and set(item) == {"checkpoint"}:
                checkpoint = Checkpoint.from_dict(item["checkpoint"])
                continue
            if not checker.check(*_record_fields(item)):
                return checker.result()
    except (StrictJsonError, ValueError, TypeError, RecursionError) as exc:
        return _failed(checker.result(), None, f"line {number}: {exc}")
    result = checker.result()
    if not result.ok:
        return result
    last = checker.expected_seq - 1
    if checkpoint is None:
        if require_checkpoint:
            return _failed(
                result, None, "no signed checkpoint at the end: the file may have been cut short"
            )
        return result
    if checkpoint_key is None:
        return _failed(result, None, "no checkpoint key to check the file's checkpoint with")
    if not checkpoint.signed_by(checkpoint_key):
        return _failed(result, None, "the checkpoint is not signed by the checkpoint key")
    if checkpoint.seq > last:
        return _failed(
            result,
            last + 1,
            f"records {last + 1}..{checkpoint.seq} were cut off the end: the signed checkpoint "
            f"covers {checkpoint.seq} records, the file holds {last}",
        )
    if checkpoint.seq < last or checkpoint.hash != checker.prev_hash:
        return _failed(
            result, checkpoint.seq + 1, "the records do not end where the signed checkpoint does"
        )
    return result


_RECORD_TYPES: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("seq", int),
    ("time", str),
    ("kind", str),
    ("actor", str),
    ("payload", dict),
    ("prev_hash", str),
    ("hash", str),
    ("hmac", str),
)


def _record_fields(item: object) -> tuple[Any, ...]:
    """The fields of one exported record, in `ChainChecker.check`'s order, type-checked."""
    if not isinstance(item, dict):
        raise ValueError("a record must be a JSON object")
    names = [name for name, _ in _RECORD_TYPES]
    if set(item) != set(names):
        raise ValueError(f"a record has exactly the fields {', '.join(names)}")
    for name, kind in _RECORD_TYPES:
        value = item[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"record field {name!r} has the wrong type")
    return tuple(item[name] for name in names)


def _failed(result: VerifyResult, seq: int | None, reason: str) -> VerifyResult:
    return VerifyResult(
        ok=False,
        checked=result.checked,
        first_bad_seq=seq,
        reason=reason,
        head_seq=result.head_seq,
    )


AUDIT_KEY_ID = "audit_hmac_key_id"


class AuditKeyMismatch(ValueError):
    """This process's audit HMAC key is not the one the store's log is signed with."""


def audit_key_id(key: bytes) -> str:
    """A short public id of an HMAC key (SHA-256 under a domain tag, 16 hex digits)."""
    return hashlib.sha256(b"releasegate audit hmac key id\x00" + key).hexdigest()[:16]


def _checkpoint_of(row: AuditCheckpointRow) -> Checkpoint:
    return Checkpoint(row.seq, row.hash, row.time, row.key_id, row.public_key, row.signature)


_RECORDS: Table = AuditRecordRow.__table__  # type: ignore[assignment]
_HEAD: Table = AuditHeadRow.__table__  # type: ignore[assignment]
_HEAD_UPDATE = (
    update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("seq"), hash=bindparam("hash"))
)
_HEAD_TOUCH = update(_HEAD).where(_HEAD.c.id == 1).values(id=1)
_HEAD_SELECT = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)
_HEAD_SELECT_LOCKED = _HEAD_SELECT.with_for_update()


def _lock_head(connection: Connection) -> tuple[int, str]:
    """Lock the chain head for this transaction and read it."""
    if connection.dialect.name == "sqlite":
        # A write as the first statement takes SQLite's writer lock before anything is read;
        # reading first and writing later could fail with SQLITE_BUSY under contention.
        connection.execute(_HEAD_TOUCH)
        row = connection.execute(_HEAD_SELECT).one_or_none()
    else:
        row = connection.execute(_HEAD_SELECT_LOCKED).one_or_none()
    if row is None:
        raise RuntimeError("the audit chain head row is missing: run the migrations")
    return int(row[0]), str(row[1])


def _row_tuple(record: AuditRecord, payload_json: str) -> tuple[Any, ...]:
    return (
        record.seq,
        record.time,
        record.kind,
        record.actor,
        payload_json,
        record.prev_hash,
        record.hash,
        record.hmac,
    )


def _last(records: Sequence[AuditRecord]) -> tuple[int, str]:
    return records[-1].seq, records[-1].hash


def _to_record(row: AuditRecordRow) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        time=row.time,
        kind=row.kind,
        actor=row.actor,
        payload=json.loads(row.payload),
        prev_hash=row.prev_hash,
        hash=row.hash,
        hmac=row.hmac,
    )
