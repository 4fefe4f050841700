"""The framework table of the precision and training-setup rules (NAN2xx, NAN3xx).

Like ops.py, this is rows only: which qualified names are optimizers, schedules, losses,
recurrent layers, initialisers, image decoders, dtypes ... and the few facts about them
the rules need (where the learning rate goes, what a loss expects). Rules never spell a
framework; adding one is adding rows here. Names are canonical (see ops.canonical).
"""

from __future__ import annotations

from dataclasses import dataclass

NUMPY_LIKE = (
    "numpy",
    "jax.numpy",
    "cupy",
    "autograd.numpy",
    "mxnet.np",
    "dask.array",
    "keras.ops",
    "tensorflow.experimental.numpy",
)
NUMPY_RANDOM = ("numpy.random", "cupy.random")
JAX_INITIALIZERS = ("jax.nn.initializers", "flax.linen.initializers", "flax.nnx.initializers")
KERAS_OPTIMIZERS = ("keras.optimizers", "keras.optimizers.legacy", "keras.optimizers.experimental")
KERAS_SCHEDULES = ("keras.optimizers.schedules",)
TF_LEGACY = ("tensorflow.train",)


def _rows(namespaces: tuple[str, ...], *names: str) -> list[str]:
    return [f"{ns}.{name}" for ns in namespaces for name in names]


# --- dtypes ----------------------------------------------------------------------------------

# Qualified dtype objects -> dtype name.
DTYPES: dict[str, str] = {}
for _ns in NUMPY_LIKE + ("torch", "tensorflow"):
    DTYPES.update(
        {
            f"{_ns}.float16": "float16",
            f"{_ns}.half": "float16",
            f"{_ns}.bfloat16": "bfloat16",
            f"{_ns}.float32": "float32",
            f"{_ns}.single": "float32",
            f"{_ns}.float64": "float64",
            f"{_ns}.double": "float64",
        }
    )
DTYPES.update(
    {
        "torch.float": "float32",
        "builtins.float": "float64",
        "ml_dtypes.bfloat16": "bfloat16",
        "torch.HalfTensor": "float16",
        "torch.FloatTensor": "float32",
        "torch.DoubleTensor": "float64",
        "torch.cuda.HalfTensor": "float16",
        "torch.cuda.FloatTensor": "float32",
    }
)

# Dtype names as strings (`dtype="float16"`, `astype("float32")`, `Policy("mixed_float16")`).
DTYPE_STRINGS: dict[str, str] = {
    "float16": "float16",
    "half": "float16",
    "fp16": "float16",
    "f2": "float16",
    "mixed_float16": "float16",
    "16": "float16",
    "16-mixed": "float16",
    "16-true": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "mixed_bfloat16": "bfloat16",
    "bf16-mixed": "bfloat16",
    "bf16-true": "bfloat16",
    "float32": "float32",
    "float": "float32",
    "single": "float32",
    "f4": "float32",
    "32": "float32",
    "float64": "float64",
    "double": "float64",
    "f8": "float64",
}


@dataclass(frozen=True)
class FloatFormat:
    name: str
    max: float  # largest finite value
    tiny: float  # smallest positive normal
    subnormal: float  # smallest positive subnormal
    mantissa_bits: int  # explicit fraction bits


FORMATS: dict[str, FloatFormat] = {
    "float16": FloatFormat("float16", 65504.0, 2.0**-14, 2.0**-24, 10),
    "bfloat16": FloatFormat("bfloat16", 3.3895313892515355e38, 2.0**-126, 2.0**-133, 7),
    "float32": FloatFormat("float32", 3.4028234663852886e38, 2.0**-126, 2.0**-149, 23),
    "float64": FloatFormat("float64", 1.7976931348623157e308, 2.0**-1022, 5e-324, 52),
}

# Import roots whose default float dtype is float32 (NumPy's and plain Python's is float64).
FLOAT32_DEFAULT_ROOTS = frozenset(
    {
        "torch",
        "tensorflow",
        "jax",
        "flax",
        "keras",
        "tf_keras",
        "mxnet",
        "paddle",
        "mindspore",
        "oneflow",
        "optax",
        "torchvision",
        "transformers",
        "timm",
        "lightning",
        "pytorch_lightning",
    }
)

# --- precision setup -------------------------------------------------------------------------

