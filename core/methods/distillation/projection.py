"""Start a narrower student's encoder layers from the teacher's, projected onto a basis of its residual stream.

One orthonormal basis ``B`` (teacher width x student width) stands for the
whole residual stream: the top principal directions of the teacher's word
embeddings as they enter the encoder (the basis the embeddings are projected
with, so every layer reads and writes the same coordinates); the identity when
the widths agree. Student layer ``i`` starts from teacher layer ``layer_map[i]``:

* input-side weights (query, key, value, FFN input) become ``W @ B``;
  output-side ones (attention output, FFN output) ``B^T @ W`` and their biases ``B^T b``;
* heads: the student keeps the teacher's ``h_s`` heads that write most into the
  projected stream (Frobenius norm of the head's ``O_h [V_h, b_v]``, in order);
  the value biases of dropped heads are constant over positions, so they are
  folded into the output bias exactly. Within a kept head of ``d_t`` dims, a
  student head of ``d_s`` dims takes the best rank-``d_s`` factorisation (SVD)
  of its bilinear query-key form ``[W_q, b_q]^T [W_k, b_k]`` and of its
  value-output map ``O_h [W_v, b_v]``, with the query scaled by
  ``sqrt(d_s / d_t)`` for the student's own ``1/sqrt(d_s)``. With ``d_s == d_t``
  the head is copied as it is; with ``d_s > d_t`` the extra dims keep the
  student's random key / value rows against zero query rows / output columns,
  so they add nothing at the start and still get gradients;
* FFN: the ``F_s`` neurons with the largest ``|W_in row| * |W_out column|``
  stay (more than the teacher has: random inputs, zero outputs);
* LayerNorm (post-norm): ``LN_s(B^T x) ~ B^T LN_t(x)``, with
  ``gamma_s = diag(B^T diag(gamma) B) * rho * sqrt(d_t / d_s)`` (the student
  normalises over ``d_s`` coordinates, not ``d_t``, a vector of which the basis
  keeps the share ``rho`` of the norm; ``rho`` is read off the word embeddings,
  the same for every norm) and ``beta_s = B^T beta``. An approximation (the
  student's centring is over its own coordinates, and ``diag(gamma)`` is not
  diagonal in the basis), exact for the identity basis.

Other linears and norms on the teacher's width outside the embeddings and the
layers (the pooler, classifier heads, ELECTRA's ``embeddings_project``) are
projected by the same rules, so a student of the teacher's shape is the
teacher exactly. Only BERT-style post-norm layers with separate query, key and
value projections are projected; other families are refused before the run.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from core.errors import StudioError
from core.methods.distillation.matching import resolve_layer_map
from core.methods.selection import select_top
from core.models.adapters import Adapter

PROJECTABLE = ("bert", "roberta", "xlm-roberta", "camembert", "electra", "distilbert")
# The families whose layers the projection cannot map, and why (distill.student_init refuses init_layers there).
PROJECTION_REFUSALS = {
    "albert": "its layers share one set of weights across depths, so student layers cannot each start from a "
              "teacher layer of their own",
    "deberta": "its disentangled attention has relative-position projections that the projection does not map",
    "deberta-v2": "its disentangled attention has relative-position projections that the projection does not map",
    "modernbert": "its fused QKV, gated FFN and pre-norm layers are not mapped by the projection",
    "mobilebert": "its bottleneck layers have widths of their own, not the hidden width",
}


def _f(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", torch.float32)  # the student is built on the CPU


def _copy(dst: torch.Tensor, src: torch.Tensor) -> None:
    if tuple(dst.shape) != tuple(src.shape):
        raise StudioError(f"projection made a {tuple(src.shape)} tensor for a {tuple(dst.shape)} parameter")
    dst.copy_(src.to(device=dst.device, dtype=dst.dtype))


def _hidden_words(teacher: nn.Module, adapter: Adapter) -> torch.Tensor:
    """The word embeddings as vectors of the teacher's hidden width (ELECTRA: through ``embeddings_project``)."""
    emb = adapter.embeddings(teacher)
    words = _f(getattr(emb, adapter.word_embeddings_attr).weight)
    project = getattr(adapter.base(teacher), "embeddings_project", None)
    if isinstance(project, nn.Linear):
        norm = getattr(emb, "LayerNorm", None)
        if isinstance(norm, nn.LayerNorm):
            words = nn.functional.layer_norm(words, norm.normalized_shape, _f(norm.weight), _f(norm.bias), norm.eps)
        words = words @ _f(project.weight).T + (_f(project.bias) if project.bias is not None else 0.0)
    return words


