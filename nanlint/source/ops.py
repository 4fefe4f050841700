"""The framework table: which qualified names and method names mean which semantic op.

Rules ask for semantic ops ("is this a log of a softmax?") and never spell a framework.
Adding a framework, or a spelling, is adding rows here.
"""

from __future__ import annotations

import libcst as cst

# Namespaces that mirror NumPy's API: one row covers them all.
NUMPY_LIKE = (
    "numpy",
    "jax.numpy",
    "cupy",
    "autograd.numpy",
    "mxnet.np",
    "mxnet.ndarray",
    "mxnet.symbol",
    "theano.tensor",
    "dask.array",
    "keras.ops",
    "tensorflow.experimental.numpy",
)
TORCH = ("torch",)
TORCH_FUNCTIONAL = ("torch.nn.functional",)
TENSORFLOW = ("tensorflow", "tensorflow.math")
TF_NN = ("tensorflow.nn",)
KERAS_BACKEND = ("keras.backend",)
JAX_NN = ("jax.nn", "flax.linen", "flax.nnx")
SCIPY_SPECIAL = ("scipy.special", "jax.scipy.special", "torch.special")
# Graph namespaces with their own activations: MXNet's imperative and symbolic APIs, Theano's nnet.
GRAPH_NN = ("mxnet.ndarray", "mxnet.symbol", "theano.tensor.nnet")

# Qualified-name prefixes that are spelled differently but mean the same namespace.
CANONICAL_PREFIXES = (
    ("tensorflow.compat.v1.", "tensorflow."),
    ("tensorflow.compat.v2.", "tensorflow."),
    ("tensorflow.keras.", "keras."),
    ("tf_keras.", "keras."),
    # Keras 3's own code calls its backend's NumPy-like namespaces, which keras.ops re-exports
    ("keras.src.backend.numpy.", "keras.ops."),
    ("keras.src.backend.math.", "keras.ops."),
    ("keras.src.ops.numpy.", "keras.ops."),
    ("keras.src.ops.math.", "keras.ops."),
    ("keras.src.", "keras."),
    ("mxnet.nd.", "mxnet.ndarray."),
    ("mxnet.sym.", "mxnet.symbol."),
    ("theano.tensor.nnet.nnet.", "theano.tensor.nnet."),
    ("jax._src.numpy.", "jax.numpy."),
    ("torch.nn.modules.activation.", "torch.nn."),
    ("flax.linen.activation.", "flax.linen."),
)


# Ops that return a mean and a spread, by qualified name: the kind of each result ("var" or "std"; None for the
# mean). The orders differ between frameworks.
MOMENT_RESULTS: dict[str, tuple[str | None, ...]] = {
    "tensorflow.nn.moments": (None, "var"),
    "tensorflow.nn.weighted_moments": (None, "var"),
    "keras.ops.moments": (None, "var"),
    "torch.var_mean": ("var", None),
    "torch.std_mean": ("std", None),
}


def _rows(namespaces: tuple[str, ...], *names: str) -> list[str]:
    return [f"{ns}.{name}" for ns in namespaces for name in names]