# Mixed-precision machinery: qualified name -> the dtype it computes in by default.
MIXED_PRECISION: dict[str, str] = {
    "torch.autocast": "float16",
    "torch.amp.autocast": "float16",
    "torch.cuda.amp.autocast": "float16",
    "torch.cpu.amp.autocast": "bfloat16",
    "torch.amp.GradScaler": "float16",
    "torch.cuda.amp.GradScaler": "float16",
    "torch.GradScaler": "float16",
    "apex.amp.initialize": "float16",
    "apex.amp.scale_loss": "float16",
    "keras.mixed_precision.LossScaleOptimizer": "float16",
}
# Calls whose dtype argument (or `.half()`) turns the parameters themselves to that dtype.
PARAMETER_DTYPE_SETTERS = frozenset({"torch.set_default_dtype", "keras.backend.set_floatx", "keras.config.set_floatx"})
PARAMETER_DTYPE_METHODS = frozenset({"to", "type"})
PARAMETER_DTYPE_KEYWORDS = frozenset({"param_dtype", "torch_dtype"})
# Flags and options that switch a script to float16 (`args.fp16`, `fp16=True`, `"--fp16"`).
HALF_FLAGS = frozenset({"fp16", "use_fp16", "fp16_run", "half_precision", "use_half", "use_amp"})
BFLOAT16_FLAGS = frozenset({"bf16", "use_bf16", "bfloat16"})

# --- epsilons ------------------------------------------------------------------------------

EPS_NAMES = frozenset(
    {
        "eps",
        "epsilon",
        "layer_norm_eps",
        "layer_norm_epsilon",
        "norm_eps",
        "rms_norm_eps",
        "variance_epsilon",
        "ln_eps",
        "bn_eps",
        "norm_epsilon",
        "adam_eps",
        "adam_epsilon",
        "eps_root",
    }
)

# Normalisation layers: their eps sits under a rsqrt of the variance.
NORM_LAYERS = frozenset(
    _rows(
        ("torch.nn",),
        "LayerNorm",
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "GroupNorm",
        "InstanceNorm1d",
        "InstanceNorm2d",
        "InstanceNorm3d",
        "RMSNorm",
        "SyncBatchNorm",
        "LazyBatchNorm1d",
        "LazyBatchNorm2d",
    )
    + _rows(("torch.nn.functional",), "layer_norm", "batch_norm", "group_norm", "instance_norm", "rms_norm")
    + _rows(("keras.layers",), "LayerNormalization", "BatchNormalization", "GroupNormalization")
    + _rows(("flax.linen", "flax.nnx"), "LayerNorm", "BatchNorm", "GroupNorm", "RMSNorm")
    + ["apex.normalization.FusedLayerNorm", "apex.normalization.FusedRMSNorm"]
)

# Functions whose eps guards a computation on the parameters themselves (their dtype decides).
PARAMETER_EPS_FUNCTIONS = frozenset(
    {
        "torch.nn.utils.spectral_norm",
        "torch.nn.utils.parametrizations.spectral_norm",
        "torch.nn.utils.spectral_norm.SpectralNorm.apply",
        "torch.nn.utils.weight_norm",
    }
)
# Import roots whose kernels flush float32 subnormals to zero (TensorFlow by default, XLA always).
FLUSHING_ROOTS = frozenset({"tensorflow", "jax", "flax", "keras", "tf_keras", "optax", "gpflow"})

# --- optimizers and schedules -----------------------------------------------------------------


@dataclass(frozen=True)
class Optimizer:
    family: str  # key of the NAN301 thresholds
    lr_position: int  # positional index of the learning rate
    eps_keyword: str | None = None  # name of its epsilon argument
    default_eps: float | None = None  # its value when not given


OPTIMIZERS: dict[str, Optimizer] = {}


def _optimizers(
    namespaces: tuple[str, ...], position: int, eps_keyword: str | None, table: dict[str, tuple[str, float | None]]
) -> None:
    for ns in namespaces:
        for name, (family, eps) in table.items():
            OPTIMIZERS[f"{ns}.{name}"] = Optimizer(family, position, eps_keyword if eps else None, eps)


