"""docs/conformance.md is generated from the code: which PyTorch names retrograd provides.

The page lists, for the PyTorch surface a user reaches for first (the names below), which
exist as ``retrograd.<name>``, ``retrograd.Tensor.<name>``, ``retrograd.nn.functional.<name>``
and ``retrograd.nn.<Name>``, followed by the documented differences in behaviour. The test
fails when the page and the code disagree; regenerate the page with

    PYTHONPATH=src python tests/test_conformance_page.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "conformance.md"

TORCH_FUNCTIONS = """
bmm dot inner mm mv outer trace
abs acos acosh add all allclose amax amin any arange argmax argmin argsort argwhere asin asinh
atan atan2 atanh bitwise_and bitwise_not bitwise_or bitwise_xor cat ceil celu chunk clamp
clamp_max clamp_min clip concat concatenate copysign cos cosh cummax cummin cumprod cumsum diag
diagonal div divide einsum empty empty_like enable_grad erf exp exp2 expm1 eye fix flatten flip
fliplr flipud floor floor_divide fmod from_numpy full full_like gather get_default_dtype
index_select is_grad_enabled isclose isfinite isinf isnan isneginf isposinf kthvalue lerp
linspace log log10 log1p log2 logaddexp logcumsumexp logical_and logical_not logical_or
logical_xor logsumexp manual_seed masked_fill masked_select matmul max maximum mean median
meshgrid min minimum mode movedim moveaxis msort mul narrow neg no_grad nonzero norm normal
numel ones ones_like permute pow prod rand rand_like randint randn randn_like remainder
repeat_interleave reshape roll round rsqrt scatter scatter_add scatter_reduce select selu
set_default_dtype sigmoid sign sin sinh softmax sort split sqrt square squeeze stack std
std_mean sub sum swapaxes swapdims take_along_dim tan tanh tensor tile topk transpose tril
triu true_divide trunc unbind unflatten unsqueeze var var_mean where zeros zeros_like
""".split()

TENSOR_METHODS = """
bmm dot inner mm mv outer trace where
abs acos acosh add all allclose amax amin any argmax argmin argsort argwhere asin asinh atan
atan2 atanh backward bitwise_and bitwise_not bitwise_or bitwise_xor ceil chunk clamp clamp_max
clamp_min clip clone contiguous copysign cos cosh cpu cummax cummin cumprod cumsum detach diag
diagonal dim div divide double erf exp exp2 expand expand_as expm1 fix flatten flip fliplr
flipud float floor floor_divide fmod gather index_select isclose isfinite isinf isnan isneginf
isposinf item kthvalue lerp log log10 log1p log2 logaddexp logcumsumexp logical_and
logical_not logical_or logical_xor logsumexp masked_fill masked_select matmul max maximum mean
median min minimum mode movedim moveaxis msort mul narrow ndim neg nonzero norm numel numpy
permute pow prod relu remainder repeat repeat_interleave requires_grad_ reshape roll round
rsqrt scatter scatter_add scatter_reduce select sigmoid sign sin sinh size softmax sort split
sqrt square squeeze std sub sum swapaxes swapdims t take_along_dim tan tanh tile to tolist
topk transpose tril triu true_divide trunc type_as unbind unflatten unfold unsqueeze var view
view_as
""".split()

FUNCTIONAL = """
adaptive_avg_pool2d avg_pool1d avg_pool2d batch_norm binary_cross_entropy
binary_cross_entropy_with_logits celu conv1d conv2d conv_transpose1d conv_transpose2d
cosine_embedding_loss cosine_similarity cross_entropy dropout dropout2d elu embedding gelu
group_norm hardsigmoid hardswish hardtanh huber_loss interpolate kl_div l1_loss layer_norm
leaky_relu linear log_softmax logsigmoid margin_ranking_loss max_pool1d max_pool2d mish
mse_loss nll_loss normalize one_hot pad pixel_shuffle pixel_unshuffle relu relu6
scaled_dot_product_attention selu sigmoid silu smooth_l1_loss softmax softmin softplus
softsign tanh
""".split()

MODULES = """
AdaptiveAvgPool2d AvgPool1d AvgPool2d BCELoss BCEWithLogitsLoss BatchNorm1d BatchNorm2d CELU
Conv1d Conv2d ConvTranspose1d ConvTranspose2d CosineEmbeddingLoss CosineSimilarity
CrossEntropyLoss Dropout Dropout2d ELU Embedding Flatten GELU GRU GRUCell GroupNorm
Hardsigmoid Hardswish Hardtanh HuberLoss Identity KLDivLoss L1Loss LSTM LSTMCell LayerNorm
LeakyReLU Linear LogSigmoid LogSoftmax MSELoss MarginRankingLoss MaxPool1d MaxPool2d Mish
Module ModuleList MultiheadAttention NLLLoss Parameter RNN RNNCell ReLU ReLU6 SELU SiLU
Sequential Sigmoid SmoothL1Loss Softmax Softmin Softplus Softsign Tanh Transformer
TransformerDecoderLayer TransformerEncoderLayer Upsample
""".split()

# Where a name exists but behaves differently from PyTorch on purpose (or by limitation).
DIFFERENCES = """\
- `sort`, `argsort`: always stable (`stable=` is accepted); `topk`/`kthvalue` pick among tied
  values by that stable order, where PyTorch leaves the index of ties unspecified.
