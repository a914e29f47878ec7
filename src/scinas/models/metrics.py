"""Metrics named in ``[X.compile] metrics``: a streaming R² and the name → metric resolution.

:class:`RSquared` is the coefficient of determination as a Keras 3 streaming metric.  It keeps,
per output, the weighted count, mean and sum of squared deviations (M2) of the targets, merged
batch by batch with Chan's parallel formula, plus the weighted residual sum of squares.  Those
states are float64 (float32 under a TPU strategy, where float64 is not available) and never
subtract large raw sums, so targets like ``1e4 + N(0, 1)`` keep full precision.  Under a
multi-replica ``tf.distribute`` strategy each batch's statistics are summed over the replicas
before the merge, so every replica holds the global state and the value is exact.

:func:`build_metric` turns what users write in TOML into a fresh metric instance::

    [E.compile]
    metrics = ["R_squared", "MeanSquaredError", "mae", { name = "r_squared", multioutput = "pooled" }]

Accepted names: ``r_squared`` (also ``R_squared``, ``rsquared``, ``r2``, any case), ``accuracy``
/ ``acc`` (binary, categorical or sparse categorical, chosen from the shapes as ``model.compile``
does), every metric class of ``keras.metrics`` (``MeanSquaredError`` or ``mean_squared_error``)
and Keras's short aliases (``mae``, ``mse``, ``mape``, ``msle``, ``bce``).  Metrics get canonical
names (``r_squared``, ``mean_absolute_error``, ...) whatever the spelling, so the run store
compares experiments; a non-default ``multioutput`` is appended (``r_squared_pooled``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from scinas.config.reader import suggest
from scinas.errors import ConfigError
from scinas.models.catalog import constructor_arguments, public_classes

__all__ = ["Multioutput", "RSquared", "build_metric", "known_metric_names"]

Multioutput = Literal["uniform_average", "pooled", "raw_values"]
_MULTIOUTPUT: tuple[str, ...] = get_args(Multioutput)
# A target whose M2 is below count·(_CONSTANT_ULPS·eps·|mean|)² is constant up to the rounding
# of its mean; a genuine spread that small is below what the inputs' precision can hold.
_CONSTANT_ULPS = 64.0


# -- streaming statistics -------------------------------------------------------------------------
def _sum_over_replicas(value: Any) -> Any:
    """Sum ``value`` over the replicas of the current strategy (identity with one replica)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def _merge(a: tuple[Any, Any, Any], b: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
    """Chan et al.'s merge of two (count, mean, M2) summaries; safe when a count is zero."""
    (count_a, mean_a, m2_a), (count_b, mean_b, m2_b) = a, b
    count = count_a + count_b
    delta = mean_b - mean_a
    mean = mean_a + delta * ops.divide_no_nan(count_b, count)
    m2 = m2_a + m2_b + delta * delta * ops.divide_no_nan(count_a * count_b, count)
    return count, mean, m2


def _scores(count: Any, mean: Any, m2: Any, rss: Any) -> Any:
    """R² = 1 − RSS/M2 elementwise, with scikit-learn's ``force_finite`` rule for constant targets.

    A constant target scores 1.0 if it is predicted perfectly and 0.0 otherwise; a target without
    any weight scores 0.0 (the value is undefined; 0.0 keeps callbacks away from NaN).
    """
    eps = float(np.finfo(keras.backend.standardize_dtype(m2.dtype)).eps)
    floor = count * ops.square(_CONSTANT_ULPS * eps * ops.abs(mean))
    constant = m2 <= floor
    perfect = rss <= floor
    one = ops.ones_like(m2)
    ratio = one - rss / ops.where(constant, one, m2)
    scores = ops.where(constant, ops.where(perfect, one, ops.zeros_like(m2)), ratio)
    return ops.where(count > 0, scores, ops.zeros_like(m2))


def _pooled(count: Any, mean: Any, m2: Any, rss: Any) -> tuple[Any, Any, Any, Any]:
    """The (count, mean, M2, RSS) of all outputs flattened together, from the per-output states."""
    total = ops.sum(count)
    grand = ops.divide_no_nan(ops.sum(count * mean), total)
    pooled_m2 = ops.sum(m2) + ops.sum(count * ops.square(mean - grand))
    return total, grand, pooled_m2, ops.sum(rss)


def _state_dtype() -> str:
    """float64 for the accumulators, except under a TPU strategy (TPUs have no float64)."""
    if isinstance(tf.distribute.get_strategy(), tf.distribute.TPUStrategy):
        return "float32"
    return "float64"


def _outputs_of(shape: tuple[int | None, ...]) -> int | None:
    """Number of outputs of a tensor whose axis 0 is the batch (``None`` if not static)."""
    if len(shape) <= 1:
        return 1
    sizes = [d for d in shape[1:] if d is not None]
    if len(sizes) < len(shape) - 1:
        return None
    return math.prod(sizes)


@keras.saving.register_keras_serializable(package="scinas")
class RSquared(keras.metrics.Metric):
    """Coefficient of determination R², streamed over batches (maximise it).

    ``multioutput``: ``"uniform_average"`` (default, scikit-learn's: the mean of the per-output
    R², outputs that never received weight left out), ``"pooled"`` (R² of all outputs flattened
    into one, equal to ``r2_score(y.ravel(), p.ravel())`` with the sample weights repeated per
    output) or ``"raw_values"`` (the vector of per-output R²).  Inputs of shape ``(batch,)``,
    ``(batch, n)`` or higher rank (everything after the batch axis flattened into outputs).
    ``sample_weight``: a scalar, per-sample weights ``(batch,)`` / ``(batch, 1)``, or per-element
    weights of the target's shape, which weight each output separately (an output's R² then uses
    its own weights; a zero weight masks a missing target).

    ``num_outputs=None`` builds the state on the first update (inside ``model.fit`` too); giving it
    builds the state at once, which also checks every batch against it.

    Example::

        model.compile(loss="mse", metrics=[RSquared()], weighted_metrics=[RSquared(name="wr2")])
    """

    def __init__(
        self,
        num_outputs: int | None = None,
        multioutput: Multioutput = "uniform_average",
        name: str = "r_squared",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        if multioutput not in _MULTIOUTPUT:
            raise ValueError(f"RSquared: multioutput must be one of {', '.join(_MULTIOUTPUT)}, "
                             f"got {multioutput!r}")
        if num_outputs is not None and (isinstance(num_outputs, bool) or not isinstance(num_outputs, int)
                                        or num_outputs < 1):
            raise ValueError(f"RSquared: num_outputs must be an integer >= 1 or None, got {num_outputs!r}")
        self.multioutput: Multioutput = multioutput
        self._num_outputs: int | None = None
        self._direction = "up"
        if num_outputs is not None:
            self._build_states(num_outputs)

    @property
    def num_outputs(self) -> int | None:
        """The number of outputs, ``None`` until the first update of a lazily built metric."""
        return self._num_outputs

    def _build_states(self, num_outputs: int) -> None:
        dtype = _state_dtype()

        def state(name: str) -> keras.Variable:
            # Every replica holds the same (globally summed) state, so read the first one.
            return self.add_variable(shape=(num_outputs,), initializer="zeros", dtype=dtype,
                                     aggregation="only_first_replica", name=name)

        self.count = state("count")
        self.mean = state("mean")
        self.m2 = state("m2")
        self.rss = state("rss")
        self._num_outputs = num_outputs

    def _as_matrix(self, value: Any, what: str) -> Any:
        """``value`` as a (batch, outputs) tensor in the state dtype."""
        tensor = ops.convert_to_tensor(value)
        if len(tensor.shape) == 0:
            raise ValueError(f"RSquared: {what} needs a batch axis, got a scalar")
        tensor = ops.cast(tensor, _state_dtype() if self._num_outputs is None else self.count.dtype)
        n = _outputs_of(tuple(tensor.shape))
        if n is None:
            n = self._num_outputs
        if n is None:
            raise ValueError(f"RSquared: cannot infer the number of outputs from {what} of shape "
                             f"{tuple(tensor.shape)}; pass num_outputs")
        return ops.reshape(tensor, (-1, n))

    def _weights(self, sample_weight: Any, y_true: Any) -> Any:
        """Weights broadcast to the (batch, outputs) shape of ``y_true``."""
        if sample_weight is None:
            return ops.ones_like(y_true)
        weight = ops.cast(ops.convert_to_tensor(sample_weight), y_true.dtype)
        if len(weight.shape) == 0:
            return weight * ops.ones_like(y_true)
        per_sample = _outputs_of(tuple(weight.shape))
        n = y_true.shape[-1]
        if per_sample is not None and per_sample not in (1, n):
            raise ValueError(f"RSquared: sample_weight of shape {tuple(weight.shape)} fits neither one "
                             f"weight per sample nor one per each of the {n} outputs")
        weight = ops.reshape(weight, (-1, per_sample if per_sample is not None else n))
        return weight * ops.ones_like(y_true)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Merge one batch into the running statistics."""
        y_true = self._as_matrix(y_true, "y_true")
        y_pred = self._as_matrix(y_pred, "y_pred")
        n_true, n_pred = y_true.shape[-1], y_pred.shape[-1]
        if n_true != n_pred:
            raise ValueError(f"RSquared: y_true has {n_true} outputs per sample but y_pred has {n_pred}")
        if self._num_outputs is None:
            self._build_states(int(n_true))
        elif n_true != self._num_outputs:
            raise ValueError(f"RSquared: built for {self._num_outputs} outputs, got {n_true}")
        weight = self._weights(sample_weight, y_true)

        n = int(n_true)
        sums = _sum_over_replicas(ops.concatenate([
            ops.sum(weight, axis=0),
            ops.sum(weight * y_true, axis=0),
            ops.sum(weight * ops.square(y_true - y_pred), axis=0),
        ]))
        batch_count, batch_sum, batch_rss = sums[:n], sums[n:2 * n], sums[2 * n:]
        batch_mean = ops.divide_no_nan(batch_sum, batch_count)
        # Two-pass M2 inside the batch: deviations from the batch mean, never raw squares.
        batch_m2 = _sum_over_replicas(ops.sum(weight * ops.square(y_true - batch_mean), axis=0))

        count, mean, m2 = _merge((self.count, self.mean, self.m2), (batch_count, batch_mean, batch_m2))
        self.count.assign(count)
        self.mean.assign(mean)
        self.m2.assign(m2)
        self.rss.assign(self.rss + batch_rss)

    def result(self) -> Any:
        """The R² (a scalar, or the per-output vector for ``raw_values``) in the metric's dtype."""
        if self._num_outputs is None:
            shape = (0,) if self.multioutput == "raw_values" else ()
            return ops.zeros(shape, dtype=self.dtype)
        states = (ops.convert_to_tensor(v) for v in (self.count, self.mean, self.m2, self.rss))
        count, mean, m2, rss = states
        if self.multioutput == "pooled":
            value = _scores(*_pooled(count, mean, m2, rss))
        else:
            value = _scores(count, mean, m2, rss)
            if self.multioutput == "uniform_average":
                seen = ops.cast(count > 0, value.dtype)
                value = ops.divide_no_nan(ops.sum(value * seen), ops.sum(seen))
        return ops.cast(value, self.dtype)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments; ``num_outputs`` is the inferred count once the state is built."""
        config: dict[str, Any] = super().get_config()
        config.update(num_outputs=self._num_outputs, multioutput=self.multioutput)
        return config


def _accuracy_for_shapes(y_true: Any, y_pred: Any) -> Any:
    """Binary, sparse categorical or categorical accuracy, chosen from the shapes like compile."""
    if len(y_pred.shape) < 2 or y_pred.shape[-1] == 1:
        return keras.metrics.binary_accuracy(y_true, y_pred)
    if len(y_true.shape) < len(y_pred.shape) or y_true.shape[-1] == 1:
        return keras.metrics.sparse_categorical_accuracy(y_true, y_pred)
    return keras.metrics.categorical_accuracy(y_true, y_pred)


# Registered so that a saved model's "accuracy" loads without custom_objects.
keras.saving.register_keras_serializable(package="scinas", name="accuracy_for_shapes")(_accuracy_for_shapes)


# -- name resolution ------------------------------------------------------------------------------
_R2_NAMES = frozenset({"rsquared", "r2"})
_ACCURACY_NAMES = frozenset({"accuracy", "acc"})
_KERAS_SHORT_ALIASES = ("mae", "mse", "mape", "msle", "bce")
_NOT_USER_FACING = frozenset({"Metric", "MeanMetricWrapper", "Reduce"})


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _keras_metric_classes() -> dict[str, type[keras.metrics.Metric]]:
    """Metric classes exported by ``keras.metrics``, by class name."""
    return public_classes(keras.metrics, keras.metrics.Metric, _NOT_USER_FACING)


def _keras_alias(name: str) -> type[keras.metrics.Metric] | None:
    """The class behind one of Keras's string identifiers (``"mae"``), or ``None``."""
    for candidate in dict.fromkeys((name, name.lower())):
        try:
            metric = keras.metrics.get(candidate)
        except (TypeError, ValueError):  # unknown, or a class that needs arguments
            continue
        if isinstance(metric, keras.metrics.Metric) and type(metric).__name__ not in _NOT_USER_FACING:
            return type(metric)
    return None


def known_metric_names() -> list[str]:
    """Every metric name :func:`build_metric` accepts in its canonical spellings, sorted."""
    names = {"r_squared", "R_squared", "r2", *_ACCURACY_NAMES}
    for class_name in _keras_metric_classes():
        names.update((class_name, _snake_case(class_name)))
    names.update(a for a in _KERAS_SHORT_ALIASES if _keras_alias(a) is not None)
    return sorted(names)


_MEAN_IOU_NAMES = frozenset({"meaniou", "miou"})
_PIXEL_ACCURACY_NAMES = frozenset({"pixelaccuracy"})


def _segmentation_metric(name: str, task: str | None) -> type[Any] | None:
    """MeanIoU or PixelAccuracy when ``name`` asks for one of them, else ``None``."""
    from scinas.models.segmentation import MeanIoU, PixelAccuracy

    normalised = _normalise(name)
    if task == "segmentation" and name.lower() in _ACCURACY_NAMES:
        return PixelAccuracy
    if normalised in _MEAN_IOU_NAMES:
        return MeanIoU
    if normalised in _PIXEL_ACCURACY_NAMES:
        return PixelAccuracy
    return None


def _resolve(name: str, file: str | None, path: str | None) -> type[keras.metrics.Metric] | None:
    """The class for ``name``; ``None`` means the shape-adaptive accuracy."""
    normalised = _normalise(name)
    if normalised in _R2_NAMES:
        return RSquared
    if name.lower() in _ACCURACY_NAMES:
        return None
    classes = _keras_metric_classes()
    if name in classes:
        return classes[name]
    for class_name, cls in classes.items():
        if _normalise(class_name) == normalised:
            return cls
    alias = _keras_alias(name)
    if alias is not None:
        return alias
    fix = suggest(name, known_metric_names())
    if not fix.startswith("did you mean"):
        fix = ('write "r_squared", "accuracy", a keras.metrics class name ("MeanSquaredError") or a '
               'Keras alias ("mae"); scinas.models.metrics.known_metric_names() lists them all')
    raise ConfigError("unknown metric", file=file, path=path, value=name, fix=fix)


def build_metric(
    spec: str | Mapping[str, object],
    *,
    n_outputs: int,
    file: str | None = None,
    path: str | None = None,
    task: str | None = None,
    n_classes: int | None = None,
    ignore_class: int | None = None,
) -> keras.metrics.Metric:
    """A fresh metric for ``spec``: a name, or a table ``{name = "...", <constructor arguments>}``.

    ``n_outputs`` is the number of targets per sample; R² is built eagerly for it (call this
    inside the training strategy's scope).  ``file``/``path`` locate the spec for error messages.
    Raises :class:`ConfigError` for an unknown name (with a "did you mean"), an argument the
    metric does not take (listing those it does) or arguments Keras rejects.

    With ``task = "segmentation"``, ``mean_iou`` (``miou``, ``MeanIoU``) and ``pixel_accuracy``
    (also ``accuracy``) are the streaming metrics of :mod:`scinas.models.segmentation` over
    ``n_classes``, leaving out ``ignore_class``; other tasks reject them.

    Example::

        build_metric({"name": "r_squared", "multioutput": "pooled"}, n_outputs=12)
    """
    if isinstance(spec, str):
        name, arguments = spec, {}
    elif isinstance(spec, Mapping):
        name_value = spec.get("name")
        if not isinstance(name_value, str):
            raise ConfigError("a metric table needs a string `name`", file=file, path=path, value=dict(spec),
                              fix='write { name = "r_squared", ... }')
        name, arguments = name_value, {str(k): v for k, v in spec.items() if k != "name"}
    else:
        raise ConfigError("expected a metric name or a table { name = ..., <arguments> }", file=file,
                          path=path, value=spec, fix='write "r_squared" or { name = "r_squared", ... }')

    segmentation = _segmentation_metric(name, task)
    if segmentation is not None and task is not None:  # without a task (no dataset known) Keras' classes apply
        if task != "segmentation" or n_classes is None:
            raise ConfigError(f"{segmentation.__name__} measures segmentation masks, and this dataset is not a "
                              "segmentation dataset", file=file, path=path, value=name,
                              fix='use "accuracy" for classification, "r_squared" for regression')
        if arguments:
            where = f"{path}.{next(iter(arguments))}" if path else next(iter(arguments))
            raise ConfigError(f"metric {segmentation.__name__} takes no arguments (the classes and ignore_class come "
                              "from the dataset)", file=file, path=where, fix="write the name alone")
        metric: keras.metrics.Metric = segmentation(n_classes, ignore_class)
        if name.lower() in _ACCURACY_NAMES:  # logged under the name written (val_accuracy)
            metric = segmentation(n_classes, ignore_class, name="accuracy")
        return metric
    cls = _resolve(name, file, path)
    allowed = ["dtype"] if cls is None else [a for a in constructor_arguments(cls) if a != "name"]
    for argument, value in arguments.items():
        if argument not in allowed:
            shown = cls.__name__ if cls is not None else "accuracy"
            where = f"{path}.{argument}" if path else argument
            fix = suggest(argument, allowed) if allowed else "it takes no arguments"
            if allowed and not fix.startswith("known"):
                fix += " (valid: " + ", ".join(sorted(allowed)) + ")"
            raise ConfigError(f"metric {shown} has no argument {argument!r}", file=file, path=where,
                              value=value, fix=fix)

    if cls is None:
        return keras.metrics.MeanMetricWrapper(_accuracy_for_shapes, name="accuracy", **arguments)
    if cls is RSquared:
        given = arguments.setdefault("num_outputs", n_outputs)
        if given != n_outputs:
            where = f"{path}.num_outputs" if path else "num_outputs"
            raise ConfigError(f"the dataset has {n_outputs} targets per sample", file=file, path=where,
                              value=given, fix="remove num_outputs; it is taken from the dataset")
        multioutput = arguments.get("multioutput", "uniform_average")
        if multioutput != "uniform_average":
            arguments["name"] = f"r_squared_{multioutput}"
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Keras rejected the arguments of metric {cls.__name__}: {exc}", file=file,
                          path=path, value=dict(spec) if isinstance(spec, Mapping) else spec,
                          fix=f"{cls.__name__} takes: {', '.join(allowed) or 'no arguments'}") from None