_optimizers(
    ("torch.optim",),
    1,
    "eps",
    {
        "SGD": ("SGD", None),
        "ASGD": ("SGD", None),
        "Adam": ("Adam", 1e-8),
        "AdamW": ("Adam", 1e-8),
        "Adamax": ("Adam", 1e-8),
        "NAdam": ("Adam", 1e-8),
        "RAdam": ("Adam", 1e-8),
        "SparseAdam": ("Adam", 1e-8),
        "Adagrad": ("Adagrad", 1e-10),
        "Adadelta": ("Adadelta", 1e-6),
        "RMSprop": ("RMSprop", 1e-8),
        "Rprop": ("Rprop", None),
        "LBFGS": ("LBFGS", None),
        "Adafactor": ("Adafactor", None),
    },
)
_optimizers(("transformers", "transformers.optimization"), 1, "eps", {"AdamW": ("Adam", 1e-6)})
_optimizers(
    ("apex.optimizers",),
    1,
    "eps",
    {"FusedAdam": ("Adam", 1e-8), "FusedLAMB": ("LAMB", 1e-6), "FusedSGD": ("SGD", None)},
)
_optimizers(
    ("bitsandbytes.optim",),
    1,
    "eps",
    {"Adam8bit": ("Adam", 1e-8), "AdamW8bit": ("Adam", 1e-8), "Lion8bit": ("Lion", None), "SGD8bit": ("SGD", None)},
)
_optimizers(
    KERAS_OPTIMIZERS,
    0,
    "epsilon",
    {
        "SGD": ("SGD", None),
        "Adam": ("Adam", 1e-7),
        "AdamW": ("Adam", 1e-7),
        "Adamax": ("Adam", 1e-7),
        "Nadam": ("Adam", 1e-7),
        "RMSprop": ("RMSprop", 1e-7),
        "Adagrad": ("Adagrad", 1e-7),
        "Adadelta": ("Adadelta", 1e-7),
        "Ftrl": ("Ftrl", None),
        "Lion": ("Lion", None),
        "Lamb": ("LAMB", 1e-6),
        "Adafactor": ("Adafactor", None),
    },
)
_optimizers(
    TF_LEGACY,
    0,
    "epsilon",
    {
        "GradientDescentOptimizer": ("SGD", None),
        "MomentumOptimizer": ("SGD", None),
        "ProximalGradientDescentOptimizer": ("SGD", None),
        "AdamOptimizer": ("Adam", 1e-8),
        "AdagradOptimizer": ("Adagrad", None),
        "ProximalAdagradOptimizer": ("Adagrad", None),
        "AdadeltaOptimizer": ("Adadelta", 1e-8),
        "RMSPropOptimizer": ("RMSprop", 1e-10),
        "FtrlOptimizer": ("Ftrl", None),
    },
)
_optimizers(
    ("optax",),
    0,
    "eps",
    {
        "sgd": ("SGD", None),
        "noisy_sgd": ("SGD", None),
        "adam": ("Adam", 1e-8),
        "adamw": ("Adam", 1e-8),
        "adamax": ("Adam", 1e-8),
        "adamaxw": ("Adam", 1e-8),
        "nadam": ("Adam", 1e-8),
        "nadamw": ("Adam", 1e-8),
        "radam": ("Adam", 1e-8),
        "amsgrad": ("Adam", 1e-8),
        "adabelief": ("Adam", 1e-16),
        "novograd": ("Adam", 1e-6),
        "yogi": ("Adam", None),
        "lion": ("Lion", None),
        "rmsprop": ("RMSprop", 1e-8),
        "adagrad": ("Adagrad", 1e-7),
        "adadelta": ("Adadelta", 1e-6),
        "lamb": ("LAMB", 1e-6),
        "lars": ("LARS", None),
        "fromage": ("SGD", None),
        "adafactor": ("Adafactor", None),
        "sm3": ("Adagrad", None),
    },
)

# Families whose step moves each weight by about lr whatever the gradient's size (normalised updates).
BOUNDED_UPDATE_FAMILIES = frozenset({"Adam", "RMSprop", "Adagrad", "Adadelta", "Lion", "LAMB", "Adafactor", "Rprop"})

# NAN301 defaults: the learning rate above which each family is reported. Typical values lie one
# to two orders of magnitude below (SGD 0.01-1, Adam 1e-5-3e-3, Lion 3-10x below Adam);
# Adadelta's and LBFGS's default is 1.0; LARS reaches 10-30 in large-batch training.


@dataclass(frozen=True)
class Schedule:
    peaks: tuple[tuple[int, str], ...]  # (position, keyword) of every value the schedule reaches at its extremes
    optimizer: int | None = None  # position of the optimizer it drives (schedulers of an optimizer object)
    lists: bool = False  # the peak arguments are lists of values (piecewise constant)


