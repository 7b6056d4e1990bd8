"""Where every frame went, read from the node's /diagnostics counters.

The node counts each image its subscription receives while active (``frames received``) and
each one's fate: published (``frames published``), dropped while valid (``frames dropped``:
overwritten in the one-slot buffer, too old, unpaired, paused, discarded), rejected as bad
input (``frames rejected``), or skipped because the estimator raised (``estimator errors``).
Once the node is idle, ``received == published + dropped + rejected + errors``; anything else
is a frame lost without a trace.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Counters:
    """The node's cumulative frame counters at one /diagnostics message."""

    received: int = 0
    published: int = 0
    dropped: int = 0
    rejected: int = 0
    errors: int = 0
    drops: dict[str, int] = field(default_factory=dict)  # by reason
    rejections: dict[str, int] = field(default_factory=dict)  # by reason

    @classmethod
    def from_values(cls, values: dict[str, str]) -> "Counters":
        """The counters in a DiagnosticStatus's key/value pairs."""

        def by_prefix(prefix: str) -> dict[str, int]:
            return {k[len(prefix) :]: int(v) for k, v in values.items() if k.startswith(prefix)}

        return cls(
            received=int(values.get("frames received", 0)),
            published=int(values.get("frames published", 0)),
            dropped=int(values.get("frames dropped", 0)),
            rejected=int(values.get("frames rejected", 0)),
            errors=int(values.get("estimator errors", 0)),
            drops=by_prefix("dropped: "),
            rejections=by_prefix("rejected: "),
        )

    @property
    def accounted(self) -> int:
        """Frames with a known fate."""
        return self.published + self.dropped + self.rejected + self.errors

    @property
    def unaccounted(self) -> int:
        """Received frames with no fate (0 once the node is idle; negative: counted twice)."""
        return self.received - self.accounted

    def totals(self) -> tuple[int, int, int, int, int]:
        return self.received, self.published, self.dropped, self.rejected, self.errors

    def summary(self) -> str:
        return (
            f"received {self.received} = published {self.published} + dropped {self.dropped} "
            f"+ rejected {self.rejected} + errors {self.errors}"
            + (f" (unaccounted {self.unaccounted})" if self.unaccounted else "")
        )
