"""Multi-head attention whose weights are softmax, sigmoid, or softmax * sigmoid (Eq. 5-7).

With scores ``S = q k^T / sqrt(d_k)``, OccRobNet weighs the values by
``C = softmax(S) * sigmoid(S)``: the sigmoid damps keys that win the softmax without being
strongly correlated. Masked keys (padding, or pairs blocked by an attention mask) get
``-inf`` before the softmax and a zero weight after the sigmoid, so they contribute nothing
in either term. A query whose keys are all masked gets zero weights (not NaN).
"""

import torch
from torch import nn

ATTENTION_KINDS = ("softmax", "sigmoid", "softmax_sigmoid")


def attention_weights(
    scores: torch.Tensor, blocked: torch.Tensor | None, kind: str = "softmax_sigmoid"
) -> torch.Tensor:
    """Attention weights from scaled scores [..., Lq, Lk]; ``blocked`` is True where masked."""
    if kind not in ATTENTION_KINDS:
        raise ValueError(f"unknown attention {kind!r}; choose from {ATTENTION_KINDS}")
    if blocked is not None:
        # The dtype's lowest value rather than -inf keeps fully masked rows finite.
        scores_for_softmax = scores.masked_fill(blocked, torch.finfo(scores.dtype).min)
    else:
        scores_for_softmax = scores
    weights = scores_for_softmax.softmax(dim=-1) if kind != "sigmoid" else None
    if kind != "softmax":
        gate = torch.sigmoid(scores)
        weights = gate if weights is None else weights * gate
    if blocked is not None:
        weights = weights.masked_fill(blocked, 0.0)
    return weights


def combine_masks(
    key_padding_mask: torch.Tensor | None, attn_mask: torch.Tensor | None
) -> torch.Tensor | None:
    """Merge a [B, Lk] padding mask and a [B or 1, Lq, Lk] pair mask into [B, 1, Lq, Lk]."""
    blocked = None
    if key_padding_mask is not None:
        blocked = key_padding_mask[:, None, None, :]
    if attn_mask is not None:
        pair = attn_mask[:, None]
        blocked = pair if blocked is None else blocked | pair
    return blocked


class MultiHeadAttention(nn.Module):
    """Batch-first multi-head attention with a choice of weighting (see module docstring)."""

    def __init__(
        self, dim: int, num_heads: int, kind: str = "softmax_sigmoid", dropout: float = 0.0
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"unknown attention {kind!r}; choose from {ATTENTION_KINDS}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.kind = kind
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        for linear in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """query [B, Lq, D], key/value [B, Lk, D] -> [B, Lq, D].

        ``key_padding_mask`` [B, Lk] and ``attn_mask`` [B or 1, Lq, Lk] are True where blocked.
        """
        q = self._split_heads(self.q_proj(query))
        k = self._split_heads(self.k_proj(key))
        v = self._split_heads(self.v_proj(value))
        scores = q @ k.transpose(-2, -1) / self.head_dim**0.5
        weights = attention_weights(scores, combine_masks(key_padding_mask, attn_mask), self.kind)
        out = self.dropout(weights) @ v
        return self.out_proj(out.transpose(1, 2).flatten(2))

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