# op -> qualified names of functions computing it.
FUNCTIONS: dict[str, list[str]] = {
    "exp": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND + SCIPY_SPECIAL, "exp") + ["math.exp", "jax.lax.exp"],
    "expm1": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + SCIPY_SPECIAL, "expm1") + ["math.expm1", "jax.lax.expm1"],
    "log": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "log", "log2", "log10")
    + ["math.log", "math.log2", "math.log10", "jax.lax.log"],
    "log1p": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + SCIPY_SPECIAL, "log1p") + ["math.log1p", "jax.lax.log1p"],
    "softmax": _rows(
        TORCH
        + TORCH_FUNCTIONAL
        + TF_NN
        + ("tensorflow.math",)
        + KERAS_BACKEND
        + JAX_NN
        + SCIPY_SPECIAL
        + GRAPH_NN
        + ("keras.activations", "keras.ops"),
        "softmax",
    ),
    "log_softmax": _rows(TORCH + TORCH_FUNCTIONAL + TF_NN + JAX_NN + SCIPY_SPECIAL + ("keras.ops",), "log_softmax")
    + _rows(TF_NN + ("tensorflow.math",), "log_softmax"),
    "sigmoid": _rows(
        TORCH
        + TORCH_FUNCTIONAL
        + TENSORFLOW
        + TF_NN
        + KERAS_BACKEND
        + JAX_NN
        + GRAPH_NN
        + ("keras.activations", "keras.ops"),
        "sigmoid",
    )
    + _rows(SCIPY_SPECIAL, "expit"),
    "log_sigmoid": _rows(TORCH_FUNCTIONAL + JAX_NN + ("tensorflow.math", "keras.ops"), "logsigmoid", "log_sigmoid")
    + _rows(SCIPY_SPECIAL, "log_expit"),
    "softplus": _rows(
        TORCH_FUNCTIONAL + TF_NN + ("tensorflow.math",) + JAX_NN + KERAS_BACKEND + ("keras.activations", "keras.ops"),
        "softplus",
    ),
    "logsumexp": _rows(TORCH + SCIPY_SPECIAL + ("keras.ops",), "logsumexp")
    + _rows(TENSORFLOW, "reduce_logsumexp")
    + _rows(JAX_NN, "logsumexp")
    + ["keras.backend.logsumexp"],
    "logaddexp": _rows(NUMPY_LIKE + TORCH + ("tensorflow.experimental.numpy",), "logaddexp", "logaddexp2"),
    "sum": _rows(NUMPY_LIKE + TORCH, "sum", "nansum")
    + _rows(TENSORFLOW + KERAS_BACKEND, "reduce_sum", "sum")
    + ["builtins.sum", "math.fsum"],
    "segment_max": _rows(TENSORFLOW, "segment_max", "unsorted_segment_max")
    + ["jax.ops.segment_max", "torch_scatter.scatter_max"],
    "gather": _rows(TORCH, "index_select", "gather", "take_along_dim")
    + _rows(NUMPY_LIKE, "take", "take_along_axis")
    + ["tensorflow.gather", "tensorflow.gather_nd"],
    "segment_sum": _rows(TORCH, "scatter_add", "index_add", "segment_reduce")
    + _rows(TENSORFLOW, "segment_sum", "unsorted_segment_sum")
    + ["jax.ops.segment_sum", "torch_scatter.scatter_add", "torch_scatter.scatter_sum", "torch_scatter.scatter"],
    "mean": _rows(NUMPY_LIKE + TORCH, "mean", "nanmean", "average")
    + _rows(TENSORFLOW + KERAS_BACKEND, "reduce_mean", "mean"),
    "max": _rows(NUMPY_LIKE + TORCH, "max", "amax", "nanmax") + _rows(TENSORFLOW + KERAS_BACKEND, "reduce_max", "max"),
    "min": _rows(NUMPY_LIKE + TORCH, "min", "amin", "nanmin") + _rows(TENSORFLOW + KERAS_BACKEND, "reduce_min", "min"),
    "maximum": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "maximum", "fmax") + ["builtins.max"],
    "minimum": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "minimum", "fmin") + ["builtins.min"],
    "clamp": _rows(NUMPY_LIKE + TORCH + KERAS_BACKEND, "clip", "clamp", "clamp_min", "clip_min")
    + _rows(TORCH, "clamp_max")
    + _rows(TENSORFLOW, "clip_by_value")
    + ["jax.lax.clamp"],
    "nan_to_num": _rows(NUMPY_LIKE + TORCH, "nan_to_num") + ["tensorflow.experimental.numpy.nan_to_num"],
    "sqrt": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "sqrt") + ["math.sqrt", "jax.lax.sqrt"],
    "rsqrt": _rows(TORCH + TENSORFLOW + ("keras.ops", "mxnet.ndarray", "mxnet.symbol"), "rsqrt") + ["jax.lax.rsqrt"],
    "pow": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "pow", "power", "float_power")
    + ["math.pow", "builtins.pow"],
    "square": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "square") + ["theano.tensor.sqr"],
    # (a - b) ** 2 in one op
    "squared_difference": _rows(TENSORFLOW, "squared_difference"),
    "norm": _rows(("numpy.linalg", "jax.numpy.linalg", "torch.linalg", "cupy.linalg"), "norm", "vector_norm")
    + _rows(TORCH + TENSORFLOW, "norm")
    + ["tensorflow.linalg.norm", "math.hypot", "optax.safe_norm"],
    # distances between points: 0 where two points coincide
    "distance": _rows(("scipy.spatial.distance",), "pdist", "cdist", "euclidean", "cityblock", "minkowski")
    + ["math.dist", "torch.cdist", "torch.pdist", "torch.nn.functional.pairwise_distance", "torch.pairwise_distance"],
    "std": _rows(NUMPY_LIKE + TORCH, "std", "nanstd") + _rows(TENSORFLOW + KERAS_BACKEND, "reduce_std", "std"),
    "var": _rows(NUMPY_LIKE + TORCH, "var", "nanvar") + _rows(TENSORFLOW + KERAS_BACKEND, "reduce_variance", "var"),
    "moments": list(MOMENT_RESULTS),
    # graph-mode conditionals: one branch runs, chosen by a predicate
    "cond": ["tensorflow.cond", "jax.lax.cond"],
    "count": _rows(NUMPY_LIKE + TORCH + TENSORFLOW, "count_nonzero") + ["builtins.len"],
    "normalize": [
        "torch.nn.functional.normalize",
        "tensorflow.math.l2_normalize",
        "tensorflow.nn.l2_normalize",
        "keras.backend.l2_normalize",
        "sklearn.preprocessing.normalize",
    ],
    "div": _rows(NUMPY_LIKE + TORCH + TENSORFLOW, "divide", "true_divide", "div", "truediv", "realdiv")
    + ["jax.lax.div"],
    "safe_div": _rows(TENSORFLOW, "divide_no_nan", "div_no_nan") + ["tensorflow.math.xdivy"],
    "reciprocal": _rows(NUMPY_LIKE + TORCH + TENSORFLOW, "reciprocal"),
    "tan": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "tan") + ["math.tan"],
    "sin": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "sin") + ["math.sin"],
    # x * log(y) and x * log1p(y), 0 where x is 0 (but -inf where y is 0 and x is not)
    "xlogy": _rows(SCIPY_SPECIAL + TORCH, "xlogy") + ["tensorflow.math.xlogy"],
    "xlog1py": _rows(SCIPY_SPECIAL, "xlog1py") + ["tensorflow.math.xlog1py"],
    # samples of a uniform distribution on [minval, maxval) (by default [0, 1): exactly 0 now and then)
    "uniform": ["jax.random.uniform", "tensorflow.random.uniform", "numpy.random.uniform", "numpy.random.rand"]
    + ["numpy.random.random", "numpy.random.random_sample", "torch.rand", "torch.rand_like", "random.random"]
    + ["random.uniform"],
    # the distinct values of an array (len() of it is 1 for constant data)
    "unique": _rows(NUMPY_LIKE + TORCH, "unique") + ["tensorflow.unique", "builtins.set"],
    "acos": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "arccos", "acos") + ["math.acos", "jax.lax.acos"],
    "asin": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "arcsin", "asin") + ["math.asin", "jax.lax.asin"],
    "cos": _rows(NUMPY_LIKE + TORCH + TENSORFLOW, "cos") + ["math.cos"],
    # a matrix trace and diagonal: (trace(R) - 1) / 2 is the cosine of a rotation's angle
    "trace": _rows(NUMPY_LIKE + TORCH, "trace") + ["tensorflow.linalg.trace"],
    "diagonal": _rows(NUMPY_LIKE + TORCH, "diagonal") + ["tensorflow.linalg.diag_part"],
    # a geodesic distance of rotations through acos of a cosine clamped to [-clamping, clamping] (1 by default)
    "geodesic": ["roma.rotmat_geodesic_distance"],
    "cosine_similarity": [
        "torch.nn.functional.cosine_similarity",
        "torch.cosine_similarity",
        "keras.losses.cosine_similarity",
        "optax.cosine_similarity",
    ],
    "dot": _rows(NUMPY_LIKE + TORCH, "dot", "vdot", "inner", "einsum", "matmul")
    + _rows(TENSORFLOW, "tensordot", "matmul")
    + _rows(KERAS_BACKEND + ("mxnet.ndarray", "mxnet.symbol"), "dot", "batch_dot")
    + ["tensorflow.linalg.matmul"]
    + ["torch.nn.functional.linear"]
    + _rows(TORCH, "mm", "bmm")
    # convolutions: linear maps like a dot product
    + _rows(TORCH_FUNCTIONAL, "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d")
    + _rows(TF_NN, "conv1d", "conv2d", "conv3d", "convolution", "depthwise_conv2d")
    + ["jax.lax.conv", "jax.lax.conv_general_dilated"],
    "where": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "where")
    + ["tensorflow.where_v2", "jax.lax.select", "keras.backend.switch", "theano.tensor.switch"],
    "isnan": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "isnan")
    + _rows(TENSORFLOW, "is_nan")
    + ["math.isnan"],
    "isfinite": _rows(NUMPY_LIKE + TORCH + TENSORFLOW, "isfinite", "is_finite") + ["math.isfinite"],
    "abs": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "abs", "absolute") + ["builtins.abs", "math.fabs"],
    "masked_fill": _rows(TORCH, "masked_fill"),
    "neg": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND, "negative") + _rows(TORCH, "neg"),
    "one_hot": ["torch.nn.functional.one_hot", "tensorflow.one_hot", "jax.nn.one_hot", "keras.ops.one_hot"],
    "tanh": _rows(NUMPY_LIKE + TORCH + TENSORFLOW + KERAS_BACKEND + JAX_NN, "tanh") + ["math.tanh"],
    "relu": _rows(TORCH + TORCH_FUNCTIONAL + TF_NN + JAX_NN + KERAS_BACKEND, "relu"),
    "full": _rows(NUMPY_LIKE + TORCH, "full", "full_like") + _rows(TENSORFLOW, "fill"),
    "ones": _rows(NUMPY_LIKE + TORCH + TENSORFLOW, "ones", "ones_like"),
    # a trainable value: what it was initialised with does not hold once training moves it
    "parameter": ["torch.nn.Parameter", "torch.nn.parameter.Parameter", "tensorflow.Variable"],
    "cast": [
        "tensorflow.cast",
        "tensorflow.convert_to_tensor",
        "keras.backend.cast",
        "keras.ops.cast",
        "torch.as_tensor",
    ]
    + _rows(NUMPY_LIKE, "asarray"),
    # a tensor made of a value: torch.tensor(1e-8), tf.constant(eps)
    "tensor": ["torch.tensor", "tensorflow.constant", "jax.numpy.array", "numpy.array"],
    "finfo": _rows(NUMPY_LIKE + TORCH, "finfo") + ["tensorflow.experimental.numpy.finfo"],
    "float": ["builtins.float"] + _rows(NUMPY_LIKE, "float16", "float32", "float64"),
    "mul": _rows(NUMPY_LIKE + TORCH + TENSORFLOW, "multiply", "mul"),
    "layout": _rows(NUMPY_LIKE + TORCH + TENSORFLOW, "reshape", "squeeze", "expand_dims", "unsqueeze")
    + ["tensorflow.stop_gradient", "jax.lax.stop_gradient"],
    "no_grad": [
        "torch.no_grad",
        "torch.inference_mode",
        "torch.autograd.no_grad",
        "torch.autograd.grad_mode.no_grad",
        "torch.autograd.grad_mode.inference_mode",
    ],
}

