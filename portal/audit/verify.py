"""Checking the audit chains: recompute every keyed hash and follow every link.

A chain is intact when, walking it by sequence number from its anchor (the genesis, or a
retention checkpoint whose signature holds), each event
- has the next sequence number (a gap means rows were deleted),
- names the hash of the event before it as ``prev_hash`` (inserted, deleted or reordered rows),
- hashes to its stored ``hash`` under the key its ``key_id`` names (an edited row, or a chain
  recomputed without the key; a key id not configured is reported as such),
- and belongs to the chain's tenant,
and the walk ends where the chain head says, the head's signature holding (rows removed from,
or forged onto, the end; a head moved back over deleted rows).

A witness (``verify_audit --witness FILE``, kept outside the database) adds what no record in
the database can show: a chain rolled back to an earlier state, or deleted whole.

Rows are streamed with ``.iterator()`` so a million events need constant memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .models import GENESIS_HASH, AuditChainHead, AuditEvent, chain_key_for

CHUNK_SIZE = 2000


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain: which row, and what is wrong with it."""

    chain_key: str
    problem: str
    event_id: int | None = None
    seq: int | None = None

    def __str__(self) -> str:
        where = f"chain {self.chain_key}"
        if self.event_id is not None:
            where += f", row id={self.event_id} seq={self.seq}"
        return f"{where}: {self.problem}"


@dataclass
class ChainResult:
    chain_key: str
    events_checked: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    broken: Break | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


