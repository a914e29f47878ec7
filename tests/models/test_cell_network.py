"""The cell-network generator: structure, shapes, exact parameter counts, precision, saving."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest

from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.models.base import MODEL_GENERATORS, LayerStackGenerator
from scinas.models.cell_network import CellNetworkGenerator
from scinas.models.lookup import generator_for
from scinas.search_space.architecture import CellArchitecture, LayerStackArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.layer_spec import LayerSpec
from scinas.search_space.macro import MacroConfig
from scinas.search_space.operators import Variant
from scinas.testing.models import check_model_generator, precision_policy

SIZES = {"train": 8, "validation": 2, "test": 2}
IMAGES = DatasetInfo("images", "classification", (9, 11, 3), (), SIZES, n_classes=5)
IMAGE_TARGETS = DatasetInfo("image_targets", "regression", (9, 11, 3), (4,), SIZES)
IMAGE_SCALAR = DatasetInfo("image_scalar", "regression", (9, 11, 3), (), SIZES)
SERIES = DatasetInfo("series", "classification", (13, 2), (), SIZES, n_classes=3)
SERIES_TARGETS = DatasetInfo("series_targets", "regression", (13, 2), (2, 3), SIZES)
TINY = MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1)
GENERATOR = CellNetworkGenerator()

# the same cells written for images (2D) and series (1D)
CELLS_2D = {
    "single": "[(-1, 3x3 conv, -1, 2x2 maxpool)]",
    "two_lookbacks": "[(-1, 3x3 conv, -2, identity)]",
    "only_minus_two": "[(-2, 3x3 dconv, -2, 2x2 avgpool)]",
    "chain": "[(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]",
    "three_blocks": "[(-1, identity, -2, 3x3 conv); (-1, 2x2 maxpool, -2, 3x3 dconv); (0, 3x3 conv, -1, identity)]",
    # dilated, stacked, transposed, zoomed and squeeze-excitation operators
    "exotic": "[(-1, 3x3:2dr conv, -2, 1x3-3x1 conv); (0, 3x3 tconv, -1, 3x3:2z zconv); (1, 2r SE, -2, 3x3 dconv)]",
}
CELLS_1D = {key: text.replace("3x3", "3").replace("2x2", "2") for key, text in CELLS_2D.items()}
# series have no stacked convolutions, but recurrent operators
CELLS_1D["exotic"] = "[(-1, 3:2dr conv, -2, 3 tconv); (0, 3:2z zconv, -1, 2r SE); (1, lstm, -2, gru)]"


def _arch(cell: str, macro: MacroConfig = TINY) -> CellArchitecture:
    return CellArchitecture(Cell.from_text(cell), macro)


@pytest.fixture(autouse=True)
def _fresh_session() -> Iterator[None]:
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


@pytest.fixture
def mixed_precision() -> Iterator[None]:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _inputs(info: DatasetInfo, batch: int = 2) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((batch, *info.input_shape)).astype("float32")


@pytest.mark.parametrize(("info", "cells", "expected"), [
    (IMAGES, CELLS_2D, (5,)),
    (IMAGE_TARGETS, CELLS_2D, (4,)),
    (IMAGE_SCALAR, CELLS_2D, (1,)),
    (SERIES, CELLS_1D, (3,)),
    (SERIES_TARGETS, CELLS_1D, (2, 3)),
], ids=["images-classes", "images-targets", "images-scalar", "series-classes", "series-targets"])
def test_output_shapes_per_task_and_rank(info: DatasetInfo, cells: dict[str, str], expected: tuple[int, ...]) -> None:
    model = GENERATOR.build(_arch(cells["chain"]), info, name="net")
    assert model.name == "net" and model.input_shape == (None, *info.input_shape)
    assert model.output_names == ["output"]
    outputs = np.asarray(model(_inputs(info), training=False))
    assert outputs.shape == (2, *expected) and outputs.dtype == np.float32
    if info.task == "classification":
        np.testing.assert_allclose(outputs.sum(axis=-1), 1.0, rtol=1e-5)
        assert model.get_layer("output").get_config()["activation"] == "softmax"
    else:
        dense = model.get_layer("output" if len(expected) == 1 else "head_dense")
        assert dense.get_config()["activation"] == "linear"


def test_shapes_and_filters_through_the_network() -> None:
    model = GENERATOR.build(_arch(CELLS_2D["three_blocks"]), IMAGES)
    # cell 0 normal (9x11, 4 filters), cell 1 reduction (ceil: 5x6, 8 filters), cell 2 normal;
    # blocks 1 and 2 are unused, so they are concatenated and projected
    assert model.get_layer("c0_b2_join").output.shape == (None, 9, 11, 4)
    assert model.get_layer("c1_b0_left").output.shape == (None, 5, 6, 8)
    assert model.get_layer("c1_concat").output.shape == (None, 5, 6, 16)
    assert model.get_layer("c2_concat_bn").output.shape == (None, 5, 6, 8)
    series = GENERATOR.build(_arch(CELLS_1D["three_blocks"]), SERIES)
    assert series.get_layer("c2_concat_bn").output.shape == (None, 7, 8)


def test_strides_and_variants_follow_the_lookbacks() -> None:
    # M=3, N=0: two reduction cells (8 and 16 filters); cell 1 reads -2 = the model input, two halvings away
    plan = GENERATOR.plan(_arch("[(-2, 3x3 conv, -1, 2x2 maxpool)]", MacroConfig(filters=4, motifs=3,
                                                                                 normal_cells_per_motif=0)), IMAGES)
    cell = plan.cells[1]
    assert (cell.kind, cell.level, cell.filters) == ("reduction", 2, 16)
    requests = {op.source: op.request for op in (cell.blocks[0].left, cell.blocks[0].right)}
    assert (requests[-2].strides, requests[-2].in_channels, requests[-2].filters) == (4, 3, 16)
    assert requests[-2].variant == Variant.REDUCTION
    assert (requests[-1].strides, requests[-1].in_channels) == (2, 8)
    first = plan.cells[0].blocks[0].right.request
    assert (first.strides, first.in_channels, first.filters) == (2, 3, 8)
    # a normal cell reading the input adapts its depth
    normal = GENERATOR.plan(_arch("[(-1, 3x3 conv, -1, identity)]"), IMAGES).cells[0].blocks[0].left.request
    assert (normal.variant, normal.in_channels, normal.filters) == (Variant.ADAPTATION, 3, 4)


@pytest.mark.parametrize("momentum", [None, 0.99])
def test_every_batch_normalisation_takes_the_macro_momentum(momentum: float | None) -> None:
    # operators' own BNs, lookback reshapes, concat and residual projections alike
    options = {} if momentum is None else {"batch_norm_momentum": momentum}
    macro = MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1, lookback_reshape=True, residual_cells=True,
                        **options)
    model = GENERATOR.build(_arch(CELLS_2D["exotic"], macro), IMAGES)
    layers = list(model._flatten_layers(include_self=False, recursive=True))
    norms = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    kinds = {layer.name.rsplit("_", 1)[-1] if layer.name.startswith("c") else "op" for layer in norms}
    assert len(norms) > 10 and {"bn", "op"} <= kinds
    assert {layer.momentum for layer in norms} == {momentum or 0.9}
    clone = keras.Model.from_config(model.get_config())
    assert {layer.momentum for layer in clone._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.BatchNormalization)} == {momentum or 0.9}


def test_lookback_reshape_projects_then_uses_normal_variants() -> None:
    macro = MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1, lookback_reshape=True)
    arch = _arch(CELLS_2D["two_lookbacks"], macro)
    plan = GENERATOR.plan(arch, IMAGES)
    for cell in plan.cells:
        for block in cell.blocks:
            assert block.left.request.variant == block.right.request.variant == Variant.NORMAL
    assert sorted(plan.cells[0].reshapes) == [-2, -1]            # both read the 3-channel input
    assert sorted(plan.cells[1].reshapes) == [-2, -1]            # reduction: both need strides
    assert sorted(plan.cells[2].reshapes) == [-2]                # -1 already has the cell's shape
    assert plan.cells[1].reshapes[-2].strides == 2
    model = GENERATOR.build(arch, IMAGES)
    assert model.get_layer("c1_lb2_reshape_conv").output.shape == (None, 5, 6, 8)
    assert model.count_params() == plan.count_params()


def test_empty_cell_is_input_gap_head() -> None:
    model = GENERATOR.build(_arch("[]"), IMAGES)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "GlobalAveragePooling2D", "Dense"]
    assert model.count_params() == (3 + 1) * 5 == GENERATOR.count_params(_arch("[]"), IMAGES)
    series = GENERATOR.build(_arch("[]", MacroConfig(dropout=0.5)), SERIES_TARGETS)
    assert [type(layer).__name__ for layer in series.layers] == [
        "InputLayer", "GlobalAveragePooling1D", "Dropout", "Dense", "Reshape"]
    assert series.output_shape == (None, 2, 3)


def test_only_reachable_cells_are_built() -> None:
    model = GENERATOR.build(_arch(CELLS_2D["only_minus_two"]), IMAGES)
    built = {layer.name.split("_")[0] for layer in model.layers if layer.name.startswith("c")}
    assert built == {"c0", "c2"}
    # cell 2 is at the level of the skipped reduction cell: it reduces cell 0 itself
    assert model.get_layer("c2_b0_left").output.shape == (None, 5, 6, 8)


def test_multi_output_heads_and_loss_weights() -> None:
    macro = MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1, multi_output=True)
    arch = _arch(CELLS_2D["only_minus_two"], macro)
    model = GENERATOR.build(arch, IMAGES)
    assert model.output_names == ["cell_0_output", "output"]
    assert GENERATOR.loss_weights(arch) == {"cell_0_output": 0.25, "output": 1.0}
    outputs = model(_inputs(IMAGES), training=False)
    assert [tuple(o.shape) for o in outputs] == [(2, 5), (2, 5)]
    full = _arch(CELLS_2D["single"], macro)
    assert GENERATOR.loss_weights(full) == {"cell_0_output": 0.25, "cell_1_output": 0.5, "output": 1.0}
    assert GENERATOR.build(full, IMAGES).output_names == list(GENERATOR.loss_weights(full))
    assert GENERATOR.loss_weights(_arch(CELLS_2D["single"])) == {"output": 1.0}


def test_multi_output_trains_as_the_trainer_feeds_it() -> None:
    # the trainer compiles losses, weights and metrics keyed by output name and repeats y per head
    arch = _arch(CELLS_1D["chain"], MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1, multi_output=True))
    model = GENERATOR.build(arch, SERIES_TARGETS)
    names = list(model.output_names)
    assert names == ["cell_0_output", "cell_1_output", "output"]
    model.compile(optimizer="sgd", loss=dict.fromkeys(names, "mse"), loss_weights=GENERATOR.loss_weights(arch),
                  metrics={"output": ["mae"]})
    x = _inputs(SERIES_TARGETS, batch=4)
    y = np.random.default_rng(2).standard_normal((4, 2, 3)).astype("float32")
    history = model.fit(x, dict.fromkeys(names, y), batch_size=2, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    assert "output_mae" in history and not any(key.startswith("cell_") and key.endswith("mae") for key in history)


MACROS = {
    "plain": TINY,
    "avg": MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1, block_join="avg"),
    "reshape": MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1, lookback_reshape=True),
    "residual": MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1, residual_cells=True),
    "se": MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1, se_cell_output=True, se_ratio=2),
    "multi": MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1, multi_output=True, dropout=0.1),
    "concat_all": MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1, concat_only_unused_blocks=False),
    "everything": MacroConfig(filters=6, motifs=3, normal_cells_per_motif=0, block_join="avg", lookback_reshape=True,
                              residual_cells=True, se_cell_output=True, concat_only_unused_blocks=False,
                              multi_output=True, activation="swish"),
    "deep": MacroConfig(filters=3, motifs=3, normal_cells_per_motif=1, residual_cells=True),
}
FAST_PAIRS = [("single", "plain"), ("chain", "avg"), ("two_lookbacks", "reshape"), ("only_minus_two", "residual"),
              ("three_blocks", "se"), ("chain", "multi"), ("three_blocks", "concat_all"),
              ("two_lookbacks", "everything"), ("only_minus_two", "deep"), ("three_blocks", "residual"),
              ("chain", "reshape"), ("exotic", "plain"), ("exotic", "everything")]


@pytest.mark.parametrize(("cell", "macro"), FAST_PAIRS)
def test_parameter_formula_is_exact(cell: str, macro: str) -> None:
    for info, cells in ((IMAGES, CELLS_2D), (SERIES_TARGETS, CELLS_1D)):
        keras.backend.clear_session()
        arch = _arch(cells[cell], MACROS[macro])
        assert GENERATOR.count_params(arch, info) == GENERATOR.build(arch, info).count_params()


def test_recurrent_operators_on_series() -> None:
    arch = _arch("[(-1, lstm, -2, gru); (0, 3 conv, -2, lstm)]", MACROS["reshape"])
    model = GENERATOR.build(arch, SERIES)
    assert model.get_layer("c1_b0_left").output.shape == (None, 7, 8)
    assert GENERATOR.count_params(arch, SERIES) == model.count_params()
    assert GENERATOR.count_params(_arch("[(-1, lstm, -2, gru)]"), SERIES) == \
        GENERATOR.build(_arch("[(-1, lstm, -2, gru)]"), SERIES).count_params()


@pytest.mark.slow
@pytest.mark.parametrize("macro", sorted(MACROS))
@pytest.mark.parametrize("cell", sorted(CELLS_2D))
def test_parameter_formula_is_exact_everywhere(cell: str, macro: str) -> None:
    for info, cells in ((IMAGES, CELLS_2D), (IMAGE_TARGETS, CELLS_2D), (SERIES, CELLS_1D)):
        keras.backend.clear_session()
        arch = _arch(cells[cell], MACROS[macro])
        assert GENERATOR.count_params(arch, info) == GENERATOR.build(arch, info).count_params()


@pytest.mark.usefixtures("mixed_precision")
def test_mixed_precision_keeps_float32_outputs() -> None:
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    for info, cells in ((IMAGES, CELLS_2D), (SERIES_TARGETS, CELLS_1D)):
        model = GENERATOR.build(_arch(cells["chain"], MACROS["multi"]), info)
        assert model.get_layer("c0_b0_join").output.dtype == "float16"
        outputs = model(_inputs(info), training=False)
        assert all(keras.backend.standardize_dtype(o.dtype) == "float32" for o in outputs)


def test_precision_policy_is_restored() -> None:
    with pytest.raises(RuntimeError), precision_policy("mixed_float16"):
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
        raise RuntimeError
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize(("info", "cell", "macro"), [
    (IMAGES, CELLS_2D["three_blocks"], "everything"),
    (SERIES_TARGETS, CELLS_1D["exotic"], "plain"),
], ids=["images-everything", "series-exotic"])
def test_save_and_reload_give_identical_outputs(tmp_path: Path, info: DatasetInfo, cell: str, macro: str) -> None:
    model = GENERATOR.build(_arch(cell, MACROS[macro]), info)
    x = _inputs(info)
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras", compile=False)
    assert restored.output_names == model.output_names and restored.output_names[-1] == "output"
    assert restored.count_params() == model.count_params()
    before, after = model(x, training=False), restored(x, training=False)
    for a, b in zip(*(o if isinstance(o, list) else [o] for o in (before, after)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_conformance_helper_passes_on_images() -> None:
    check_model_generator(GENERATOR, [_arch(CELLS_2D["single"], MACROS["multi"])], [IMAGES])


def test_conformance_helper_passes_on_series() -> None:
    check_model_generator(GENERATOR, [_arch("[]"), _arch(CELLS_1D["two_lookbacks"], MACROS["residual"])],
                          [SERIES_TARGETS])


@pytest.mark.slow
def test_conformance_helper_passes_everywhere() -> None:
    check_model_generator(GENERATOR, [_arch(CELLS_2D[key], MACROS[macro]) for key, macro in FAST_PAIRS[:4]],
                          [IMAGES, IMAGE_TARGETS])
    check_model_generator(GENERATOR, [_arch(CELLS_1D[key], MACROS[macro]) for key, macro in FAST_PAIRS[4:8]],
                          [SERIES, SERIES_TARGETS])
    check_model_generator(GENERATOR, [_arch(CELLS_1D["exotic"], MACROS["multi"])], [SERIES_TARGETS])
    check_model_generator(GENERATOR, [_arch(CELLS_2D["exotic"], MACROS["everything"])], [IMAGES])


def test_conformance_helper_catches_a_wrong_count() -> None:
    class Miscounting(CellNetworkGenerator):
        def count_params(self, architecture: object, info: DatasetInfo) -> int:  # type: ignore[override]
            return 1

    with pytest.raises(AssertionError, match="count_params"):
        check_model_generator(Miscounting(), [_arch("[]")], [IMAGES], mixed_precision=False)


def test_conformance_helper_catches_misnamed_loss_weights() -> None:
    class Misnaming(CellNetworkGenerator):
        def loss_weights(self, architecture: object) -> dict[str, float]:  # type: ignore[override]
            return {"head": 1.0}

    with pytest.raises(AssertionError, match="loss_weights"):
        check_model_generator(Misnaming(), [_arch("[]")], [IMAGES], mixed_precision=False)


def test_generator_registry_and_lookup() -> None:
    assert {"cell_network", "layer_stack"} <= set(MODEL_GENERATORS.names())
    assert isinstance(generator_for(_arch(CELLS_2D["single"])), CellNetworkGenerator)
    stack = LayerStackArchitecture((LayerSpec("Flatten", {}, "c.toml", "E.structure.layers[0]"),
                                    LayerSpec("Dense", {"units": 4}, "c.toml", "E.structure.layers[1]")))
    generator = generator_for(stack)
    assert isinstance(generator, LayerStackGenerator) and generator.count_params(stack, IMAGE_TARGETS) is None
    assert generator.build(stack, IMAGE_TARGETS, name="s").count_params() == 9 * 11 * 3 * 4 + 4
    with pytest.raises(ConfigError, match="builds CellArchitecture"):
        GENERATOR.build(stack, IMAGES)


def test_layer_stack_generator_conforms_with_float32_outputs() -> None:
    stack = LayerStackArchitecture((LayerSpec("Flatten", {}, "c.toml", "E.structure.layers[0]"),
                                    LayerSpec("Dense", {"units": 4}, "c.toml", "E.structure.layers[1]")))
    check_model_generator(LayerStackGenerator(), [stack], [IMAGE_TARGETS])
    with precision_policy("mixed_float16"):
        model = LayerStackGenerator().build(stack, IMAGE_TARGETS)
    assert model.layers[-1].name == "float32_output" and model.count_params() == 9 * 11 * 3 * 4 + 4
    assert keras.mixed_precision.global_policy().name == "float32"
    assert LayerStackGenerator().build(stack, IMAGE_TARGETS).layers[-1].name != "float32_output"


def test_unsupported_inputs_are_config_errors() -> None:
    volume = DatasetInfo("volume", "regression", (4, 4, 4, 1), (1,), SIZES)
    with pytest.raises(ConfigError, match=r"series .* or images"):
        GENERATOR.build(_arch(CELLS_2D["single"]), volume)
    no_classes = DatasetInfo("nc", "classification", (9, 11, 3), (), SIZES)
    with pytest.raises(ConfigError, match="number of classes"):
        GENERATOR.build(_arch(CELLS_2D["single"]), no_classes)
    with pytest.raises(ConfigError, match="lstm"):
        GENERATOR.build(_arch("[(-1, lstm, -1, identity)]"), IMAGES)