# `x.exp()`: method name -> op, for receivers that are tensors/arrays rather than modules.
METHODS: dict[str, str] = {
    "exp": "exp",
    "exp_": "exp",
    "expm1": "expm1",
    "log": "log",
    "log_": "log",
    "log2": "log",
    "log10": "log",
    "log1p": "log1p",
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "sigmoid": "sigmoid",
    "sigmoid_": "sigmoid",
    "logsumexp": "logsumexp",
    "sum": "sum",
    "nansum": "sum",
    "scatter_add": "segment_sum",
    "scatter_add_": "segment_sum",
    "index_add": "segment_sum",
    "index_add_": "segment_sum",
    "scatter_reduce": "segment_sum",
    "mean": "mean",
    "nanmean": "mean",
    "max": "max",
    "amax": "max",
    "min": "min",
    "amin": "min",
    "maximum": "maximum",
    "minimum": "minimum",
    "clamp": "clamp",
    "clip": "clamp",
    "clamp_": "clamp",
    "clip_": "clamp",
    "clamp_min": "clamp",
    "clamp_min_": "clamp",
    "nan_to_num": "nan_to_num",
    "nan_to_num_": "nan_to_num",
    "sqrt": "sqrt",
    "sqrt_": "sqrt",
    "rsqrt": "rsqrt",
    "pow": "pow",
    "pow_": "pow",
    "square": "square",
    "norm": "norm",
    "std": "std",
    "var": "var",
    "count_nonzero": "count",
    "div": "div",
    "div_": "div",
    "divide": "div",
    "true_divide": "div",
    "reciprocal": "reciprocal",
    "trace": "trace",
    "diagonal": "diagonal",
    "acos": "acos",
    "arccos": "acos",
    "asin": "asin",
    "arcsin": "asin",
    "cos": "cos",
    "tan": "tan",
    "sin": "sin",
    "xlogy": "xlogy",
    "unique": "unique",
    "dot": "dot",
    "matmul": "dot",
    "isnan": "isnan",
    "abs": "abs",
    "neg": "neg",
    "negative": "neg",
    "masked_fill": "masked_fill",
    "masked_fill_": "masked_fill",
    "tanh": "tanh",
    "relu": "relu",
    "clamp_max": "clamp",
    "clamp_max_": "clamp",
    "mul": "mul",
    "mul_": "mul",
    "multiply": "mul",
    # value-preserving conversions and re-arrangements: guards and masks are seen through them
    "float": "cast",
    "double": "cast",
    "half": "cast",
    "bfloat16": "cast",
    "long": "cast",
    "int": "cast",
    "bool": "cast",
    "to": "cast",
    "type": "cast",
    "type_as": "cast",
    "astype": "cast",
    "detach": "layout",
    "clone": "layout",
    "contiguous": "layout",
    "view": "layout",
    "view_as": "layout",
    "reshape": "layout",
    "squeeze": "layout",
    "unsqueeze": "layout",
    "flatten": "layout",
    "expand": "layout",
    "expand_as": "layout",
    "mm": "dot",
    "bmm": "dot",
    "index_select": "gather",
    "gather": "gather",
    "take": "gather",
}