@dataclass
class VerifyReport:
    chains: list[ChainResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(chain.ok for chain in self.chains)

    @property
    def events_checked(self) -> int:
        return sum(chain.events_checked for chain in self.chains)

    @property
    def breaks(self) -> list[Break]:
        return [chain.broken for chain in self.chains if chain.broken is not None]


def verify_all(tenant_id: int | None = None) -> VerifyReport:
    """Verify every chain, or only the chain of ``tenant_id``."""
    keys = [chain_key_for(tenant_id)] if tenant_id is not None else all_chain_keys()
    return VerifyReport(chains=[verify_chain(key) for key in keys])


def all_chain_keys() -> list[str]:
    """Chains named by a head or by any event: an event without a head is itself a finding."""
    keys = set(AuditChainHead.objects.values_list("chain_key", flat=True))
    keys.update(AuditEvent.objects.order_by().values_list("chain_key", flat=True).distinct())
    return sorted(keys)


def chain_anchor(chain_key: str) -> tuple[int, str]:
    """The (seq, hash) the chain's first remaining event builds on: the genesis, or after
    retention the newest checkpoint. A checkpoint whose signature fails is a CheckpointError."""
    from .retention import latest_checkpoint

    checkpoint = latest_checkpoint(chain_key)
    if checkpoint is None:
        return 0, GENESIS_HASH
    problem = checkpoint.signature_problem()
    if problem:
        raise CheckpointError(f"the retention checkpoint at seq {checkpoint.seq}: {problem}")
    return checkpoint.seq, checkpoint.hash


class CheckpointError(Exception):
    pass


def verify_chain(chain_key: str) -> ChainResult:
    """Walk one chain by sequence number and report its first broken link, if any."""
    # Heads only move forward, so reading one before and one after the walk tolerates
    # events appended meanwhile without letting a truncated or extended chain through.
    head_before = _head(chain_key)
    result = ChainResult(chain_key=chain_key)
    try:
        last_seq, last_hash = chain_anchor(chain_key)
    except CheckpointError as exc:
        result.broken = Break(chain_key, str(exc))
        return result
    rows = AuditEvent.objects.filter(chain_key=chain_key).order_by("seq")
    for event in rows.iterator(chunk_size=CHUNK_SIZE):
        problem = _link_problem(event, chain_key, last_seq + 1, last_hash)
        if problem:
            result.broken = Break(chain_key, problem, event.pk, event.seq)
            return result
        result.events_checked += 1
        last_seq, last_hash = event.seq, event.hash
    result.last_seq, result.last_hash = last_seq, last_hash
    result.broken = _head_problem(chain_key, last_seq, last_hash, head_before, _head(chain_key))
    return result


def _link_problem(event: AuditEvent, chain_key: str, seq: int, prev_hash: str) -> str | None:
    if event.seq != seq:
        return (
            f"sequence gap: expected seq {seq}, found seq {event.seq} "
            f"(event(s) {seq}..{event.seq - 1} deleted)"
        )
    if event.prev_hash != prev_hash:
        return (
            f"prev_hash {event.prev_hash[:12]}… does not match the hash of seq {seq - 1} "
            f"({prev_hash[:12]}…): a row was inserted, deleted, reordered or rewritten before it"
        )
    problem = event.hash_problem()
    if problem:
        return problem
    if chain_key_for(event.tenant_id) != chain_key:
        return f"tenant id {event.tenant_id} does not belong to chain {chain_key}"
    return None


def _head_problem(
    chain_key: str,
    last_seq: int,
    last_hash: str,
    before: AuditChainHead | None,
    after: AuditChainHead | None,
) -> Break | None:
    if after is None:
        if last_seq == 0:
            return None
        return Break(chain_key, f"events up to seq {last_seq} but no chain head")
    for head in (before, after):
        # An empty chain's head (seq 0) has nothing to vouch for until its first event.
        problem = None if head is None or head.seq == last_seq == 0 else head.signature_problem()
        if problem:
            return Break(chain_key, f"chain head (seq {head.seq}): {problem}")
    if before is not None and last_seq < before.seq:
        return Break(
            chain_key,
            f"chain head is at seq {before.seq} but the last event is seq {last_seq}: "
            f"event(s) {last_seq + 1}..{before.seq} deleted from the end",
        )
    if last_seq > after.seq:
        return Break(
            chain_key,
            f"last event seq {last_seq} is beyond the chain head (seq {after.seq}): "
            "event(s) added outside record()",
        )
    for head in (before, after):
        if head is not None and head.seq == last_seq and head.hash != last_hash:
            return Break(chain_key, f"chain head hash does not match the hash of seq {last_seq}")
    return None


def _head(chain_key: str) -> AuditChainHead | None:
    return AuditChainHead.objects.filter(chain_key=chain_key).first()


Witness = dict[str, dict[str, int | str]]  # chain key -> {"seq": ..., "hash": ...}


def check_witness(report: VerifyReport, witness: Witness, *, only: str | None = None) -> None:
    """Break each intact chain of ``report`` that is behind what ``witness`` saw earlier.

    A chain that ends before the witnessed seq was rolled back (its newest events deleted and
    its head put back, perhaps with a head signature copied earlier); one whose event at the
    witnessed seq has another hash was rewritten from there; one that is gone was deleted
    whole. ``only`` limits the check to one chain (``--tenant``).
    """
    results = {chain.chain_key: chain for chain in report.chains}
    for chain_key, mark in sorted(witness.items()):
        if only is not None and chain_key != only:
            continue
        seq, hash_ = int(mark["seq"]), str(mark["hash"])
        result = results.get(chain_key)
        if result is None:
            gone = Break(chain_key, f"witnessed at seq {seq}, but the chain is gone")
            report.chains.append(ChainResult(chain_key, broken=gone))
        elif result.ok:
            result.broken = _witness_problem(result, seq, hash_)


def _witness_problem(result: ChainResult, seq: int, hash_: str) -> Break | None:
    key = result.chain_key
    if result.last_seq < seq:
        return Break(
            key,
            f"the chain ends at seq {result.last_seq} but was witnessed at seq {seq}: "
            "events deleted from the end and the head put back",
        )
    stored = AuditEvent.objects.filter(chain_key=key, seq=seq).values_list("hash", flat=True)
    found = stored.first()
    # None: pruned by retention since (its checkpoint was checked by the walk).
    if found is not None and found != hash_:
        return Break(key, f"seq {seq} is not the event witnessed there: rewritten from there on")
    return None


def witness_of(report: VerifyReport, previous: Witness) -> Witness:
    """``previous`` updated with where each verified chain ends now."""
    witness = dict(previous)
    for chain in report.chains:
        if chain.ok and chain.last_seq:
            witness[chain.chain_key] = {"seq": chain.last_seq, "hash": chain.last_hash}
    return witness


def format_report(report: VerifyReport) -> Iterable[str]:
    for chain in report.chains:
        if chain.broken:
            yield f"BROKEN {chain.broken}"
    status = "intact" if report.ok else f"{len(report.breaks)} broken"
    yield (f"Checked {len(report.chains)} chain(s), {report.events_checked} event(s): {status}.")