SCHEDULES: dict[str, Schedule] = {
    "torch.optim.lr_scheduler.OneCycleLR": Schedule(((1, "max_lr"),), optimizer=0),
    "torch.optim.lr_scheduler.CyclicLR": Schedule(((1, "base_lr"), (2, "max_lr")), optimizer=0),
    "keras.optimizers.schedules.ExponentialDecay": Schedule(((0, "initial_learning_rate"),)),
    "keras.optimizers.schedules.InverseTimeDecay": Schedule(((0, "initial_learning_rate"),)),
    "keras.optimizers.schedules.CosineDecayRestarts": Schedule(((0, "initial_learning_rate"),)),
    "keras.optimizers.schedules.CosineDecay": Schedule(((0, "initial_learning_rate"), (4, "warmup_target"))),
    "keras.optimizers.schedules.PolynomialDecay": Schedule(((0, "initial_learning_rate"), (2, "end_learning_rate"))),
    "keras.optimizers.schedules.PiecewiseConstantDecay": Schedule(((1, "values"),), lists=True),
    "tensorflow.train.exponential_decay": Schedule(((0, "learning_rate"),)),
    "tensorflow.train.inverse_time_decay": Schedule(((0, "learning_rate"),)),
    "tensorflow.train.natural_exp_decay": Schedule(((0, "learning_rate"),)),
    "tensorflow.train.cosine_decay": Schedule(((0, "learning_rate"),)),
    "tensorflow.train.polynomial_decay": Schedule(((0, "learning_rate"), (3, "end_learning_rate"))),
    "tensorflow.train.piecewise_constant": Schedule(((2, "values"),), lists=True),
    "optax.constant_schedule": Schedule(((0, "value"),)),
    "optax.linear_schedule": Schedule(((0, "init_value"), (1, "end_value"))),
    "optax.polynomial_schedule": Schedule(((0, "init_value"), (1, "end_value"))),
    "optax.cosine_decay_schedule": Schedule(((0, "init_value"),)),
    "optax.exponential_decay": Schedule(((0, "init_value"), (5, "end_value"))),
    "optax.piecewise_constant_schedule": Schedule(((0, "init_value"),)),
    "optax.warmup_cosine_decay_schedule": Schedule(((0, "init_value"), (1, "peak_value"), (4, "end_value"))),
    "optax.warmup_exponential_decay_schedule": Schedule(((0, "init_value"), (1, "peak_value"))),
    "optax.warmup_constant_schedule": Schedule(((0, "init_value"), (1, "peak_value"))),
    "optax.cosine_onecycle_schedule": Schedule(((1, "peak_value"),)),
    "optax.linear_onecycle_schedule": Schedule(((1, "peak_value"),)),
}
for _name in [n for n in SCHEDULES if n.startswith("optax.")]:
    SCHEDULES[_name.replace("optax.", "optax.schedules.", 1)] = SCHEDULES[_name]

# Command-line flag definitions: qualified name -> (position of the flag's name, position of its default).
FLAG_DEFINERS: dict[str, tuple[int, int]] = {
    f"{ns}.{kind}": (0, 1)
    for ns in ("absl.flags", "tensorflow.flags", "tensorflow.app.flags")
    for kind in ("DEFINE_float", "DEFINE_integer", "DEFINE_string")
}
FLAG_METHODS = frozenset({"add_argument"})  # argparse: `parser.add_argument("--lr", default=...)`

# --- gradient clipping and training steps ----------------------------------------------------

CLIPPING_FUNCTIONS = frozenset(
    _rows(
        ("torch.nn.utils",),
        "clip_grad_norm_",
        "clip_grad_value_",
        "clip_grad_norm",
        "clip_grad_value",
        "clip_grads_with_norm_",
    )
    + _rows(
        ("optax",),
        "clip",
        "clip_by_global_norm",
        "clip_by_block_rms",
        "adaptive_grad_clip",
        "per_example_global_norm_clip",
    )
    + _rows(("optax.transforms",), "clip", "clip_by_global_norm", "clip_by_block_rms", "adaptive_grad_clip")
    + _rows(("tensorflow",), "clip_by_global_norm", "clip_by_norm", "clip_by_average_norm")
    + ["tensorflow.contrib.estimator.clip_gradients_by_norm"]
)
CLIPPING_METHODS = frozenset({"clip_grad_norm_", "clip_grad_value_", "clip_gradients", "clip_grad_norm"})
# Keywords (of optimizers, trainers, configs) that switch clipping on when given a non-zero value.
CLIPPING_KEYWORDS = frozenset(
    {
        "clipnorm",
        "clipvalue",
        "global_clipnorm",
        "gradient_clip_val",
        "max_grad_norm",
        "grad_clip",
        "clip_grad",
        "clip_grad_norm",
        "gradient_clipping",
        "clip_norm",
    }
)
# Trainers that clip by default (max_grad_norm=1.0).
CLIPPING_TRAINERS = frozenset({"transformers.Trainer", "transformers.Seq2SeqTrainer", "trl.SFTTrainer"})