# Classes whose instances compute an op when called: `self.act = nn.Softmax(-1)` ... `self.act(x)`.
MODULE_CLASSES: dict[str, list[str]] = {
    "softmax": ["torch.nn.Softmax", "keras.layers.Softmax", "torch.nn.Softmax2d"],
    "log_softmax": ["torch.nn.LogSoftmax"],
    "sigmoid": ["torch.nn.Sigmoid"],
    "log_sigmoid": ["torch.nn.LogSigmoid"],
    "softplus": ["torch.nn.Softplus"],
    "tanh": ["torch.nn.Tanh"],
    "relu": ["torch.nn.ReLU", "keras.layers.ReLU"],
    "cosine_similarity": ["torch.nn.CosineSimilarity"],
    "norm": ["e3nn.o3.Norm"],
    "distance": ["torch.nn.PairwiseDistance"],
}

# Qualified names of constants.
CONSTANTS: dict[str, list[str]] = {
    "nan": _rows(NUMPY_LIKE + TORCH, "nan", "NaN", "NAN") + ["math.nan"],
    "inf": _rows(NUMPY_LIKE + TORCH, "inf", "Inf", "infty", "PINF") + ["math.inf"],
}


# Roots of namespaces whose ops are traced for gradients: an infinite derivative (sqrt at 0, the unused
# branch of a where) matters there, not in NumPy, SciPy or math.
DIFFERENTIABLE_ROOTS = frozenset(
    {
        "torch",
        "tensorflow",
        "jax",
        "flax",
        "keras",
        "tf_keras",
        "optax",
        "autograd",
        "mxnet",
        "theano",
        "paddle",
        "mlx",
        "haiku",
        "equinox",
        "roma",
        "e3nn",
        "torch_geometric",
        "torch_scatter",
    }
)