def residual_basis(teacher: nn.Module, adapter: Adapter, width: int) -> torch.Tensor:
    """``B`` (teacher width x ``width``), orthonormal columns: the identity at the teacher's width, else the top
    principal directions of the (hidden-width) word embeddings."""
    words = _hidden_words(teacher, adapter)
    t_width = words.shape[1]
    if width > t_width:
        raise StudioError(f"init_layers needs a student no wider than the teacher ({t_width}); got {width}")
    if width == t_width:
        return torch.eye(t_width)
    _, _, v = torch.linalg.svd(words - words.mean(0), full_matrices=False)
    return v[:width].T.contiguous()


def kept_share(teacher: nn.Module, adapter: Adapter, basis: torch.Tensor) -> float:
    """rho: the share of the (centred, hidden-width) word embeddings' norm that ``basis`` keeps (1 for the identity)."""
    if basis.shape[0] == basis.shape[1]:
        return 1.0
    words = _hidden_words(teacher, adapter)
    words = words - words.mean(0)
    return float((words @ basis).norm() / words.norm().clamp_min(1e-12))


def project_norm(src: nn.LayerNorm, dst: nn.LayerNorm, basis: torch.Tensor, kept: float = 1.0) -> None:
    """``LN_s(B^T x) ~ B^T LN_t(x)``: the student normalises ``rho`` of the teacher's norm over ``d_s`` coordinates."""
    d_t, d_s = basis.shape
    with torch.no_grad():
        if src.weight is not None and dst.weight is not None:
            gamma = (basis.pow(2) * _f(src.weight)[:, None]).sum(0) * math.sqrt(d_t / d_s) * kept
            _copy(dst.weight, gamma)
        if src.bias is not None and dst.bias is not None:
            _copy(dst.bias, basis.T @ _f(src.bias))


def _sub(layer: nn.Module, path: str) -> nn.Module:
    return layer.get_submodule(path)


def _bias(linear: nn.Linear, rows: int) -> torch.Tensor:
    return _f(linear.bias) if linear.bias is not None else torch.zeros(rows)