RECURRENT_LAYERS = frozenset(
    _rows(("torch.nn",), "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell")
    + _rows(
        ("keras.layers",),
        "LSTM",
        "GRU",
        "SimpleRNN",
        "RNN",
        "LSTMCell",
        "GRUCell",
        "SimpleRNNCell",
        "ConvLSTM1D",
        "ConvLSTM2D",
        "ConvLSTM3D",
        "CuDNNLSTM",
        "CuDNNGRU",
    )
    + _rows(
        ("flax.linen", "flax.linen.recurrent"),
        "LSTMCell",
        "OptimizedLSTMCell",
        "GRUCell",
        "SimpleCell",
        "ConvLSTMCell",
        "MGUCell",
        "RNN",
        "Bidirectional",
    )
    + _rows(("flax.nnx",), "LSTMCell", "OptimizedLSTMCell", "GRUCell", "SimpleCell", "RNN")
    + _rows(
        ("tensorflow.nn.rnn_cell", "tensorflow.contrib.rnn", "tensorflow.contrib.cudnn_rnn"),
        "LSTMCell",
        "GRUCell",
        "BasicLSTMCell",
        "BasicRNNCell",
        "RNNCell",
        "CudnnLSTM",
        "CudnnGRU",
        "LSTMBlockCell",
    )
    + _rows(("tensorflow.nn",), "dynamic_rnn", "bidirectional_dynamic_rnn", "static_rnn")
)

# Method names that apply one optimisation step; "step" counts only on an optimizer.
STEP_METHODS = frozenset({"step", "apply_gradients", "minimize"})
STEP_FUNCTIONS = frozenset({"optax.apply_updates"})
FIT_METHODS = frozenset({"fit", "train_on_batch"})  # a model trains itself (Keras)

# --- images -----------------------------------------------------------------------------------

# Decoders that return uint8 pixels (0-255); PIL images become arrays through np.array/np.asarray.
IMAGE_DECODERS = frozenset(
    [
        "cv2.imread",
        "cv2.imdecode",
        "PIL.Image.open",
        "imageio.imread",
        "imageio.v2.imread",
        "imageio.v3.imread",
        "skimage.io.imread",
        "keras.utils.load_img",
        "keras.preprocessing.image.load_img",
        "torchvision.io.read_image",
        "torchvision.io.decode_image",
        "torchvision.io.decode_jpeg",
        "torchvision.io.decode_png",
        "torchvision.transforms.functional.pil_to_tensor",
    ]
    + _rows(
        ("tensorflow.io", "tensorflow.image"),
        "decode_jpeg",
        "decode_png",
        "decode_image",
        "decode_bmp",
        "decode_gif",
        "decode_and_crop_jpeg",
    )
)

# Operations that keep pixel values as they are (only move, crop, resize or re-wrap them).
PIXEL_LAYOUT_FUNCTIONS = frozenset(
    _rows(
        NUMPY_LIKE,
        "array",
        "asarray",
        "ascontiguousarray",
        "transpose",
        "expand_dims",
        "stack",
        "concatenate",
        "moveaxis",
        "flip",
        "fliplr",
        "rot90",
        "squeeze",
        "reshape",
        "copy",
    )
    + _rows(("torch",), "from_numpy", "as_tensor", "tensor", "stack", "cat", "unsqueeze", "permute", "flip")
    + _rows(("tensorflow",), "expand_dims", "stack", "concat", "reshape", "transpose", "convert_to_tensor", "constant")
    + _rows(
        ("tensorflow.image",),
        "flip_left_right",
        "flip_up_down",
        "central_crop",
        "resize_with_crop_or_pad",
        "random_flip_left_right",
        "random_crop",
        "rot90",
    )
    + _rows(("cv2",), "resize", "cvtColor", "flip", "copyMakeBorder", "warpAffine", "rotate")
    + _rows(("torchvision.transforms.functional",), "resize", "center_crop", "crop", "hflip", "vflip")
    + ["keras.utils.img_to_array"] * 0
)
PIXEL_LAYOUT_METHODS = frozenset(
    {
        "transpose",
        "permute",
        "reshape",
        "view",
        "unsqueeze",
        "squeeze",
        "resize",
        "convert",
        "crop",
        "rotate",
        "copy",
        "contiguous",
        "cuda",
        "cpu",
        "numpy",
        "flip",
        "to",
        "astype",
        "type",
        "clone",
        "detach",
    }
)
# Conversions to float that keep the 0-255 scale.
FLOAT_CONVERSION_METHODS = frozenset({"float", "double", "half"})
FLOAT_CONVERTING_FUNCTIONS = frozenset(
    [
        "keras.utils.img_to_array",
        "keras.preprocessing.image.img_to_array",
        "tensorflow.image.resize",
        "tensorflow.image.resize_images",
    ]
)
# Normalisers: their presence anywhere in the module means inputs are scaled somewhere.
IMAGE_NORMALIZERS = frozenset(
    _rows(
        ("torchvision.transforms", "torchvision.transforms.v2"), "Normalize", "ToTensor", "ToDtype", "ConvertImageDtype"
    )
    + _rows(
        ("torchvision.transforms.functional", "torchvision.transforms.v2.functional"),
        "to_tensor",
        "normalize",
        "convert_image_dtype",
        "to_dtype",
    )
    + _rows(("tensorflow.image",), "convert_image_dtype", "per_image_standardization")
    + _rows(("keras.layers", "keras.layers.experimental.preprocessing"), "Rescaling", "Normalization")
    + [
        "albumentations.Normalize",
        "cv2.normalize",
        "cv2.dnn.blobFromImage",
        "timm.data.create_transform",
        "sklearn.preprocessing.StandardScaler",
        "sklearn.preprocessing.MinMaxScaler",
    ]
)
NORMALIZER_SUFFIXES = ("preprocess_input", "ImageProcessor", "FeatureExtractor", "Processor", "image_processor")