# Keywords that name an op's first operand when it is not passed by position: torch.sum(input=x),
# tf.reduce_sum(input_tensor=x).
OPERAND_KEYWORDS = ("input", "input_tensor")

# Local names that conventionally hold a module (`jnp = _infer_backend(x)`, `xp = array_namespace(x)`):
# a call through them is that namespace's function when nothing imports the name.
NAMESPACE_NAMES: dict[str, str] = {
    "np": "numpy",
    "xp": "numpy",
    "jnp": "jax.numpy",
    "tnp": "tensorflow.experimental.numpy",
    "torch": "torch",
    "tf": "tensorflow",
    "K": "keras.backend",
    "F": "torch.nn.functional",
    "math": "math",
}

# Namespaces a framework passes as a parameter, by (method, parameter): the base-class prefix of the classes whose
# methods receive it, the namespace it then is. Gluon calls `hybrid_forward(self, F, x)` with mxnet.ndarray or
# mxnet.symbol, which share their API.
NAMESPACE_PARAMETERS: dict[tuple[str, str], tuple[str, str]] = {
    ("hybrid_forward", "F"): ("mxnet.gluon.", "mxnet.ndarray"),
}
NAMESPACE_PARAMETER_ROOTS = frozenset(prefix.split(".", 1)[0] for prefix, _ in NAMESPACE_PARAMETERS.values())

