"""What changed in an Entra directory, and when: the memory Graph's delta queries read.

Every change takes the next number of the tenant's counter (`seq`). A user or group keeps,
per property, the number of its last change (`changed`; `ALL` for a creation or a restore),
so a delta round that tracks some properties can skip objects whose other properties moved
(Graph: "If a change occurs to a property that is not selected, the resource for which that
property changed does not appear in the delta response", delta-query-overview). The log
here holds what the objects themselves cannot: the order users changed in, users purged for
good, groups deleted, and every membership added or removed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

ALL = "*"  # every property changed at once: the object was created or restored

MemberChange = tuple[int, str, str, bool]  # (seq, group id, user id, added)


class Changing(Protocol):
    seq: int  # the tenant's counter at the object's last change


def changed_after(changed: dict[str, int], names: Iterable[str], since: int) -> bool:
    """Whether any of `names` (or the whole object) changed after `since`."""
    if changed.get(ALL, 0) > since:
        return True
    return any(changed.get(name, 0) > since for name in names)


class ChangeLog:
    def __init__(self, users: Mapping[str, Changing]) -> None:
        self._users = users  # the tenant's users, live and soft deleted
        # Users in the order of their changes: an entry is current while the user's own
        # `seq` (or its purge number) still equals it; older entries are skipped.
        self._seqs: list[int] = []
        self._ids: list[str] = []
        self.purged: dict[str, int] = {}  # user id -> seq of its hard delete
        self.deleted_groups: dict[str, int] = {}  # group id -> seq of its deletion
        self.members: list[MemberChange] = []  # ascending seq

    # Recording ------------------------------------------------------------------------------

    def user_changed(self, seq: int, user_id: str) -> None:
        self._seqs.append(seq)
        self._ids.append(user_id)

    def user_purged(self, seq: int, user_id: str) -> None:
        self.purged[user_id] = seq
        self.user_changed(seq, user_id)

    def member(self, seq: int, group_id: str, user_id: str, added: bool) -> None:
        self.members.append((seq, group_id, user_id, added))

    # Reading --------------------------------------------------------------------------------

    def users_since(self, since: int) -> Iterator[str]:
        """Ids of the users (live, soft deleted or purged) whose last change is after `since`,
        in the order of those changes."""
        start = bisect.bisect_right(self._seqs, since)
        for seq, user_id in zip(self._seqs[start:], self._ids[start:], strict=True):
            user = self._users.get(user_id)
            if (user is not None and user.seq == seq) or self.purged.get(user_id) == seq:
                yield user_id

    def members_since(self, since: int, upto: int) -> dict[str, dict[str, bool]]:
        """Per group, the net membership changes in (since, upto]: user id -> added (True) or
        removed (False), the last change of each pair winning."""
        start = bisect.bisect_right(self.members, since, key=lambda change: change[0])
        net: dict[str, dict[str, bool]] = {}
        for seq, group_id, user_id, added in self.members[start:]:
            if seq > upto:
                break
            net.setdefault(group_id, {})[user_id] = added
        return net

    def compact(self) -> None:
        """Drop superseded user entries once they outnumber the current ones."""
        if len(self._seqs) >= 2 * (len(self._users) + len(self.purged)) + 1024:
            self._rebuild()

    def _rebuild(self) -> None:
        entries = sorted(
            [(u.seq, uid) for uid, u in self._users.items()]
            + [(seq, uid) for uid, seq in self.purged.items()]
        )
        self._seqs = [seq for seq, _ in entries]
        self._ids = [uid for _, uid in entries]

    # Persistence ----------------------------------------------------------------------------

    def to_json(self) -> dict:
        return {
            "purged": self.purged,
            "deleted_groups": self.deleted_groups,
            "members": [list(m) for m in self.members],
        }

    @classmethod
    def from_json(cls, data: dict, users: Mapping[str, Changing]) -> ChangeLog:
        log = cls(users)
        log.purged = dict(data.get("purged", {}))
        log.deleted_groups = dict(data.get("deleted_groups", {}))
        log.members = [(int(s), g, u, bool(a)) for s, g, u, a in data.get("members", [])]
        log._rebuild()
        return log