# Calls that build or load a whole model (its call is a forward pass).
MODEL_FACTORIES = (
    "torchvision.models.",
    "keras.applications.",
    "timm.create_model",
    "torch.hub.load",
    "keras.models.load_model",
    "keras.saving.load_model",
    "torch.load",
    "torch.jit.load",
    "tensorflow.saved_model.load",
    "keras.Sequential",
    "keras.Model",
    "keras.models.Sequential",
    "keras.models.Model",
    "torch.nn.Sequential",
    "onnxruntime.InferenceSession",
    "transformers.AutoModel",
)
MODEL_METHODS = frozenset(
    {"predict", "predict_on_batch", "fit", "train_on_batch", "evaluate", "test_on_batch", "forward"}
)
MODEL_NAME_PARTS = ("model", "net", "backbone", "classifier", "detector", "encoder")
# Base classes of a framework's models and layers: a subclass is a model.
MODEL_BASES = frozenset(
    {
        "torch.nn.Module",
        "keras.Model",
        "keras.models.Model",
        "keras.layers.Layer",
        "tensorflow.Module",
        "flax.linen.Module",
        "flax.nnx.Module",
        "haiku.Module",
        "equinox.Module",
        "lightning.LightningModule",
        "lightning.pytorch.LightningModule",
        "pytorch_lightning.LightningModule",
    }
)

# --- initialisation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Argument:
    position: int | None
    keyword: str | None
    default: float | None


@dataclass(frozen=True)
class Sampler:
    """A random initialiser: normal(loc, scale) or uniform(loc=a, scale=b)."""

    kind: str  # "normal" | "uniform"
    loc: Argument
    scale: Argument
    target: int | None = None  # position of the tensor it fills (in-place initialisers)
    shape: tuple[int, str] | None = None  # (position, keyword) of the shape of the tensor it draws
    varargs_shape: bool = False  # `randn(a, b)`: the shape is the positional arguments


def _normal(loc: tuple, scale: tuple, **kw) -> Sampler:
    return Sampler("normal", Argument(*loc), Argument(*scale), **kw)


def _uniform(low: tuple, high: tuple, **kw) -> Sampler:
    return Sampler("uniform", Argument(*low), Argument(*high), **kw)


FIXED_ZERO = (None, None, 0.0)
# In-place initialisers and initialiser objects.
INITIALIZERS: dict[str, Sampler] = {
    "torch.nn.init.normal_": _normal((1, "mean", 0.0), (2, "std", 1.0), target=0),
    "torch.nn.init.trunc_normal_": _normal((1, "mean", 0.0), (2, "std", 1.0), target=0),
    "torch.nn.init.uniform_": _uniform((1, "a", 0.0), (2, "b", 1.0), target=0),
    "tensorflow.random_normal_initializer": _normal((0, "mean", 0.0), (1, "stddev", 0.05)),
    "tensorflow.truncated_normal_initializer": _normal((0, "mean", 0.0), (1, "stddev", 0.05)),
    "tensorflow.random_uniform_initializer": _uniform((0, "minval", -0.05), (1, "maxval", 0.05)),
}
for _ns in ("keras.initializers",):
    for _name in ("RandomNormal", "TruncatedNormal", "random_normal", "truncated_normal"):
        INITIALIZERS[f"{_ns}.{_name}"] = _normal((0, "mean", 0.0), (1, "stddev", 0.05))
    for _name in ("RandomUniform", "random_uniform"):
        INITIALIZERS[f"{_ns}.{_name}"] = _uniform((0, "minval", -0.05), (1, "maxval", 0.05))
for _ns in JAX_INITIALIZERS:
    INITIALIZERS[f"{_ns}.normal"] = _normal(FIXED_ZERO, (0, "stddev", 0.01))
    INITIALIZERS[f"{_ns}.truncated_normal"] = _normal(FIXED_ZERO, (0, "stddev", 0.01))
    INITIALIZERS[f"{_ns}.uniform"] = _uniform(FIXED_ZERO, (0, "scale", 0.01))