- `scatter`: where an index repeats, the last write wins (PyTorch: unspecified).
- `scatter_reduce(..., "amax"/"amin", include_self=False)`: ties share the gradient among the
  values that took part; PyTorch also counts the excluded input value in the share.
- `floor_divide` / `//` and `div(rounding_mode=...)` have a zero gradient; PyTorch raises
  for `floor_divide` ("derivative not implemented").
- `kl_div`: the gradient with respect to a target of exactly 0 is finite (`-input`);
  PyTorch's is NaN.
- `norm`: vector norms only (`p` a number or `"fro"`); `"nuc"` and spectral matrix norms
  are not provided.
- `diagonal`, `unfold`, `repeat_interleave` and `index_select` return copies; PyTorch's
  `diagonal` and `unfold` return views that share storage with the input. (`split`,
  `chunk`, `unbind`, `narrow`, `select`, `flip` and `movedim` share storage, as NumPy
  views.) Gradients are the same either way.
- `binary_cross_entropy` refuses input outside [0, 1] with a ValueError (PyTorch raises a
  RuntimeError).
- `F.pad` non-constant modes follow PyTorch's limits (last 1 to 3 dimensions of a batched
  input; reflect padding smaller than the dimension).
"""


def _present(names: list, has) -> tuple:
    ok = [n for n in names if has(n)]
    return ok, [n for n in names if n not in ok]


def render() -> str:
    import retrograd as rg
    import retrograd.nn.functional as F

    sections = [
        ("`torch.*` functions as `retrograd.*`", TORCH_FUNCTIONS, lambda n: hasattr(rg, n)),
        (
            "`torch.Tensor` methods and attributes",
            TENSOR_METHODS,
            lambda n: hasattr(rg.Tensor, n),
        ),  # fmt: skip
        (
            "`torch.nn.functional` as `retrograd.nn.functional`",
            FUNCTIONAL,
            lambda n: hasattr(F, n),
        ),  # fmt: skip
        ("`torch.nn` layers and losses as `retrograd.nn`", MODULES, lambda n: hasattr(rg.nn, n)),
    ]
    lines = [
        "# PyTorch conformance",
        "",
        "Which of PyTorch's most used names retrograd provides, and where behaviour differs.",
        "Names that exist take PyTorch's arguments (`dim`, `keepdim`, `reduction`, ...) and",
        "return what PyTorch returns (`(values, indices)` named tuples for `sort`, `topk`,",
        "`kthvalue`, `median`, `mode`, `cummax`, `cummin`). Every differentiable op is compared",
        "with PyTorch in the test-suite, values and gradients, in float32 and float64",
        "(tests/ops/op_cases.py).",
        "",
        "This page is generated from the code by tests/test_conformance_page.py (which fails",
        "when it is out of date): `PYTHONPATH=src python tests/test_conformance_page.py`.",
    ]
    for title, names, has in sections:
        ok, missing = _present(sorted(set(names)), has)
        lines += ["", f"## {title}", "", f"Provided ({len(ok)} of {len(ok) + len(missing)}):", ""]
        lines += _wrap(", ".join(f"`{n}`" for n in ok))
        if missing:
            lines += ["", "Not provided:", ""] + _wrap(", ".join(f"`{n}`" for n in missing))
    lines += ["", "## Differences from PyTorch", "", DIFFERENCES.rstrip()]
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 92) -> list:
    out, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return out + ([line] if line else [])


def test_conformance_page_is_up_to_date():
    expected = render()
    actual = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    assert actual == expected, (
        "docs/conformance.md is out of date: run `PYTHONPATH=src python "
        "tests/test_conformance_page.py` and commit the result"
    )


@pytest.mark.parametrize(
    "names, where",
    [
        (TORCH_FUNCTIONS, "torch"),
        (TENSOR_METHODS, "torch.Tensor"),
        (FUNCTIONAL, "torch.nn.functional"),
        (MODULES, "torch.nn"),
    ],  # fmt: skip
)
def test_listed_names_are_pytorch_names(names, where, torch):
    import importlib

    obj = torch.Tensor if where == "torch.Tensor" else importlib.import_module(where)
    unknown = [n for n in names if not hasattr(obj, n)]
    assert not unknown, f"not {where} names: {unknown}"


if __name__ == "__main__":
    PAGE.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {PAGE}\n")
