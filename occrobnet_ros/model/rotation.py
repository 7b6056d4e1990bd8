"""Rotation helpers in torch: the 6D parametrisation and axis-angle rotations.

Matrices act on column vectors (``x_cam = R @ x_obj``), so the columns of R are the object's
axes expressed in camera coordinates.
"""

import torch
import torch.nn.functional as F


def rotation_6d_to_matrix(params: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Map 6D vectors ``[a, b]`` ([..., 6]) to rotation matrices ([..., 3, 3]) by Gram-Schmidt.

    Columns: ``e1 = a/|a|``, ``e2 = normalise(b - (e1.b) e1)``, ``e3 = e1 x e2`` (Zhou et al.,
    CVPR 2019). Keypoint Transformer divides ``e1 x b`` by ``|b|`` instead, which is orthonormal
    only when b is perpendicular to a; we use the proper construction, so the output is always
    a rotation (R R^T = I, det R = +1).
    """
    a, b = params[..., :3], params[..., 3:]
    e1 = F.normalize(a, dim=-1, eps=eps)
    e2 = F.normalize(b - (e1 * b).sum(-1, keepdim=True) * e1, dim=-1, eps=eps)
    e3 = torch.linalg.cross(e1, e2, dim=-1)
    return torch.stack((e1, e2, e3), dim=-1)


def matrix_to_rotation_6d(rotation: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`rotation_6d_to_matrix` on rotations: the first two columns."""
    return torch.cat((rotation[..., :, 0], rotation[..., :, 1]), dim=-1)


def axis_angle_to_matrix(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: rotation by ``angle`` ([...]) about unit ``axis`` ([..., 3])."""
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), dim=-1).reshape(*x.shape, 3, 3)
    eye = torch.eye(3, dtype=axis.dtype, device=axis.device).expand_as(skew)
    sin, cos = torch.sin(angle)[..., None, None], torch.cos(angle)[..., None, None]
    return eye + sin * skew + (1 - cos) * (skew @ skew)
