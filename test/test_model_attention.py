"""Attention weights (Eq. 5-7) with masks, CIET's local aggregation, Gram-Schmidt rotations."""

import math

import pytest
import torch

from occrobnet_ros.model.attention import MultiHeadAttention, attention_weights
from occrobnet_ros.model.ciet import CIET
from occrobnet_ros.model.rotation import (
    axis_angle_to_matrix,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)


def reference_attention(module, query, key, value, padding, pair):
    """softmax(S) * sigmoid(S) written out head by head, masked keys removed by hand."""
    b, lq, d = query.shape
    heads, hd = module.num_heads, d // module.num_heads
    q = module.q_proj(query).view(b, lq, heads, hd)
    k = module.k_proj(key).view(b, -1, heads, hd)
    v = module.v_proj(value).view(b, -1, heads, hd)
    out = torch.zeros(b, lq, heads, hd)
    for n in range(b):
        for h in range(heads):
            for i in range(lq):
                keep = [j for j in range(key.shape[1]) if not padding[n, j] and not pair[n, i, j]]
                if not keep:
                    continue
                s = torch.stack([q[n, i, h] @ k[n, j, h] / math.sqrt(hd) for j in keep])
                c = torch.softmax(s, 0) * torch.sigmoid(s)
                out[n, i, h] = (c[:, None] * v[n, keep, h]).sum(0)
    return module.out_proj(out.reshape(b, lq, d))


def test_softmax_sigmoid_attention_matches_explicit_computation_with_masks():
    torch.manual_seed(0)
    module = MultiHeadAttention(16, 4, "softmax_sigmoid").eval()
    query, key = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    value = torch.randn(2, 7, 16)
    padding = torch.zeros(2, 7, dtype=torch.bool)
    padding[0, 5:] = True
    padding[1, 2] = True
    pair = torch.rand(2, 5, 7) < 0.3
    pair[1, 3] = True  # a query with every key blocked gets zero attention
    with torch.no_grad():
        expected = reference_attention(module, query, key, value, padding, pair)
        actual = module(query, key, value, key_padding_mask=padding, attn_mask=pair)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def test_attention_kinds_follow_their_definitions():
    scores = torch.tensor([[[2.0, -1.0, 0.5]]])
    blocked = torch.tensor([[[False, False, True]]])
    soft = torch.softmax(scores[..., :2], -1)
    sig = torch.sigmoid(scores[..., :2])
    for kind, expected in [("softmax", soft), ("sigmoid", sig), ("softmax_sigmoid", soft * sig)]:
        weights = attention_weights(scores, blocked, kind)
        torch.testing.assert_close(weights[..., :2], expected)
        assert weights[..., 2].item() == 0.0
    with pytest.raises(ValueError):
        attention_weights(scores, None, "relu")


def test_ciet_local_aggregation_matches_explicit_window_sum():
    torch.manual_seed(0)
    block = CIET(16, kernel_size=3, share_planes=4).eval()
    values = torch.randn(1, 16, 5, 6)
    attention = torch.rand(1, 4, 9, 5, 6)
    padded = torch.nn.functional.pad(values, (1, 1, 1, 1))
    expected = torch.zeros_like(values)
    for c in range(16):
        for y in range(5):
            for x in range(6):
                window = padded[0, c, y : y + 3, x : x + 3].reshape(9)
                expected[0, c, y, x] = (window * attention[0, c % 4, :, y, x]).sum()
    torch.testing.assert_close(block.aggregate(values, attention), expected)


def test_ciet_window_attention_is_a_softmax_and_keeps_the_shape():
    torch.manual_seed(0)
    block = CIET(32).eval()
    features = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        attention = block.local_attention(block.key_embed(features), features)
        out = block(features)
    torch.testing.assert_close(attention.sum(dim=2), torch.ones(2, 4, 8, 8))
    assert out.shape == features.shape and torch.isfinite(out).all()


def test_gram_schmidt_gives_rotations_even_for_non_perpendicular_inputs():
    torch.manual_seed(0)
    params = torch.randn(1000, 6, dtype=torch.float64)
    params[0] = torch.tensor([1.0, 0, 0, 1.0, 0.1, 0], dtype=torch.float64)  # nearly parallel
    rotation = rotation_6d_to_matrix(params)
    eye = torch.eye(3, dtype=torch.float64).expand(1000, 3, 3)
    torch.testing.assert_close(rotation @ rotation.transpose(1, 2), eye)
    torch.testing.assert_close(torch.linalg.det(rotation), torch.ones(1000, dtype=torch.float64))
    # The first column follows a, and a rotation's own 6D code maps back to it.
    a = torch.nn.functional.normalize(params[:, :3], dim=-1)
    torch.testing.assert_close(rotation[:, :, 0], a)
    torch.testing.assert_close(rotation_6d_to_matrix(matrix_to_rotation_6d(rotation)), rotation)


def test_axis_angle_rotates_about_the_axis():
    axis = torch.tensor([[0.0, 0.0, 1.0]])
    rotation = axis_angle_to_matrix(axis, torch.tensor([math.pi / 2]))
    torch.testing.assert_close(rotation[0] @ torch.tensor([1.0, 0, 0]), torch.tensor([0.0, 1, 0]))