# A project's own helpers, imported from a package nanlint has no table for, named like the op they compute
# (`from mypkg.utils import scatter, scatter_softmax`): taken at their name.
HELPER_NAMES: dict[str, str] = {
    "scatter": "segment_sum",
    "scatter_add": "segment_sum",
    "scatter_sum": "segment_sum",
    "scatter_mean": "segment_sum",
    "segment_sum": "segment_sum",
    "scatter_softmax": "softmax",
    "segment_softmax": "softmax",
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "logsumexp": "logsumexp",
    "scatter_logsumexp": "logsumexp",
    # masked fills spelled (tensor, mask, value), as masked_fill is
    "masked_fill": "masked_fill",
    "replace_masked_values": "masked_fill",
}
_KNOWN_ROOTS = frozenset(
    {"torch", "numpy", "tensorflow", "jax", "keras", "scipy", "math", "flax", "cupy", "builtins", "mxnet", "theano"}
)


def helper_op(qualified: str | None) -> str | None:
    """The op a helper of an unknown package computes, by its name (None for the known frameworks)."""
    if qualified is None or qualified.split(".", 1)[0] in _KNOWN_ROOTS or "." not in qualified:
        return None
    return HELPER_NAMES.get(qualified.rsplit(".", 1)[-1])


# Norm functions whose derivative at 0 is NaN (a sqrt of a sum of squares differentiated as such); PyTorch's
# norms define it as 0 and are left out.
NAN_GRADIENT_NORMS = frozenset({"jax.numpy.linalg.norm", "tensorflow.norm", "tensorflow.linalg.norm"})

# Clamps whose bounds come first: jax.lax.clamp(min, x, max).
CLAMP_BOUNDS_FIRST = frozenset({"jax.lax.clamp"})


# Frameworks without finfo whose dtypes carry their limits (`x.dtype.min`): NAN201's fix spells that.
DTYPE_LIMIT_ATTRIBUTES = frozenset({"tensorflow"})


# Functional indexed writes, `x.at[index].set(value)` (JAX): the accessor attribute, the writing methods.
INDEXED_WRITE_ACCESSOR, INDEXED_WRITE_METHODS = "at", frozenset({"set"})