def _set_linear(dst: nn.Linear, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    _copy(dst.weight, weight)
    if dst.bias is not None and bias is not None:
        _copy(dst.bias, bias)


def _factor(matrix: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``L @ R`` (``L``: rows x rank, ``R``: rank x cols), the best rank-``rank`` approximation, balanced."""
    u, s, vt = torch.linalg.svd(matrix, full_matrices=False)
    root = s[:rank].sqrt()
    return u[:, :rank] * root, root[:, None] * vt[:rank]


def _project_attention(adapter: Adapter, t_layer: nn.Module, s_layer: nn.Module, basis: torch.Tensor) -> list[int]:
    att = adapter.attention
    d_t, d_s = basis.shape
    t_heads, t_size = adapter.heads(t_layer), adapter.head_size(t_layer)
    s_heads, s_size = adapter.heads(s_layer), adapter.head_size(s_layer)
    if s_heads > t_heads:
        raise StudioError(f"init_layers: the student has {s_heads} attention heads but the teacher layer has "
                          f"{t_heads}; ask for at most {t_heads} heads")
    q_t, k_t, v_t = (_sub(t_layer, p) for p in (att.query, att.key, att.value))
    o_t = _sub(t_layer, att.output)
    rows = t_heads * t_size
    wq, wk, wv = (_f(m.weight) @ basis for m in (q_t, k_t, v_t))  # (heads x size, d_s)
    bq, bk, bv = (_bias(m, rows) for m in (q_t, k_t, v_t))
    wo = basis.T @ _f(o_t.weight)  # (d_s, heads x size)
    bo = basis.T @ _bias(o_t, d_t)

    def head(h):
        return slice(h * t_size, (h + 1) * t_size)

    ov = [wo[:, head(h)] @ torch.cat([wv[head(h)], bv[head(h), None]], 1) for h in range(t_heads)]
    keep = select_top([float(o.norm()) for o in ov], s_heads)
    for h in (h for h in range(t_heads) if h not in keep):  # attention weights sum to one: a dropped head's value bias is a constant output
        bo = bo + wo[:, head(h)] @ bv[head(h)]

    q_s, k_s, v_s = (_sub(s_layer, p) for p in (att.query, att.key, att.value))
    o_s = _sub(s_layer, att.output)
    new = {name: (_f(m.weight).clone(), _bias(m, s_heads * s_size).clone())
           for name, m in (("q", q_s), ("k", k_s), ("v", v_s))}
    new_wo = _f(o_s.weight).clone()
    scale = math.sqrt(s_size / t_size)  # q.k / sqrt(d_s) == teacher's q.k / sqrt(d_t)
    for j, h in enumerate(keep):
        rs, ts = slice(j * s_size, (j + 1) * s_size), head(h)
        if s_size >= t_size:
            part = slice(j * s_size, j * s_size + t_size)
            rest = slice(j * s_size + t_size, (j + 1) * s_size)
            new["q"][0][part], new["q"][1][part] = wq[ts] * scale, bq[ts] * scale
            new["q"][0][rest], new["q"][1][rest] = 0.0, 0.0
            new["k"][0][part], new["k"][1][part] = wk[ts], bk[ts]
            new["v"][0][part], new["v"][1][part] = wv[ts], bv[ts]
            new_wo[:, part] = wo[:, ts]
            new_wo[:, rest] = 0.0
            continue
        qk = torch.cat([wq[ts], bq[ts, None]], 1).T @ torch.cat([wk[ts], bk[ts, None]], 1)
        left, right = _factor(qk, s_size)  # (d_s + 1, r), (r, d_s + 1)
        new["q"][0][rs], new["q"][1][rs] = left[:-1].T * scale, left[-1] * scale
        new["k"][0][rs], new["k"][1][rs] = right[:, :-1], right[:, -1]
        out, val = _factor(ov[h], s_size)  # (d_s, r), (r, d_s + 1)
        new_wo[:, rs] = out
        new["v"][0][rs], new["v"][1][rs] = val[:, :-1], val[:, -1]
    with torch.no_grad():
        for name, m in (("q", q_s), ("k", k_s), ("v", v_s)):
            _set_linear(m, *new[name])
        _set_linear(o_s, new_wo, bo)
    return keep


def _project_ffn(adapter: Adapter, t_layer: nn.Module, s_layer: nn.Module, basis: torch.Tensor) -> None:
    d_t, _ = basis.shape
    fi_t, fo_t = adapter.ffn_input(t_layer), adapter.ffn_output(t_layer)
    fi_s, fo_s = adapter.ffn_input(s_layer), adapter.ffn_output(s_layer)
    w_in, b_in = _f(fi_t.weight) @ basis, _bias(fi_t, adapter.ffn_width(t_layer))
    w_out, b_out = basis.T @ _f(fo_t.weight), basis.T @ _bias(fo_t, d_t)
    t_width, s_width = w_in.shape[0], adapter.ffn_width(s_layer)
    if s_width >= t_width:
        keep = torch.arange(t_width)
    else:
        score = w_in.norm(dim=1) * w_out.norm(dim=0)
        keep = torch.tensor(select_top(score.tolist(), s_width), dtype=torch.long)
    new_in, new_b = _f(fi_s.weight).clone(), _bias(fi_s, s_width).clone()
    new_out = torch.zeros_like(_f(fo_s.weight))  # neurons beyond the teacher's: random inputs, no output yet
    n = len(keep)
    new_in[:n], new_b[:n], new_out[:, :n] = w_in[keep], b_in[keep], w_out[:, keep]
    with torch.no_grad():
        _set_linear(fi_s, new_in, new_b)
        _set_linear(fo_s, new_out, b_out)


def project_layer(adapter: Adapter, t_layer: nn.Module, s_layer: nn.Module, basis: torch.Tensor,
                  kept: float = 1.0) -> list[int]:
    """Overwrite ``s_layer`` with ``t_layer`` projected onto ``basis``; the teacher heads kept, in order."""
    keep = _project_attention(adapter, t_layer, s_layer, basis)
    _project_ffn(adapter, t_layer, s_layer, basis)
    for path in adapter.norms:
        src, dst = _sub(t_layer, path), _sub(s_layer, path)
        if isinstance(src, nn.LayerNorm) and isinstance(dst, nn.LayerNorm):
            project_norm(src, dst, basis, kept)
    return keep


def _project_rest(adapter: Adapter, teacher: nn.Module, student: nn.Module, basis: torch.Tensor,
                  kept: float) -> list[str]:
    """Linears and norms outside the embeddings and the layers (pooler, heads, ELECTRA's embeddings_project)."""
    d_t, d_s = basis.shape
    base = adapter.base_prefix(teacher)
    skip = tuple(".".join(p for p in (base, path) if p) + "." for path in (adapter.embeddings_path, adapter.layers_path))
    s_modules = dict(student.named_modules())
    done = []
    for name, src in teacher.named_modules():
        dst = s_modules.get(name)
        if not name or (name + ".").startswith(skip) or dst is None or type(dst) is not type(src):
            continue
        with torch.no_grad():
            if isinstance(src, nn.Linear):
                w, b = _f(src.weight), (_f(src.bias) if src.bias is not None else None)
                if src.in_features == d_t and dst.in_features == d_s:
                    w = w @ basis
                if src.out_features == d_t and dst.out_features == d_s:
                    w, b = basis.T @ w, (basis.T @ b if b is not None else None)
                if tuple(w.shape) == tuple(dst.weight.shape):
                    _set_linear(dst, w, b)
                    done.append(name)
            elif isinstance(src, nn.LayerNorm) and tuple(src.normalized_shape) == (d_t,) and \
                    tuple(dst.normalized_shape) == (d_s,):
                project_norm(src, dst, basis, kept)
                done.append(name)
    return done


def project_student(teacher: nn.Module, student: nn.Module, adapter: Adapter, layer_map: list,
                    basis: torch.Tensor, kept: float = 1.0) -> dict:
    """Start every student layer from its mapped teacher layer; what was done, as plain data."""
    if adapter.family not in PROJECTABLE:
        why = PROJECTION_REFUSALS.get(adapter.family, "its layer layout is not one the projection maps")
        raise StudioError(f"init_layers cannot apply to a {adapter.title} model ({adapter.family}): {why}")
    t_layers, s_layers = adapter.layers(teacher), adapter.layers(student)
    try:
        mapping = resolve_layer_map(layer_map, len(s_layers), len(t_layers))
    except StudioError as err:
        raise StudioError(f"layer_map: {err}") from None
    t_project = getattr(adapter.base(teacher), "embeddings_project", None)
    s_project = getattr(adapter.base(student), "embeddings_project", None)
    if isinstance(t_project, nn.Linear) and not isinstance(s_project, nn.Linear):
        raise StudioError(f"init_layers: the teacher projects its {t_project.in_features}-wide embeddings to its "
                          f"hidden width and a {basis.shape[1]}-wide student would not (its hidden width equals the "
                          "embedding size); pick another hidden_size")
    heads = [project_layer(adapter, t_layers[t], s, basis, kept) for t, s in zip(mapping, s_layers)]
    rest = _project_rest(adapter, teacher, student, basis, kept)
    if isinstance(s_project, nn.Linear) and not isinstance(t_project, nn.Linear):
        with torch.no_grad():  # the teacher's embeddings already live in its hidden space: project them
            _set_linear(s_project, basis.T, torch.zeros(basis.shape[1]))
    return {"layer_map": mapping, "teacher_heads": heads, "projected": rest}