# `w.normal_(0, s)`: the receiver is argument 0.
INITIALIZER_METHODS: dict[str, Sampler] = {
    "normal_": _normal((1, "mean", 0.0), (2, "std", 1.0), target=0),
    "uniform_": _uniform((1, None, 0.0), (2, None, 1.0), target=0),
}
# Samplers that draw a fresh tensor; they initialise weights when wrapped as parameters.
SAMPLERS: dict[str, Sampler] = {
    "torch.randn": _normal(FIXED_ZERO, (None, None, 1.0), varargs_shape=True),
    "torch.rand": _uniform(FIXED_ZERO, (None, None, 1.0), varargs_shape=True),
    "torch.normal": _normal((0, "mean", 0.0), (1, "std", 1.0), shape=(2, "size")),
    "jax.random.normal": _normal(FIXED_ZERO, (None, None, 1.0), shape=(1, "shape")),
    "jax.random.uniform": _uniform((2, "minval", 0.0), (3, "maxval", 1.0), shape=(1, "shape")),
}
for _name in (
    "tensorflow.random.normal",
    "tensorflow.random_normal",
    "tensorflow.random.truncated_normal",
    "tensorflow.truncated_normal",
):
    SAMPLERS[_name] = _normal((1, "mean", 0.0), (2, "stddev", 1.0), shape=(0, "shape"))
for _name in ("tensorflow.random.uniform", "tensorflow.random_uniform"):
    SAMPLERS[_name] = _uniform((1, "minval", 0.0), (2, "maxval", 1.0), shape=(0, "shape"))
for _ns in NUMPY_RANDOM:
    SAMPLERS[f"{_ns}.randn"] = _normal(FIXED_ZERO, (None, None, 1.0), varargs_shape=True)
    SAMPLERS[f"{_ns}.rand"] = _uniform(FIXED_ZERO, (None, None, 1.0), varargs_shape=True)
    SAMPLERS[f"{_ns}.normal"] = _normal((0, "loc", 0.0), (1, "scale", 1.0), shape=(2, "size"))
# Allocations that leave the memory as it was (JAX's `empty` returns zeros and is not one).
UNINITIALISED = frozenset(
    _rows(("torch",), "empty", "empty_like", "empty_strided")
    + _rows(("numpy", "cupy"), "empty", "empty_like")
    + ["tensorflow.raw_ops.Empty"]
)
# Legacy constructors that allocate when given sizes (`torch.Tensor(n, m)`) and copy when given data.
UNINITIALISED_IF_SIZES = frozenset(
    _rows(("torch", "torch.cuda"), "Tensor", "FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor")
)
UNINITIALISED_METHODS = frozenset({"new_empty", "new_empty_strided"})  # `x.new(n)` too, with sizes
# Conversions and moves that keep the memory's contents: `torch.from_numpy(np.empty(n))`, `.cuda()`.
TENSOR_CONVERSIONS = frozenset(
    ["torch.from_numpy", "torch.as_tensor", "tensorflow.convert_to_tensor", "tensorflow.constant"]
    + _rows(("numpy",), "asarray", "ascontiguousarray")
)
KEEPING_METHODS = frozenset({"float", "double", "half", "to", "cuda", "cpu", "contiguous", "astype", "requires_grad_"})
# Where initialisers live (their first argument is filled in place) and functions that copy into their first.
INITIALISER_NAMESPACES = ("torch.nn.init.",)
COPYING_FUNCTIONS = frozenset({"numpy.copyto"})
# Wrappers that make a tensor a trainable parameter.
PARAMETERS = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter", "tensorflow.Variable"})


@dataclass(frozen=True)
class Layer:
    """Where a layer's fan-in comes from: input features times the kernel's size."""

    inputs: tuple[int, str]
    kernel: tuple[int, str] | None = None
    dims: int = 0


LAYERS: dict[str, Layer] = {
    "torch.nn.Linear": Layer((0, "in_features")),
    "torch.nn.Bilinear": Layer((0, "in1_features")),
    "torch.nn.Conv1d": Layer((0, "in_channels"), (2, "kernel_size"), 1),
    "torch.nn.Conv2d": Layer((0, "in_channels"), (2, "kernel_size"), 2),
    "torch.nn.Conv3d": Layer((0, "in_channels"), (2, "kernel_size"), 3),
}
WEIGHT_ATTRIBUTES = frozenset({"weight", "data"})  # `layer.weight.data` is the layer's weight