def indexed_write(node: cst.Call):
    """The `x.at[index]` subscript of a functional indexed write, else None."""
    func = node.func
    if (
        isinstance(func, cst.Attribute)
        and func.attr.value in INDEXED_WRITE_METHODS
        and isinstance(func.value, cst.Subscript)
    ):
        owner = func.value.value
        if isinstance(owner, cst.Attribute) and owner.attr.value == INDEXED_WRITE_ACCESSOR:
            return func.value
    return None


def differentiable(qualified: str | None) -> bool:
    return qualified is not None and qualified.split(".", 1)[0] in DIFFERENTIABLE_ROOTS


def canonical(qualified: str) -> str:
    for prefix, replacement in CANONICAL_PREFIXES:
        if qualified.startswith(prefix):
            return replacement + qualified[len(prefix) :]
    return qualified


def _invert(table: dict[str, list[str]]) -> dict[str, str]:
    inverted: dict[str, str] = {}
    for op, names in table.items():
        for name in names:
            inverted.setdefault(name, op)
    return inverted


FUNCTION_OPS = _invert(FUNCTIONS)
MODULE_CLASS_OPS = _invert(MODULE_CLASSES)
CONSTANT_OPS = _invert(CONSTANTS)


def function_op(qualified: str | None) -> str | None:
    return None if qualified is None else FUNCTION_OPS.get(canonical(qualified))


def module_class_op(qualified: str | None) -> str | None:
    return None if qualified is None else MODULE_CLASS_OPS.get(canonical(qualified))


def constant_op(qualified: str | None) -> str | None:
    return None if qualified is None else CONSTANT_OPS.get(canonical(qualified))


# --- what fixes write ------------------------------------------------------------------------------------

