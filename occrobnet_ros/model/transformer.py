"""DETR-style encoder-decoder over the keypoint tokens (paper section III-C).

Post-norm layers with ReLU feed-forward blocks, as DETR and Keypoint Transformer (KT). Every
attention uses ``MultiHeadAttention`` with the configured weighting (softmax * sigmoid in the
paper). The encoder returns every layer's output through a shared LayerNorm (KT's
``inter_norm``) for the identity classifier; the decoder returns every layer's output through
its final LayerNorm for deep supervision. Tensors are batch-first: tokens [B, P, D].
"""

import torch
from torch import nn

from occrobnet_ros.skeleton import NUM_HANDS, NUM_JOINTS, WRIST

from .attention import MultiHeadAttention


class FeedForward(nn.Sequential):
    """Linear -> ReLU -> dropout -> Linear."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(dim, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
        )


class EncoderLayer(nn.Module):
    """Self-attention over the tokens, then a feed-forward block; post-norm."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float, kind: str) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(dim, heads, kind, dropout)
        self.ffn = FeedForward(dim, ffn_dim, dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, src: torch.Tensor, pos: torch.Tensor | None, padding_mask: torch.Tensor | None
    ) -> torch.Tensor:
        qk = src if pos is None else src + pos
        src = self.norm1(src + self.dropout(self.self_attn(qk, qk, src, padding_mask)))
        return self.norm2(src + self.dropout(self.ffn(src)))


class DecoderLayer(nn.Module):
    """Self-attention among queries, cross-attention to the tokens, feed-forward; post-norm."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float, kind: str) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(dim, heads, kind, dropout)
        self.cross_attn = MultiHeadAttention(dim, heads, kind, dropout)
        self.ffn = FeedForward(dim, ffn_dim, dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        query_pos: torch.Tensor,
        pos: torch.Tensor | None,
        memory_padding_mask: torch.Tensor | None,
        query_mask: torch.Tensor | None,
        memory_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        qk = tgt + query_pos
        tgt = self.norm1(tgt + self.dropout(self.self_attn(qk, qk, tgt, attn_mask=query_mask)))
        keys = memory if pos is None else memory + pos
        attended = self.cross_attn(tgt + query_pos, keys, memory, memory_padding_mask, memory_mask)
        tgt = self.norm2(tgt + self.dropout(attended))
        return self.norm3(tgt + self.dropout(self.ffn(tgt)))


class Transformer(nn.Module):
    """Encoder over the tokens + decoder with learned queries.

    ``forward`` returns (encoder outputs [L_enc, B, P, D], decoder outputs [L_dec, B, Q, D]).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        ffn_dim: int,
        enc_layers: int,
        dec_layers: int,
        num_queries: int,
        dropout: float = 0.1,
        kind: str = "softmax_sigmoid",
    ) -> None:
        super().__init__()
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(dim, heads, ffn_dim, dropout, kind) for _ in range(enc_layers)
        )
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(dim, heads, ffn_dim, dropout, kind) for _ in range(dec_layers)
        )
        self.encoder_norm = nn.LayerNorm(dim)  # shared by all layers, KT's inter_norm
        self.decoder_norm = nn.LayerNorm(dim)
        self.query_embed = nn.Embedding(num_queries, dim)

    def forward(
        self,
        tokens: torch.Tensor,
        padding_mask: torch.Tensor | None,
        pos: torch.Tensor | None = None,
        query_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens [B, P, D]; padding_mask [B, P] (True = padding); pos [B, P, D] or None
        (KT concatenates the position code into the tokens, so its additive pos is zero);
        query_mask [Q, Q] and memory_mask [B, Q, P] are True where attention is blocked.
        A None pos is skipped, not added as zeros (same values, fewer operations)."""
        memory, encoded = tokens, []
        for layer in self.encoder_layers:
            memory = layer(memory, pos, padding_mask)
            encoded.append(self.encoder_norm(memory))
        batch = tokens.shape[0]
        query_pos = self.query_embed.weight.unsqueeze(0).expand(batch, -1, -1)
        tgt, decoded = torch.zeros_like(query_pos), []
        query_mask = None if query_mask is None else query_mask.unsqueeze(0)
        for layer in self.decoder_layers:
            tgt = layer(tgt, memory, query_pos, pos, padding_mask, query_mask, memory_mask)
            decoded.append(self.decoder_norm(tgt))
        return torch.stack(encoded), torch.stack(decoded)


def decoder_query_groups(with_object: bool) -> torch.Tensor:
    """Group id per decoder query for KT's query self-attention mask (``get_tgt_mask``).

    Queries: 21 joints per hand (right then left), one global query, then the object rotation
    and translation queries. Each finger's 4 queries form a group per hand, each wrist and the
    global query are groups of their own, and the object queries (-1) attend to everything.
    KT has no wrist queries in its '3D' layout; we add them so the wrist's 2D position has a
    query in both representations.
    """
    groups = []
    for hand in range(NUM_HANDS):
        for joint in range(NUM_JOINTS):
            finger = 0 if joint == WRIST else 1 + (joint - 1) // 4
            groups.append(hand * 6 + finger)
    groups.append(NUM_HANDS * 6)  # global query
    if with_object:
        groups += [-1, -1]
    return torch.tensor(groups)


def query_mask_from_groups(groups: torch.Tensor) -> torch.Tensor:
    """[Q, Q] bool, True where query i may not attend to query j (different groups)."""
    blocked = groups[:, None] != groups[None, :]
    return blocked & (groups[:, None] >= 0)