# --- losses -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """What a loss expects as its prediction: "logits", "probabilities", "log_probabilities", or
    "from_logits" (probabilities unless from_logits=True)."""

    expects: str
    prediction: tuple[int, str]  # (position, keyword) of the prediction in a call
    saturating: str | None = None  # for probability losses without a logit shortcut: the stable alternative


def _losses(namespaces: tuple[str, ...], names: tuple[str, ...], loss: Loss) -> dict[str, Loss]:
    return {f"{ns}.{name}": loss for ns in namespaces for name in names}


_TORCH_BCE = Loss("probabilities", (0, "input"), saturating="binary_cross_entropy_with_logits")
LOSSES: dict[str, Loss] = {
    **_losses(
        ("torch.nn.functional",),
        ("cross_entropy", "binary_cross_entropy_with_logits", "multilabel_soft_margin_loss"),
        Loss("logits", (0, "input")),
    ),
    **_losses(
        ("torch.nn",),
        ("CrossEntropyLoss", "BCEWithLogitsLoss", "MultiLabelSoftMarginLoss"),
        Loss("logits", (0, "input")),
    ),
    **_losses(("torch.nn.functional",), ("nll_loss", "kl_div"), Loss("log_probabilities", (0, "input"))),
    **_losses(("torch.nn",), ("NLLLoss", "KLDivLoss"), Loss("log_probabilities", (0, "input"))),
    "torch.nn.functional.binary_cross_entropy": _TORCH_BCE,
    "torch.nn.BCELoss": _TORCH_BCE,
    **_losses(
        ("tensorflow.nn",),
        (
            "softmax_cross_entropy_with_logits",
            "softmax_cross_entropy_with_logits_v2",
            "sparse_softmax_cross_entropy_with_logits",
            "sigmoid_cross_entropy_with_logits",
            "weighted_cross_entropy_with_logits",
        ),
        Loss("logits", (1, "logits")),
    ),
    **_losses(
        ("tensorflow.losses",),
        ("softmax_cross_entropy", "sparse_softmax_cross_entropy", "sigmoid_cross_entropy"),
        Loss("logits", (1, "logits")),
    ),
    **_losses(
        ("keras.losses",),
        (
            "CategoricalCrossentropy",
            "SparseCategoricalCrossentropy",
            "BinaryCrossentropy",
            "BinaryFocalCrossentropy",
            "CategoricalFocalCrossentropy",
        ),
        Loss("from_logits", (1, "y_pred")),
    ),
    **_losses(
        ("keras.losses", "keras.metrics"),
        (
            "categorical_crossentropy",
            "sparse_categorical_crossentropy",
            "binary_crossentropy",
            "binary_focal_crossentropy",
            "categorical_focal_crossentropy",
        ),
        Loss("from_logits", (1, "y_pred")),
    ),
    **_losses(
        ("keras.backend",),
        ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"),
        Loss("from_logits", (1, "output")),
    ),
    **_losses(
        ("optax", "optax.losses"),
        (
            "softmax_cross_entropy",
            "softmax_cross_entropy_with_integer_labels",
            "safe_softmax_cross_entropy",
            "sigmoid_binary_cross_entropy",
            "sigmoid_focal_loss",
            "poly_loss_cross_entropy",
        ),
        Loss("logits", (0, "logits")),
    ),
    **_losses(("optax", "optax.losses"), ("kl_divergence",), Loss("log_probabilities", (0, "log_predictions"))),
}
# Loss names as strings (`model.compile(loss="sparse_categorical_crossentropy")`): from_logits=False.
LOSS_STRINGS = frozenset(
    {
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "binary_crossentropy",
        "binary_focal_crossentropy",
        "categorical_focal_crossentropy",
    }
)

# Layers whose output is an affine map of their input (logits, unless given an activation).
LINEAR_LAYERS = frozenset(
    [
        "torch.nn.Linear",
        "torch.nn.LazyLinear",
        "keras.layers.Dense",
        "flax.linen.Dense",
        "flax.nnx.Linear",
        "haiku.Linear",
    ]
)
# Containers whose output is their last layer's output.
SEQUENTIALS = frozenset(
    {
        "torch.nn.Sequential",
        "keras.Sequential",
        "keras.models.Sequential",
        "flax.linen.Sequential",
        "flax.nnx.Sequential",
    }
)
FUNCTIONAL_MODELS = frozenset({"keras.Model", "keras.models.Model"})  # Model(inputs, outputs)
ACTIVATION_LAYERS = frozenset({"keras.layers.Activation"})
# Activation names (keras `activation="softmax"`) and functions that make probabilities.
PROBABILITY_ACTIVATIONS = frozenset({"softmax", "sigmoid"})