# The function a fix calls, by the namespace of the code it repairs ("this framework's log_softmax").
# Only names that exist: torch.max(x, dim) returns (values, indices), so the max is amax; NumPy has no
# softmax, so NumPy code is repaired with scipy.special (when the file imports it).
_TORCH_FIXES = {
    "softmax": "torch.softmax",
    "log_softmax": "torch.log_softmax",
    "logsumexp": "torch.logsumexp",
    "log_sigmoid": "torch.nn.functional.logsigmoid",
    "softplus": "torch.nn.functional.softplus",
    "logaddexp": "torch.logaddexp",
    "log1p": "torch.log1p",
    "expm1": "torch.expm1",
    "max": "torch.amax",
}
_TORCH_MODULE_FIXES = {
    **_TORCH_FIXES,
    "softmax": "torch.nn.functional.softmax",
    "log_softmax": "torch.nn.functional.log_softmax",
}
_SCIPY_FIXES = {
    "softmax": "scipy.special.softmax",
    "log_softmax": "scipy.special.log_softmax",
    "log_sigmoid": "scipy.special.log_expit",
    "logsumexp": "scipy.special.logsumexp",
}
_JAX_FIXES = {
    "softmax": "jax.nn.softmax",
    "log_softmax": "jax.nn.log_softmax",
    "log_sigmoid": "jax.nn.log_sigmoid",
    "logsumexp": "jax.nn.logsumexp",
    "softplus": "jax.nn.softplus",
    "logaddexp": "jax.numpy.logaddexp",
    "log1p": "jax.numpy.log1p",
    "expm1": "jax.numpy.expm1",
    "max": "jax.numpy.max",
}
_TF_FIXES = {
    "softmax": "tensorflow.nn.softmax",
    "log_softmax": "tensorflow.nn.log_softmax",
    "log_sigmoid": "tensorflow.math.log_sigmoid",
    "logsumexp": "tensorflow.math.reduce_logsumexp",
    "softplus": "tensorflow.math.softplus",
    "log1p": "tensorflow.math.log1p",
    "expm1": "tensorflow.math.expm1",
    "max": "tensorflow.math.reduce_max",
}
_FLAX_OPS = ("softmax", "log_softmax", "log_sigmoid", "logsumexp", "softplus")
FIX_FUNCTIONS: dict[str, dict[str, str]] = {
    "torch": _TORCH_FIXES,
    "torch.nn.functional": _TORCH_MODULE_FIXES,
    "torch.nn": _TORCH_MODULE_FIXES,
    "torch.special": {
        **_TORCH_FIXES,
        **{op: f"torch.special.{op}" for op in ("softmax", "log_softmax", "logsumexp", "log1p", "expm1")},
    },
    **{ns: {op: f"{ns}.{op}" for op in ("logaddexp", "log1p", "expm1", "max")} for ns in NUMPY_LIKE},
    "numpy": {**_SCIPY_FIXES, **{op: f"numpy.{op}" for op in ("logaddexp", "log1p", "expm1", "max")}},
    "scipy.special": {**_SCIPY_FIXES, "log1p": "scipy.special.log1p", "expm1": "scipy.special.expm1"},
    "jax.numpy": _JAX_FIXES,
    "jax.nn": _JAX_FIXES,
    "jax.scipy.special": _JAX_FIXES,
    "jax.lax": {"log1p": "jax.lax.log1p", "expm1": "jax.lax.expm1", "max": "jax.numpy.max"},
    **{ns: {op: f"{ns}.{op}" for op in _FLAX_OPS} for ns in ("flax.linen", "flax.nnx")},
    "tensorflow": _TF_FIXES,
    "tensorflow.math": _TF_FIXES,
    "tensorflow.nn": _TF_FIXES,
    "keras.backend": {
        "softmax": "keras.backend.softmax",
        "logsumexp": "keras.backend.logsumexp",
        "softplus": "keras.backend.softplus",
        "max": "keras.backend.max",
    },
    "keras.ops": {
        op: f"keras.ops.{op}"
        for op in (
            "softmax",
            "log_softmax",
            "log_sigmoid",
            "logsumexp",
            "softplus",
            "logaddexp",
            "log1p",
            "expm1",
            "max",
        )
    },
    "math": {"log1p": "math.log1p", "expm1": "math.expm1"},
}
# Where a namespace lacks the function, the ones to try next: TensorFlow first (tf.keras.ops only
# exists from Keras 3 on), then Keras 3's ops.
FIX_FALLBACKS: dict[str, tuple[str, ...]] = {
    "keras.backend": ("tensorflow", "keras.ops"),
    "keras.activations": ("tensorflow", "keras.ops"),
    "keras.layers": ("tensorflow", "keras.ops"),
}
# Tensor methods fixes may call (`x.log_softmax(-1)`), for receivers that have tensor methods such as `.exp()`.
FIX_METHODS: dict[str, str] = {
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "logsumexp": "logsumexp",
    "log1p": "log1p",
    "expm1": "expm1",
    "max": "amax",
}
# Keyword names of a reduction's axis and keepdims, by top-level package (NumPy's names elsewhere).
AXIS_KEYWORDS: dict[str, tuple[str, str]] = {"torch": ("dim", "keepdim")}
# The namespace of tensor methods: fixes of `x.sigmoid()` call its functions, and use its keywords.
METHOD_NAMESPACE = "torch"
# Functions (and tensor methods, by name) without a default axis: torch.logsumexp(x) is an error.
NEEDS_AXIS = frozenset({"torch.logsumexp", "torch.special.logsumexp", "logsumexp"})


def fix_functions(namespace: str | None, op: str) -> list[str]:
    """Qualified names a fix may call for `op` in code of `namespace`, the preferred first."""
    if namespace is None:
        return []
    found = []
    for candidate in (namespace, *FIX_FALLBACKS.get(namespace, ())):
        name = FIX_FUNCTIONS.get(candidate, {}).get(op)
        if name is not None and name not in found:
            found.append(name)
    return found


def axis_keywords(qualified: str | None) -> tuple[str, str]:
    """(axis, keepdims) keyword names of a function; None for tensor methods."""
    root = METHOD_NAMESPACE if qualified is None else qualified.split(".", 1)[0]
    return AXIS_KEYWORDS.get(root, ("axis", "keepdims"))
